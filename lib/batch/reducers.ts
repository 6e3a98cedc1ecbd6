/**
 * The batch's bookkeeping as pure reducers: each takes the tally (counters and error totals) and one thing that
 * happened, and returns the next tally. The workflow (workflows/batch-run.ts) only decides WHEN something happened;
 * WHAT it does to the counts lives here, where a unit test can read it without Temporal. Bundle-safe: no Temporal,
 * no I/O, no clock (times are arguments), inputs never mutated.
 *
 * Invariant kept by every reducer: completed + failed + cancelled + pending === total (pendingOf never negative).
 */
import { pendingOf } from './progress';
import { emptyCounters, type BatchCounters, type BatchErrorRecord } from './types';

/** Newest errors a batch keeps in its state (the full list is in the batch error store). */
export const RECENT_ERRORS = 20;

/** Counters plus the error totals (structurally the matching fields of the workflow's carried state). */
export interface BatchTally {
  counters: BatchCounters;
  /** Every member failure, including those already stored by activities (cache answers, Stedi batch results). */
  totalErrors: number;
  /** The newest RECENT_ERRORS failures recorded by the workflow itself, oldest first. */
  recentErrors: BatchErrorRecord[];
}

export function emptyTally(total = 0): BatchTally {
  return { counters: emptyCounters(total), totalErrors: 0, recentErrors: [] };
}

function bump(t: BatchTally, delta: Partial<BatchCounters>, errors = 0): BatchTally {
  const counters = { ...t.counters };
  // `?? 0`: a counter added since the carried state was written (cacheRefreshed) starts from 0.
  for (const [k, v] of Object.entries(delta) as Array<[keyof BatchCounters, number]>) counters[k] = (counters[k] ?? 0) + v;
  return { ...t, counters, totalErrors: t.totalErrors + errors };
}

/** A query page resolved `count` more members into the batch's list. */
export function membersResolved(t: BatchTally, count: number): BatchTally {
  return bump(t, { total: count });
}

/** What the pre-flight cache lookup of one page decided (planMembers). */
export interface PlannedPage {
  /** Served from cache as success. */
  hits: number;
  /** Served from cache as a cached payer error (a failure, stored by the activity). */
  hitErrors: number;
  /** CACHE_ONLY members with nothing cached (a NOT_CACHED failure, stored by the activity). */
  notCached: number;
  /** Members that need a Stedi call. */
  refreshCount: number;
}

/**
 * Cache answers are final at planning time. Misses are not: cache_misses count members whose Stedi check was made
 * (checkAnswered, checkFailed, chunkSubmitted), so a batch cancelled after planning 300 refreshes and making 19 says
 * 19, not 300 (probe operator #4). A CACHE_ONLY member with nothing cached makes no call (a NOT_CACHED failure): it
 * is neither a miss nor "cache_refreshed" (issue 10). The errors of cache answers were stored by the activity; they
 * are counted here.
 */
export function pagePlanned(t: BatchTally, plan: PlannedPage): BatchTally {
  return bump(t, { completed: plan.hits, failed: plan.hitErrors + plan.notCached, cacheHits: plan.hits + plan.hitErrors }, plan.hitErrors + plan.notCached);
}

/** Appends one failure the workflow records itself (newest RECENT_ERRORS kept) and counts it. */
export function errorRecorded(t: BatchTally, e: BatchErrorRecord): BatchTally {
  const recentErrors = [...t.recentErrors, e];
  if (recentErrors.length > RECENT_ERRORS) recentErrors.splice(0, recentErrors.length - RECENT_ERRORS);
  return { ...t, recentErrors, totalErrors: t.totalErrors + 1 };
}

/** One real-time check answered (`ok` false: the payer answered with an error). */
export interface CheckAnswered {
  ok: boolean;
  /** Calls that reached Stedi (0 when a newer cache entry answered; older activity versions report none: 1). */
  stediCalls: number | undefined;
  durationMs: number;
}

/**
 * A real-time check came back. A payer error is a failure (its error record follows via errorRecorded). The member
 * missed the cache; its answer refreshed the cache only if it came from Stedi (not from a newer entry another
 * writer had put there meanwhile: stediCalls 0).
 */
export function checkAnswered(t: BatchTally, a: CheckAnswered): BatchTally {
  const calls = a.stediCalls ?? 1;
  return bump(t, {
    stediRealtimeCalls: calls,
    durationMsSum: a.durationMs,
    durationCount: 1,
    cacheMisses: 1,
    ...(calls > 0 ? { cacheRefreshed: 1 } : {}),
    ...(a.ok ? { completed: 1 } : { failed: 1 }),
  });
}

/**
 * A real-time check failed after its retries. A failure Stedi answered counts as a call; one that never reached it
 * (member not in the directory, no slot, worker lost) does not. Its error record follows via errorRecorded.
 */
export function checkFailed(t: BatchTally, reachedStedi: boolean): BatchTally {
  return bump(t, { failed: 1, cacheMisses: 1, ...(reachedStedi ? { stediRealtimeCalls: 1 } : {}) });
}

/** A real-time check was cancelled (cancel or timeout reached it before it finished). */
export function checkCancelled(t: BatchTally): BatchTally {
  return bump(t, { cancelled: 1 });
}

/**
 * One chunk handed to Stedi's batch API: members Stedi refused at submission are failures (stored by the activity).
 * Every member of the chunk was a cache miss whose check was made (submitted or refused).
 */
export function chunkSubmitted(t: BatchTally, sub: { submittedCount: number; rejected: number }): BatchTally {
  return bump(
    t,
    { failed: sub.rejected, cacheMisses: sub.submittedCount + sub.rejected, ...(sub.submittedCount > 0 ? { stediBatches: 1, stediBatchItems: sub.submittedCount } : {}) },
    sub.rejected,
  );
}

/**
 * New results of one Stedi batch poll, counted as deltas against the chunk's bitmap of members already seen.
 * `refreshed`: results the poll wrote to the cache (older activity versions do not say: every new result).
 */
export function chunkPolled(t: BatchTally, r: { newCompleted: number; newFailed: number; missing: number; refreshed?: number }): BatchTally {
  return bump(t, { completed: r.newCompleted, failed: r.newFailed + r.missing, cacheRefreshed: r.refreshed ?? r.newCompleted + r.newFailed }, r.newFailed + r.missing);
}

/** The batch ends: whatever was not processed will not be (undispatched members, abandoned chunks' unseen members). */
export function restAbandoned(t: BatchTally): BatchTally {
  return bump(t, { cancelled: pendingOf(t.counters) });
}
