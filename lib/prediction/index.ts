export * from './types';
export { RuleBasedActivityPredictor, RULE_BASED_MODEL_VERSION, recencyOnlyProbability, isOpenEnrollment } from './rule-based';
