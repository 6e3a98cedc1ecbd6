import type { Redis, RedisOptions } from 'ioredis';
import type { AppConfig } from '../lib/config';
import { createRedisClient, isClusterClient, type RedisClient } from '../lib/redis-client';
import { enforceCommandDeadline } from '../lib/redis-command-deadline';

/**
 * Issue 12: the API's bounds on Redis and PostgreSQL, so a dependency outage reaches the caller as `unavailable`
 * (api/interceptors.ts) within 5 s instead of after a client library's own patience. Temporal's bounds are in
 * lib/temporal/bounded-calls.ts. Shared by api/main.ts and the tests that build the API like it does.
 */
export const API_REDIS_OPTIONS: RedisOptions = {
  // A command fails after two reconnect attempts (ioredis queues commands while reconnecting)…
  maxRetriesPerRequest: 2,
  // …and never waits more than 2 s for an answer (a hung or paused Redis, a half-open connection).
  commandTimeout: 2_000,
  connectTimeout: 2_000,
  // Issue 14: no auto-pipelining. It once put a read's GET and its prediction-usage script in one write; since the
  // usage observations are coalesced (one script call per 64 reads), it only added a pipeline object, a promise and
  // argument copies per GET: measured in one run under the same load, the API spent 14-42 % less CPU per read without it.
  enableAutoPipelining: false,
};

/**
 * The API's Redis client with these bounds (api/main.ts, and the tests that build the API like it does). On a single
 * Redis the 2 s command deadline is enforced by one sweep per connection instead of ioredis's timer per command
 * (lib/redis-command-deadline.ts; issue 14); a Cluster keeps ioredis's `commandTimeout` on each node.
 */
export function createApiRedisClient(config: Pick<AppConfig, 'redisUrl' | 'redisClusterNodes'>): RedisClient {
  if (config.redisClusterNodes.length > 0) return createRedisClient(config, API_REDIS_OPTIONS);
  const { commandTimeout, ...options } = API_REDIS_OPTIONS;
  const redis = createRedisClient(config, options);
  if (!isClusterClient(redis)) enforceCommandDeadline(redis as Redis, commandTimeout ?? 2_000);
  return redis;
}

/** Getting a PostgreSQL connection gives up after this (pg waits forever by default). */
export const API_PG_CONNECTION_TIMEOUT_MS = 2_500;
