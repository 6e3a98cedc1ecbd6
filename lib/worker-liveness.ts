import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis-client';

/**
 * Worker liveness for the API's /readyz. Temporal's DescribeTaskQueue keeps listing a poller for up to a
 * minute after its worker died (a long poll lasts that long), so "a poller exists" noticed a kill only after
 * ~30-60 s. Instead each running worker beats into a Redis sorted set (member = worker id, score = expiry) every
 * `intervalMs`; the API counts members whose expiry is in the future, so a killed worker drops out within `ttlMs`.
 */
export interface WorkerLivenessOptions {
  /** e.g. `<REDIS_KEY_PREFIX>workers:<task queue>` */
  readonly key: string;
  readonly intervalMs?: number;
  readonly ttlMs?: number;
  /** Only beat while this says the worker is polling. */
  readonly isRunning?: () => boolean;
  readonly onError?: (err: unknown) => void;
}

export function workerLivenessKey(redisKeyPrefix: string, taskQueue: string): string {
  return `${redisKeyPrefix}workers:${taskQueue}`;
}

export function startWorkerLiveness(redis: RedisClient, o: WorkerLivenessOptions): { id: string; stop(): Promise<void> } {
  const id = randomUUID();
  const interval = o.intervalMs ?? 2_000;
  const ttl = o.ttlMs ?? 6_000;
  const beat = async (): Promise<void> => {
    if (o.isRunning && !o.isRunning()) return;
    const now = Date.now();
    await redis.multi().zadd(o.key, now + ttl, id).zremrangebyscore(o.key, '-inf', now).pexpire(o.key, ttl * 10).exec();
  };
  const timer = setInterval(() => void beat().catch((err: unknown) => o.onError?.(err)), interval);
  timer.unref();
  void beat().catch((err: unknown) => o.onError?.(err));
  return {
    id,
    async stop() {
      clearInterval(timer);
      await redis.zrem(o.key, id).catch((err: unknown) => o.onError?.(err));
    },
  };
}

/** Workers that beat within their TTL. */
export async function liveWorkerCount(redis: RedisClient, key: string): Promise<number> {
  return redis.zcount(key, `(${Date.now()}`, '+inf');
}
