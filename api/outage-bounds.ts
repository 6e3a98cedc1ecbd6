import type { RedisOptions } from 'ioredis';

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

/** Getting a PostgreSQL connection gives up after this (pg waits forever by default). */
export const API_PG_CONNECTION_TIMEOUT_MS = 2_500;
