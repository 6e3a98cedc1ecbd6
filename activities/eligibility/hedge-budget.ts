import type { RedisClient } from '../../lib/redis-client';

/** Hedges started per batch, shared by every worker (hedge-policy.ts caps them per batch). */
export interface HedgeBudgetStore {
  /** Takes one hedge of `batchId` if fewer than `max` were taken; false otherwise. */
  take(batchId: string, max: number): Promise<boolean>;
  /** Returns a hedge that never reached Stedi (no slot was granted). Never throws. */
  giveBack(batchId: string): Promise<void>;
}

const TAKE = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1`;

/** Counters `<prefix>hedges:<batchId>`, kept for a day (longer than any batch's tail). */
export function createRedisHedgeBudget(redis: RedisClient, keyPrefix: string, ttlMs = 24 * 3600_000): HedgeBudgetStore {
  const key = (batchId: string) => `${keyPrefix}hedges:${batchId}`;
  return {
    async take(batchId, max) {
      if (max <= 0) return false;
      return Number(await redis.eval(TAKE, 1, key(batchId), String(max), String(ttlMs))) === 1;
    },
    async giveBack(batchId) {
      await redis.decr(key(batchId)).catch(() => undefined);
    },
  };
}

/** In-process budget (unit tests). */
export function createMemoryHedgeBudget(): HedgeBudgetStore & { taken(batchId: string): number } {
  const n = new Map<string, number>();
  return {
    async take(batchId, max) {
      const have = n.get(batchId) ?? 0;
      if (have >= max) return false;
      n.set(batchId, have + 1);
      return true;
    },
    async giveBack(batchId) {
      n.set(batchId, Math.max(0, (n.get(batchId) ?? 0) - 1));
    },
    taken: (batchId) => n.get(batchId) ?? 0,
  };
}
