/**
 * Activity prediction port. A prediction says how likely a member is to use the app in the next 24 h,
 * which RTE operations that use is likely to trigger, and how much the model trusts its own number.
 * v1 is rule-based (rule-based.ts); a trained model replaces it by implementing the same interface.
 */

/** A lifecycle event as the predictor sees it (short type name, e.g. "APP_SESSION_STARTED"). */
export interface LifecycleEvent {
  type: string;
  /** Epoch milliseconds. */
  at: number;
  /** FEATURE_USED events only. */
  feature?: string | null;
}

export interface PredictionInput {
  /** The instant the prediction is for (the schedule's scheduled time); the horizon is [now, now + 24 h). */
  now: number;
  /** IANA time zone of the member (hour-of-day / weekday patterns are local). */
  timeZone: string;
  /** Recent lifecycle events, any order, all before `now`. */
  events: readonly LifecycleEvent[];
  /** Next booked appointment (epoch ms) if known. */
  nextAppointmentAt?: number | null;
  /** Observation window the events cover, in days (default 90); shorter for new accounts is detected. */
  historyDays?: number;
}

export interface PredictionFactor {
  name: string;
  value: number | string;
  /** Human-readable effect on the prediction. */
  effect: string;
}

export interface ActivityPredictionResult {
  /** P(member uses the app in the next 24 h), 0..1. */
  appUsageProbability: number;
  /** RTE operations the member is likely to trigger, e.g. ["check_eligibility", "get_coverage"]. */
  predictedOperations: string[];
  /** How much the estimate can be trusted, 0..1 (evidence volume and regularity). */
  confidence: number;
  modelVersion: string;
  /** The factors behind the number (explainability; not put on the wire). */
  factors: PredictionFactor[];
  /** Member-local hour (0-23) with the most historical sessions, if any. */
  peakLocalHour: number | null;
  /**
   * When within the horizon [now, now + 24 h) the member is expected to use the app (epoch ms, same frame as
   * `now`), from observable data only: the member's busiest 3-hour band of session hours (member-local), or the
   * pre-visit day of a booked appointment when that visit is the likelier reason to open the app. Null when
   * there is no basis (no sessions, no appointment): the whole horizon is the window then.
   */
  predictedWindow: PredictedWindow | null;
}

export interface PredictedWindow {
  startMs: number;
  endMs: number;
}

export interface ActivityPredictor {
  readonly modelVersion: string;
  predict(input: PredictionInput): ActivityPredictionResult;
}

/** Design doc thresholds: > 0.8 high (real-time warm 2-4 h ahead), 0.5-0.8 medium (batch), < 0.5 low. */
export const HIGH_CONFIDENCE = 0.8;
export const MEDIUM_CONFIDENCE = 0.5;
