import { averageDurationMs, estimateCompletionMs, pendingOf, percentDone, progressMilestone, terminalStatus, assertCountersConsistent } from './progress';
import { emptyCounters, type BatchCounters } from './types';

const c = (p: Partial<BatchCounters>): BatchCounters => ({ ...emptyCounters(100), ...p });

describe('progress accounting', () => {
  test('pending and percent', () => {
    expect(pendingOf(c({ completed: 40, failed: 10, cancelled: 5 }))).toBe(45);
    expect(percentDone(c({ completed: 33 }))).toBe(33);
    expect(percentDone(emptyCounters(0))).toBe(100);
    expect(percentDone({ ...emptyCounters(3), completed: 1 })).toBe(33.3);
  });

  test.each([
    [0, 4, null],
    [0, 10, 10],
    [0, 35, 30],
    [30, 39.9, null],
    [30, 40, 40],
    [90, 100, null],
    [90, 99.9, null],
  ])('milestone from %d at %d%% → %p', (last, pct, expected) => {
    expect(progressMilestone(last, pct)).toBe(expected);
  });

  test('5 % steps', () => {
    expect(progressMilestone(0, 7, 5)).toBe(5);
    expect(() => progressMilestone(0, 7, 0)).toThrow(RangeError);
  });

  test('estimate and average', () => {
    expect(estimateCompletionMs(c({}), 0, 1000)).toBeUndefined();
    expect(estimateCompletionMs(c({ completed: 50 }), 0, 1000)).toBe(2000);
    expect(estimateCompletionMs(c({ completed: 100 }), 0, 1000)).toBe(1000);
    expect(averageDurationMs(c({ durationMsSum: 3000, durationCount: 4 }))).toBe(750);
    expect(averageDurationMs(c({}))).toBeUndefined();
  });

  test.each([
    [{ completed: 100 }, 'finished', 'COMPLETED'],
    [{ completed: 90, failed: 10 }, 'finished', 'PARTIALLY_COMPLETED'],
    [{ failed: 100 }, 'finished', 'FAILED'],
    [{ completed: 10, cancelled: 90 }, 'cancelled', 'CANCELLED'],
    [{ completed: 10, cancelled: 90 }, 'timeout', 'PARTIALLY_COMPLETED'],
    [{ cancelled: 100 }, 'timeout', 'FAILED'],
    [{}, 'error', 'FAILED'],
  ] as const)('%p ended by %s → %s', (counters, reason, status) => {
    expect(terminalStatus(c(counters), reason)).toBe(status);
  });

  test('inconsistent counters are a bug', () => {
    expect(() => assertCountersConsistent(c({ completed: 90, failed: 20 }))).toThrow(/inconsistent/);
    expect(() => assertCountersConsistent(c({ completed: 90, failed: 10 }))).not.toThrow();
  });
});
