/**
 * Online prediction accuracy: member-cron records the high-confidence predictions it emitted, the API
 * observes interactive use, and the metric is used ÷ predicted over runs whose horizon has closed.
 * Member ids never reach this port: callers pass the keyed member hash (lib/member-hash.ts).
 */

/** One schedule tick's predictions share a run: the same horizon and one pair of counters. */
export interface PredictionRun {
  /** `<schedule>@<scheduled time ISO>`; unique per schedule tick, identical across retries and reruns. */
  runKey: string;
  /** Start of the horizon (epoch ms): the instant the predictions are for. */
  predictedAt: number;
  /** End of the horizon (epoch ms, exclusive). */
  horizonEnd: number;
}

export interface RecordedPrediction {
  memberHash: string;
  /** Predicted P(app use within the horizon). Stored for later calibration analysis. */
  probability: number;
}

export interface AccuracySnapshot {
  /** High-confidence predictions of the runs whose horizon closed within the lookback. */
  predicted: number;
  /** Of those, predictions followed by an interactive eligibility check inside their horizon. */
  used: number;
  /** Runs contributing. */
  runs: number;
}

export interface PredictionOutcomeStore {
  /**
   * Records predictions of one run; idempotent per (member, run): a second record of the same pair
   * neither overwrites nor counts again. Returns how many were new.
   */
  recordPredictions(run: PredictionRun, predictions: readonly RecordedPrediction[], now: number): Promise<number>;
  /**
   * Marks every open prediction of the member whose horizon contains `at` as used (each at most once).
   * Returns how many predictions were marked by this call.
   */
  observeUsage(memberHash: string, at: number): Promise<number>;
  /** Totals over runs whose horizon ended in [now - lookbackMs, now]. */
  accuracy(now: number, lookbackMs: number): Promise<AccuracySnapshot>;
}

/** What member-cron needs. */
export type PredictionRecorder = Pick<PredictionOutcomeStore, 'recordPredictions'>;
/** One interactive use, as the API saw it. */
export interface UsageObservation {
  memberHash: string;
  at: number;
}

/**
 * What the eligibility API needs. `observeUsageBatch` (optional): several observations in one store call, each
 * handled exactly as `observeUsage` would, in order; returns the marked count per observation. The API coalesces
 * the observations of reads made within a few milliseconds into one such call (issue 14).
 */
export type UsageObserverStore = Pick<PredictionOutcomeStore, 'observeUsage'> & {
  observeUsageBatch?(observations: readonly UsageObservation[]): Promise<number[]>;
};
