import type { BatchCounters, BatchStatusName } from './types';

/**
 * Progress accounting helpers. The workflow owns the counters; these functions only compute from them, so
 * tests can pin the arithmetic. Bundle-safe.
 */

export function pendingOf(c: BatchCounters): number {
  return Math.max(0, c.total - c.completed - c.failed - c.cancelled);
}

/** Percent of members with a final outcome (0–100, one decimal). A 0-member batch is 100 % done. */
export function percentDone(c: BatchCounters): number {
  if (c.total === 0) return 100;
  return Math.floor(((c.completed + c.failed + c.cancelled) / c.total) * 1000) / 10;
}

/**
 * PROGRESS events go out every `stepPercent` (design doc: every 5–10 %). Returns the milestone reached when
 * moving from `lastMilestone` to the current percentage, or null. 100 % is not a PROGRESS milestone (the
 * terminal event covers it).
 */
export function progressMilestone(lastMilestone: number, percent: number, stepPercent = 10): number | null {
  if (stepPercent <= 0 || stepPercent > 100) throw new RangeError('stepPercent must be in (0, 100]');
  const m = Math.floor(percent / stepPercent) * stepPercent;
  if (m <= lastMilestone || m >= 100 || m <= 0) return null;
  return m;
}

/** Linear estimate from the rate so far; undefined before anything finished. */
export function estimateCompletionMs(c: BatchCounters, startedAtMs: number, nowMs: number): number | undefined {
  const done = c.completed + c.failed + c.cancelled;
  const pending = pendingOf(c);
  if (pending === 0) return nowMs;
  if (done === 0 || nowMs <= startedAtMs) return undefined;
  const perMember = (nowMs - startedAtMs) / done;
  return Math.round(nowMs + perMember * pending);
}

export function averageDurationMs(c: BatchCounters): number | undefined {
  return c.durationCount > 0 ? Math.round(c.durationMsSum / c.durationCount) : undefined;
}

export type EndReason = 'finished' | 'cancelled' | 'timeout' | 'error';

/**
 * Final status from the counters and why processing stopped.
 * finished: COMPLETED when nothing failed, FAILED when nothing succeeded, else PARTIALLY_COMPLETED.
 * cancelled: CANCELLED. timeout / error: PARTIALLY_COMPLETED if some members completed, else FAILED.
 * An empty batch that finished is COMPLETED.
 */
export function terminalStatus(c: BatchCounters, reason: EndReason): BatchStatusName {
  switch (reason) {
    case 'cancelled':
      return 'CANCELLED';
    case 'timeout':
    case 'error':
      return c.completed > 0 ? 'PARTIALLY_COMPLETED' : 'FAILED';
    case 'finished':
      if (c.failed === 0 && c.cancelled === 0) return 'COMPLETED';
      if (c.completed === 0) return 'FAILED';
      return 'PARTIALLY_COMPLETED';
    default: {
      const never: never = reason;
      throw new RangeError(`unknown end reason ${String(never)}`);
    }
  }
}

/** Throws if the counters are inconsistent (a bug, never a user error). */
export function assertCountersConsistent(c: BatchCounters): void {
  const sum = c.completed + c.failed + c.cancelled;
  if (sum > c.total || [c.completed, c.failed, c.cancelled, c.total].some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`inconsistent batch counters: completed ${c.completed} + failed ${c.failed} + cancelled ${c.cancelled} > total ${c.total}`);
  }
}
