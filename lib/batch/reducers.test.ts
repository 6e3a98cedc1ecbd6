import { pendingOf } from './progress';
import {
  checkAnswered,
  checkCancelled,
  checkFailed,
  chunkPolled,
  chunkSubmitted,
  emptyTally,
  errorRecorded,
  membersResolved,
  pagePlanned,
  RECENT_ERRORS,
  restAbandoned,
  type BatchTally,
} from './reducers';
import type { BatchErrorRecord } from './types';

const err = (i: number): BatchErrorRecord => ({ memberIndex: i, errorCode: 'X', errorMessage: `e${i}`, occurredAtMs: i });
const consistent = (t: BatchTally) => {
  const c = t.counters;
  expect(c.completed + c.failed + c.cancelled + pendingOf(c)).toBe(c.total);
  expect(c.total - c.completed - c.failed - c.cancelled).toBeGreaterThanOrEqual(0);
};

describe('batch reducers (pure)', () => {
  test('never mutate their input', () => {
    const t0 = emptyTally(10);
    const frozen = JSON.stringify(t0);
    pagePlanned(t0, { hits: 1, hitErrors: 1, notCached: 1, refreshCount: 7 });
    errorRecorded(t0, err(1));
    checkAnswered(t0, { ok: true, stediCalls: 1, durationMs: 5 });
    restAbandoned(t0);
    expect(JSON.stringify(t0)).toBe(frozen);
  });

  test('query pages grow the total', () => {
    expect(membersResolved(membersResolved(emptyTally(), 5000), 12).counters.total).toBe(5012);
  });

  test('a planned page: cache answers are final, cached errors and NOT_CACHED are counted errors; planned refreshes are not misses until checked', () => {
    // Was cacheMisses: 4 at planning time (probe operator #4: a cancelled batch reported every planned refresh).
    const t = pagePlanned(emptyTally(10), { hits: 3, hitErrors: 1, notCached: 2, refreshCount: 4 });
    expect(t.counters).toMatchObject({ completed: 3, failed: 3, cacheHits: 4, cacheMisses: 0, cacheRefreshed: 0 });
    expect(t.totalErrors).toBe(3);
    expect(t.recentErrors).toEqual([]); // stored by the activity, not kept in workflow state
    consistent(t);
  });

  test('a batch cancelled after planning 300 refreshes and answering 19 reports 19 misses and 19 refreshed, 281 cancelled (probe operator #4)', () => {
    let t = pagePlanned(emptyTally(300), { hits: 0, hitErrors: 0, notCached: 0, refreshCount: 300 });
    for (let i = 0; i < 19; i++) t = checkAnswered(t, { ok: true, stediCalls: 1, durationMs: 100 });
    t = restAbandoned(t);
    expect(t.counters).toMatchObject({ completed: 19, cancelled: 281, cacheMisses: 19, cacheRefreshed: 19, stediRealtimeCalls: 19 });
    consistent(t);
  });

  test('misses and refreshes count what happened: an answer from a newer entry refreshed nothing, a failed check refreshed nothing, batch-API results written to the cache', () => {
    let t = emptyTally(10);
    t = checkAnswered(t, { ok: true, stediCalls: 0, durationMs: 10 });
    t = checkAnswered(t, { ok: false, stediCalls: 1, durationMs: 10 });
    t = checkFailed(t, false);
    expect(t.counters).toMatchObject({ cacheMisses: 3, cacheRefreshed: 1 });
    t = chunkSubmitted(t, { submittedCount: 6, rejected: 1 });
    expect(t.counters.cacheMisses).toBe(10);
    t = chunkPolled(t, { newCompleted: 4, newFailed: 1, missing: 0, refreshed: 4 });
    expect(t.counters.cacheRefreshed).toBe(5);
    // An older activity's poll result does not say: each new result was written.
    t = chunkPolled(t, { newCompleted: 1, newFailed: 0, missing: 0 });
    expect(t.counters.cacheRefreshed).toBe(6);
    consistent(t);
  });

  test('state carried from a run before cacheRefreshed existed counts from 0', () => {
    const old = emptyTally(2);
    delete old.counters.cacheRefreshed;
    expect(checkAnswered(old, { ok: true, stediCalls: 1, durationMs: 1 }).counters.cacheRefreshed).toBe(1);
  });

  test('a CACHE_ONLY member with nothing cached is neither a hit nor a miss (issue 10)', () => {
    const t = pagePlanned(emptyTally(1), { hits: 0, hitErrors: 0, notCached: 1, refreshCount: 0 });
    expect(t.counters).toMatchObject({ failed: 1, cacheHits: 0, cacheMisses: 0 });
  });

  test('real-time answers: success, payer error, answered by a newer cache entry, older activity results', () => {
    let t = emptyTally(4);
    t = checkAnswered(t, { ok: true, stediCalls: 1, durationMs: 100 });
    t = checkAnswered(t, { ok: false, stediCalls: 1, durationMs: 50 });
    t = checkAnswered(t, { ok: true, stediCalls: 0, durationMs: 10 });
    t = checkAnswered(t, { ok: true, stediCalls: undefined, durationMs: 40 });
    expect(t.counters).toMatchObject({ completed: 3, failed: 1, stediRealtimeCalls: 3, durationMsSum: 200, durationCount: 4 });
    consistent(t);
  });

  test('failed checks count a Stedi call only when Stedi answered; cancelled checks are cancelled', () => {
    let t = emptyTally(3);
    t = checkFailed(t, true);
    t = checkFailed(t, false);
    t = checkCancelled(t);
    expect(t.counters).toMatchObject({ failed: 2, cancelled: 1, stediRealtimeCalls: 1, durationCount: 0 });
    consistent(t);
  });

  test('errors the workflow records: counted, newest RECENT_ERRORS kept in order', () => {
    let t = emptyTally(100);
    for (let i = 0; i < RECENT_ERRORS + 5; i++) t = errorRecorded(t, err(i));
    expect(t.totalErrors).toBe(RECENT_ERRORS + 5);
    expect(t.recentErrors.map((e) => e.memberIndex)).toEqual(Array.from({ length: RECENT_ERRORS }, (_, k) => k + 5));
  });

  test('Stedi batch chunks: rejected members fail at submission, a chunk counts only if something was submitted', () => {
    let t = emptyTally(20);
    t = chunkSubmitted(t, { submittedCount: 8, rejected: 2 });
    expect(t.counters).toMatchObject({ failed: 2, stediBatches: 1, stediBatchItems: 8 });
    expect(t.totalErrors).toBe(2);
    t = chunkSubmitted(t, { submittedCount: 0, rejected: 10 });
    expect(t.counters).toMatchObject({ failed: 12, stediBatches: 1, stediBatchItems: 8 });
    consistent(t);
  });

  test('poll deltas: new results and members Stedi never answered', () => {
    let t = emptyTally(10);
    t = chunkPolled(t, { newCompleted: 5, newFailed: 1, missing: 0 });
    t = chunkPolled(t, { newCompleted: 2, newFailed: 0, missing: 2 });
    expect(t.counters).toMatchObject({ completed: 7, failed: 3 });
    expect(t.totalErrors).toBe(3);
    consistent(t);
  });

  test('the end cancels exactly the members still pending, and is idempotent', () => {
    let t = checkAnswered(emptyTally(10), { ok: true, stediCalls: 1, durationMs: 1 });
    t = checkFailed(t, false);
    t = restAbandoned(t);
    expect(t.counters).toMatchObject({ completed: 1, failed: 1, cancelled: 8 });
    expect(pendingOf(t.counters)).toBe(0);
    expect(restAbandoned(t).counters).toEqual(t.counters);
  });
});
