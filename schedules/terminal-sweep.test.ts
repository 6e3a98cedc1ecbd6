import { desiredTerminalSweepSchedule } from './terminal-sweep';

describe('terminal sweep schedule (desired state)', () => {
  test('every interval, the lookback as its input, one interval of catch-up; the hash moves with what it controls only', () => {
    const d = desiredTerminalSweepSchedule({ taskQueue: 'rte-main', intervalMs: 60_000, lookbackMs: 24 * 3_600_000 });
    expect(d.scheduleId).toBe('batch-terminal-sweep');
    expect(d.spec).toEqual({ intervals: [{ every: 60_000 }] });
    expect(d.input).toEqual({ lookbackMs: 24 * 3_600_000 });
    expect(d.catchupWindowMs).toBe(60_000);
    expect(desiredTerminalSweepSchedule({ taskQueue: 'rte-main', intervalMs: 60_000, lookbackMs: 24 * 3_600_000 }).specHash).toBe(d.specHash);
    expect(desiredTerminalSweepSchedule({ taskQueue: 'rte-main', intervalMs: 30_000, lookbackMs: 24 * 3_600_000 }).specHash).not.toBe(d.specHash);
    expect(desiredTerminalSweepSchedule({ taskQueue: 'other', intervalMs: 60_000, lookbackMs: 24 * 3_600_000 }).specHash).not.toBe(d.specHash);
    // Temporal refuses a catch-up window under 10 s.
    expect(desiredTerminalSweepSchedule({ taskQueue: 'rte-main', intervalMs: 1_000, lookbackMs: 1 }).catchupWindowMs).toBe(10_000);
  });
});
