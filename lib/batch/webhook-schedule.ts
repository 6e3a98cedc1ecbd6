import { unitFromSeed } from './rng';

/**
 * Webhook retry schedule (Standard Webhooks spec §"retry schedule"): delays before each attempt, 10 attempts over
 * 75 h 35 m 05 s, with ±20 % jitter (Svix) seeded by the webhook id so replays compute the same timers.
 * Bundle-safe.
 */
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
export const STANDARD_WEBHOOK_SCHEDULE_MS: readonly number[] = [0, 5 * S, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H];
export const WEBHOOK_JITTER = 0.2;

/** Delay before attempt `attempt` (0-based), or undefined when the schedule is exhausted. */
export function webhookRetryDelayMs(attempt: number, seed: string, schedule: readonly number[] = STANDARD_WEBHOOK_SCHEDULE_MS, jitter = WEBHOOK_JITTER): number | undefined {
  const base = schedule[attempt];
  if (base === undefined) return undefined;
  if (base === 0) return 0;
  const factor = 1 - jitter + 2 * jitter * unitFromSeed(seed, attempt);
  return Math.round(base * factor);
}
