import { DEFAULT_POLL_BACKOFF, nextPollDelayMs, stediPollDelayMs } from './polling';

const MIN = 60_000;
describe('Stedi batch polling backoff (2 min → 8 h)', () => {
  test.each([
    [0, 2 * MIN],
    [1, 4 * MIN],
    [2, 8 * MIN],
    [5, 64 * MIN],
    [7, 256 * MIN],
    [8, 480 * MIN],
    [9, 480 * MIN],
    [1000, 480 * MIN],
  ])('poll #%d waits %d ms', (attempt, ms) => {
    expect(stediPollDelayMs(attempt)).toBe(ms);
  });

  test('never sleeps past the batch deadline', () => {
    expect(nextPollDelayMs(8, 0, 10 * MIN)).toBe(10 * MIN);
    expect(nextPollDelayMs(0, 100, 50)).toBe(0);
  });

  test('custom (compressed) schedule for tests', () => {
    const b = { initialMs: 100, maxMs: 1000, multiplier: 3 };
    expect([0, 1, 2, 3].map((a) => stediPollDelayMs(a, b))).toEqual([100, 300, 900, 1000]);
    expect(DEFAULT_POLL_BACKOFF.maxMs).toBe(8 * 3_600_000);
  });
});
