/**
 * Stedi batch polling backoff (design doc: "Polls for results with exponential backoff (2 min → 8 hours)").
 * The workflow sleeps `stediPollDelayMs(n)` on a durable timer before its n-th poll (n from 0). Bundle-safe.
 */
export interface PollBackoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
}

export const DEFAULT_POLL_BACKOFF: PollBackoff = Object.freeze({ initialMs: 2 * 60_000, maxMs: 8 * 3_600_000, multiplier: 2 });

export function stediPollDelayMs(attempt: number, backoff: PollBackoff = DEFAULT_POLL_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`invalid poll attempt ${attempt}`);
  // Cap the exponent so huge attempt numbers do not overflow to Infinity before the min().
  const exp = Math.min(attempt, 64);
  return Math.min(backoff.maxMs, Math.round(backoff.initialMs * Math.pow(backoff.multiplier, exp)));
}

/** The delay actually slept: never past the batch deadline (so a timeout is noticed on time). */
export function nextPollDelayMs(attempt: number, nowMs: number, deadlineMs: number, backoff: PollBackoff = DEFAULT_POLL_BACKOFF): number {
  return Math.max(0, Math.min(stediPollDelayMs(attempt, backoff), deadlineMs - nowMs));
}
