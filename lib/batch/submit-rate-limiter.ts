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
  /**
   * The counted submission (allowed decisions only): what `release` takes back. Absent when a `requestKey` already
   * counted was admitted again: this call counted nothing, so it has nothing to give back.
   */
  token?: string;
}

export interface SubmitRateLimiter {
  /**
   * `requestKey` names the request the unit is for (e.g. its idempotency key's job id): a take whose key already holds
   * a unit in the window is admitted without spending another, so concurrent repeats of one request cost one unit.
   */
  take(clientService: string, nowMs: number, requestKey?: string): Promise<RateDecision>;
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
// A member named by a request key (ARGV[5] = '1') that is already counted admits its request again for free
// ({2, …}: nothing added): the check and the add are one script, so concurrent takes of one key spend one unit.
const TAKE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local n = redis.call('ZCARD', KEYS[1])
if ARGV[5] == '1' and redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {2, n, tonumber(first[2])}
end
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
    async take(clientService, nowMs, requestKey) {
      const token = requestKey !== undefined ? `key:${requestKey}` : `${nowMs}:${randomUUID()}`;
      const [ok, count, oldest] = (await redis.eval(TAKE_LUA, 1, keyOf(clientService), String(nowMs), String(settings.windowMs), String(settings.limit), token, requestKey !== undefined ? '1' : '0')) as [
        number,
        number,
        number,
      ];
      return { allowed: ok !== 0, count, limit: settings.limit, resetAtMs: Number(oldest) + settings.windowMs, ...(ok === 1 ? { token } : {}) };
    },
    async release(clientService, decision) {
      if (decision.token) await redis.zrem(keyOf(clientService), decision.token);
    },
  };
}

export function createInMemorySubmitRateLimiter(settings: RateLimitSettings = DEFAULT_SUBMIT_RATE): SubmitRateLimiter {
  const taken = new Map<string, { at: number; token: string }[]>();
  return {
    async take(clientService, nowMs, requestKey) {
      const times = (taken.get(clientService) ?? []).filter((t) => t.at > nowMs - settings.windowMs);
      taken.set(clientService, times);
      const token = requestKey !== undefined ? `key:${requestKey}` : `${nowMs}:${randomUUID()}`;
      if (requestKey !== undefined && times.some((t) => t.token === token)) return { allowed: true, count: times.length, limit: settings.limit, resetAtMs: times[0]!.at + settings.windowMs };
      if (times.length >= settings.limit) return { allowed: false, count: times.length, limit: settings.limit, resetAtMs: times[0]!.at + settings.windowMs };
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
