export * from './types';
export { RuleBasedActivityPredictor, RULE_BASED_MODEL_VERSION, recencyOnlyProbability, isOpenEnrollment } from './rule-based';
export { isHighConfidencePrediction, PREDICTED_ACTIVE_PROBABILITY, PREDICTION_HORIZON_MS } from './high-confidence';
