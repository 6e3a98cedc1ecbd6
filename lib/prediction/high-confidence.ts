import { HIGH_CONFIDENCE, type ActivityPredictionResult } from './types';

/** A prediction covers [now, now + 24 h) (see PredictionInput.now). */
export const PREDICTION_HORIZON_MS = 24 * 3_600_000;

/** P at or above which a prediction says "this member will use the app within the horizon". */
export const PREDICTED_ACTIVE_PROBABILITY = 0.5;

/**
 * The high-confidence group, as the design doc means it: the members the platform warms in real time
 * 2-4 h ahead, i.e. predictions we are confident say "more than 0.8 likely to use the app in the next
 * 24 h": the model trusts its number (confidence > HIGH_CONFIDENCE) and the number is above
 * HIGH_CONFIDENCE too (P > 0.8, so a calibrated model's group is at least 80 % precise). The offline
 * bench (bench/member-cron-prediction.ts) and the online accuracy metric (activities/prediction-accuracy/)
 * both score exactly this group, so their numbers are comparable.
 */
export function isHighConfidencePrediction(p: Pick<ActivityPredictionResult, 'confidence' | 'appUsageProbability'>): boolean {
  return p.confidence > HIGH_CONFIDENCE && p.appUsageProbability > HIGH_CONFIDENCE;
}
