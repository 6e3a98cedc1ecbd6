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
  /** The counted submission (allowed decisions only): what `release` takes back. */
  token?: string;
}

export interface SubmitRateLimiter {
  take(clientService: string, nowMs: number): Promise<RateDecision>;
  /**
   * Takes back a submission `take` counted, for one that turned out to start nothing (SubmitBatch that lost a race
   * with a concurrent submit of the same job). A decision without a token, or one already released, is a no-op.
   */
  release(clientService: string, decision: RateDecision): Promise<void>;
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
  const keyOf = (clientService: string) => `${keyPrefix}batch-submit-rate:{${clientService}}`;
  return {
    async take(clientService, nowMs) {
      const token = `${nowMs}:${randomUUID()}`;
      const [ok, count, oldest] = (await redis.eval(TAKE_LUA, 1, keyOf(clientService), String(nowMs), String(settings.windowMs), String(settings.limit), token)) as [number, number, number];
      return { allowed: ok === 1, count, limit: settings.limit, resetAtMs: Number(oldest) + settings.windowMs, ...(ok === 1 ? { token } : {}) };
    },
    async release(clientService, decision) {
      if (decision.token) await redis.zrem(keyOf(clientService), decision.token);
    },
  };
}

export function createInMemorySubmitRateLimiter(settings: RateLimitSettings = DEFAULT_SUBMIT_RATE): SubmitRateLimiter {
  const taken = new Map<string, { at: number; token: string }[]>();
  return {
    async take(clientService, nowMs) {
      const times = (taken.get(clientService) ?? []).filter((t) => t.at > nowMs - settings.windowMs);
      taken.set(clientService, times);
      if (times.length >= settings.limit) return { allowed: false, count: times.length, limit: settings.limit, resetAtMs: times[0]!.at + settings.windowMs };
      const token = `${nowMs}:${randomUUID()}`;
      times.push({ at: nowMs, token });
      return { allowed: true, count: times.length, limit: settings.limit, resetAtMs: times[0]!.at + settings.windowMs, token };
    },
    async release(clientService, decision) {
      const times = taken.get(clientService);
      const i = times?.findIndex((t) => t.token === decision.token) ?? -1;
      if (decision.token && i >= 0) times!.splice(i, 1);
    },
  };
}
