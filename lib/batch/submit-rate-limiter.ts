import type { RedisClient } from '../redis-client';
import { randomUUID } from 'node:crypto';

/**
 * SubmitBatch rate limit: N submissions per client service in any sliding window (default 10 per hour). Redis-backed so
 * every API replica shares the count; the in-memory variant is for tests and single-process runs.
 */
export interface RateDecision {
  allowed: boolean;
  /** Submissions counted in the current window (including this one when allowed). */
  count: number;
  limit: number;
  /** When the oldest counted submission leaves the window, i.e. when one more is admitted (epoch ms). */
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

// Sliding window (issue 10: a fixed clock window let 20 submissions through in two minutes across an hour
// boundary): one sorted set per client service, scored by submission time. Entries older than the window are
// dropped; a submission is admitted while fewer than `limit` remain. A refusal adds nothing, so it does not eat
// the next allowed one; the reset time is when the oldest counted submission leaves the window.
const TAKE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, tonumber(oldest[2])}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, n + 1, tonumber(first[2])}`;

export function createRedisSubmitRateLimiter(redis: RedisClient, settings: RateLimitSettings = DEFAULT_SUBMIT_RATE, keyPrefix = 'rte:'): SubmitRateLimiter {
  return {
    async take(clientService, nowMs) {
      const key = `${keyPrefix}batch-submit-rate:{${clientService}}`;
      const [ok, count, oldest] = (await redis.eval(TAKE_LUA, 1, key, String(nowMs), String(settings.windowMs), String(settings.limit), `${nowMs}:${randomUUID()}`)) as [number, number, number];
      return { allowed: ok === 1, count, limit: settings.limit, resetAtMs: Number(oldest) + settings.windowMs };
    },
  };
}

export function createInMemorySubmitRateLimiter(settings: RateLimitSettings = DEFAULT_SUBMIT_RATE): SubmitRateLimiter {
  const taken = new Map<string, number[]>();
  return {
    async take(clientService, nowMs) {
      const times = (taken.get(clientService) ?? []).filter((t) => t > nowMs - settings.windowMs);
      taken.set(clientService, times);
      if (times.length >= settings.limit) return { allowed: false, count: times.length, limit: settings.limit, resetAtMs: times[0]! + settings.windowMs };
      times.push(nowMs);
      return { allowed: true, count: times.length, limit: settings.limit, resetAtMs: times[0]! + settings.windowMs };
    },
  };
}
