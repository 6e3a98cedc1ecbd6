import { STANDARD_WEBHOOK_SCHEDULE_MS, webhookRetryDelayMs } from './webhook-schedule';

describe('webhook retry schedule', () => {
  test('spec schedule: 10 attempts over 75 h 35 m 05 s (without jitter)', () => {
    const total = STANDARD_WEBHOOK_SCHEDULE_MS.reduce((a, b) => a + b, 0);
    expect(STANDARD_WEBHOOK_SCHEDULE_MS).toHaveLength(10);
    expect(total).toBe(((75 * 60 + 35) * 60 + 5) * 1000);
  });

  test.each(STANDARD_WEBHOOK_SCHEDULE_MS.map((ms, i) => [i, ms]))('attempt %d waits %d ms ±20 %%', (attempt, ms) => {
    const d = webhookRetryDelayMs(attempt, 'evt-1')!;
    expect(d).toBeGreaterThanOrEqual(Math.floor(ms * 0.8));
    expect(d).toBeLessThanOrEqual(Math.ceil(ms * 1.2));
  });

  test('first attempt is immediate, schedule ends after the last entry, same seed → same delay', () => {
    expect(webhookRetryDelayMs(0, 'x')).toBe(0);
    expect(webhookRetryDelayMs(10, 'x')).toBeUndefined();
    expect(webhookRetryDelayMs(4, 'x')).toBe(webhookRetryDelayMs(4, 'x'));
    expect(webhookRetryDelayMs(1, 'x', [0, 100], 0)).toBe(100);
  });
});
