import type { Redis } from 'ioredis';

/**
 * SubmitBatch rate limit: N submissions per client service per fixed window (default 10 per hour). Redis-backed so
 * every API replica shares the count; the in-memory variant is for tests and single-process runs.
 */
export interface RateDecision {
  allowed: boolean;
  /** Submissions counted in the current window (including this one when allowed). */
  count: number;
  limit: number;
  /** When the window resets (epoch ms). */
  resetAtMs: number;
}

export interface SubmitRateLimiter {
  take(clientService: string, nowMs: number): Promise<RateDecision>;
}

export interface RateLimitSettings {
  limit: number;
  windowMs: number;
}

export const DEFAULT_SUBMIT_RATE: RateLimitSettings = Object.freeze({ limit: 10, windowMs: 3_600_000 });

function windowOf(nowMs: number, windowMs: number): { id: number; resetAtMs: number } {
  const id = Math.floor(nowMs / windowMs);
  return { id, resetAtMs: (id + 1) * windowMs };
}

// INCR + PEXPIRE in one round trip; a refused attempt is rolled back so it does not eat the next allowed one.
const TAKE_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1}
end
return {1, n}`;

export function createRedisSubmitRateLimiter(redis: Redis, settings: RateLimitSettings = DEFAULT_SUBMIT_RATE, keyPrefix = 'rte:'): SubmitRateLimiter {
  return {
    async take(clientService, nowMs) {
      const w = windowOf(nowMs, settings.windowMs);
      const key = `${keyPrefix}batch-submit-rate:{${clientService}}:${w.id}`;
      const [ok, count] = (await redis.eval(TAKE_LUA, 1, key, String(settings.limit), String(settings.windowMs + 60_000))) as [number, number];
      return { allowed: ok === 1, count, limit: settings.limit, resetAtMs: w.resetAtMs };
    },
  };
}

export function createInMemorySubmitRateLimiter(settings: RateLimitSettings = DEFAULT_SUBMIT_RATE): SubmitRateLimiter {
  const counts = new Map<string, number>();
  return {
    async take(clientService, nowMs) {
      const w = windowOf(nowMs, settings.windowMs);
      const key = `${clientService}:${w.id}`;
      const n = (counts.get(key) ?? 0) + 1;
      if (n > settings.limit) return { allowed: false, count: n - 1, limit: settings.limit, resetAtMs: w.resetAtMs };
      counts.set(key, n);
      return { allowed: true, count: n, limit: settings.limit, resetAtMs: w.resetAtMs };
    },
  };
}
