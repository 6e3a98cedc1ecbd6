/**
 * Issue 14 (scale out): the platform's Redis structures on a REAL Redis Cluster of 3 masters (its own redis-server
 * processes, test/helpers/redis-cluster.ts), reached the way the entry points reach it: REDIS_CLUSTER_NODES through
 * loadConfig and lib/redis-client.ts, with the API's and the worker's connection options. Every multi-key script,
 * transaction and bulk read must stay inside one slot (or go key by key): any CROSSSLOT fails the test.
 */
import { randomBytes } from 'node:crypto';
import { createConfiguredEligibilityCache } from '../../activities/cache';
import type { CachePutInput, EligibilityCache } from '../../activities/cache/types';
import { createRedisHedgeBudget } from '../../activities/eligibility/hedge-budget';
import { RedisTokenBucket } from '../../activities/kafka';
import { RedisEmissionLedger } from '../../activities/member-cron/emission-ledger';
import { memberCronEventId } from '../../activities/member-cron/event-id';
import { RedisPredictionOutcomeStore } from '../../activities/prediction-accuracy';
import { createRedisSlotPool } from '../../activities/slot-pool';
import type { SlotLease } from '../../activities/slot-pool/types';
import { API_REDIS_OPTIONS } from '../../api/outage-bounds';
import { createRedisSubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';
import { loadConfig, type AppConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import { PREDICTION_HORIZON_MS } from '../../lib/prediction/high-confidence';
import { createRedisClient, isClusterClient, type RedisClient } from '../../lib/redis-client';
import { liveWorkerCount, startWorkerLiveness, workerLivenessKey } from '../../lib/worker-liveness';
import { startOwnRedisCluster, type OwnRedisCluster } from '../helpers/redis-cluster';

const SECRET = 'redis-cluster-test-secret';
let cluster: OwnRedisCluster;
let config: AppConfig;
/** The API's client (autopipelining, 2 s command timeout) and a worker's. */
let api: RedisClient;
let worker: RedisClient;

beforeAll(async () => {
  cluster = await startOwnRedisCluster({ masters: 3 });
  config = loadConfig({ ...process.env, REDIS_CLUSTER_NODES: cluster.nodes, REDIS_KEY_PREFIX: `test-${randomBytes(4).toString('hex')}:` });
  api = createRedisClient(config, API_REDIS_OPTIONS);
  worker = createRedisClient(config, { maxRetriesPerRequest: 3 });
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([api?.quit(), worker?.quit()]);
  await cluster?.stop();
});

/** How many masters hold at least one of `keys` (CLUSTER KEYSLOT asked of the cluster, slots from CLUSTER SLOTS). */
async function mastersHolding(keys: readonly string[]): Promise<number> {
  const ranges = (await api.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const owners = new Set<number>();
  for (const k of keys) {
    const slot = Number(await api.call('CLUSTER', 'KEYSLOT', k));
    owners.add(ranges.findIndex(([from, to]) => slot >= from && slot <= to));
  }
  return owners.size;
}

describe('the platform on a Redis Cluster of 3 masters (REDIS_CLUSTER_NODES)', () => {
  it('builds Cluster clients from the setting, and a page of ledger keys in one script is CROSSSLOT there (the failure this guards against)', async () => {
    expect(isClusterClient(api) && isClusterClient(worker)).toBe(true);
    expect(String(await api.call('CLUSTER', 'INFO'))).toContain('cluster_state:ok');
    const keys = ['a', 'b', 'c', 'd'].map((x) => `${config.redisKeyPrefix}member-cron:emitted:${x}`);
    expect(await mastersHolding(keys)).toBeGreaterThan(1);
    await expect(worker.eval("return redis.call('GET', KEYS[1])", keys.length, ...keys)).rejects.toThrow(/CROSSSLOT/);
  });

  it('eligibility cache: put/get, bulk reads and writes over keys on every master, conditional writes, refresh claims', async () => {
    const cache: EligibilityCache = createConfiguredEligibilityCache(worker, config, silentLogger());
    const apiCache = createConfiguredEligibilityCache(api, config, silentLogger(), { parsedEntryMemo: 100 });
    const now = Date.now();
    const input = (i: number, over: Partial<CachePutInput> = {}): CachePutInput => ({
      memberId: `M-${i}`,
      operation: 'coverage',
      summary: { active: true, member: i } as never,
      fetchedAt: now,
      source: 'realtime',
      outcome: 'success',
      ...over,
    });
    const ids = Array.from({ length: 60 }, (_, i) => i);
    // CACHE modes' writes: one refresh result, and a batch's page of results (putMany).
    expect(await cache.put(input(0))).toMatchObject({ written: true });
    const many = await cache.putMany!(ids.slice(1).map((i) => input(i)));
    expect(many.every((r) => r.status === 'fulfilled' && r.value.written)).toBe(true);
    // CACHE_ONLY / CACHE_FIRST reads through the API's client: single and bulk (GraphQL's page, warming's page).
    expect((await apiCache.get('M-7', 'coverage'))?.summary).toEqual({ active: true, member: 7 });
    const got = await apiCache.getMany([...ids.map((i) => ({ memberId: `M-${i}`, operation: 'coverage' })), { memberId: 'M-absent', operation: 'coverage' }]);
    expect(got.map((e) => (e?.summary as { member?: number } | undefined)?.member ?? null)).toEqual([...ids, null]);
    // The entries really are spread over the masters.
    const entryKeys: string[] = [];
    for (const m of isClusterClient(api) ? api.nodes('master') : []) entryKeys.push(...(await m.keys(`${config.redisKeyPrefix}elig:*`)));
    expect(entryKeys).toHaveLength(60);
    expect(await mastersHolding(entryKeys)).toBe(3);
    // The conditional write still refuses an older answer and keeps a fresh success over an error.
    expect(await cache.put(input(3, { fetchedAt: now - 1_000 }))).toMatchObject({ written: false, reason: 'newer-entry' });
    expect(await cache.put(input(3, { fetchedAt: now + 1, outcome: 'error' }))).toMatchObject({ written: false, reason: 'fresh-success-kept' });
    // Refresh claims (CACHE_FIRST's single-flight refresh): one winner until released.
    expect(await cache.tryClaimRefresh('M-9', 'coverage', 30)).toBe(true);
    expect(await apiCache.tryClaimRefresh('M-9', 'coverage', 30)).toBe(false);
    await cache.releaseRefresh('M-9', 'coverage');
    expect(await apiCache.tryClaimRefresh('M-9', 'coverage', 30)).toBe(true);
    await cache.invalidate('M-5', 'coverage');
    expect(await apiCache.get('M-5', 'coverage')).toBeNull();
  });

  it('slot pool: two workers on the cluster share one limit; a release lets the waiter in (its grant channel subscriber is a Cluster duplicate)', async () => {
    const workerB = createRedisClient(config, { maxRetriesPerRequest: 3 });
    const opts = { keyPrefix: config.redisKeyPrefix, limit: 3, reservedInteractive: 0, adaptive: false as const, acquireTimeoutMs: 15_000 };
    const a = createRedisSlotPool({ redis: worker, ...opts });
    const b = createRedisSlotPool({ redis: workerB, ...opts });
    try {
      const batch = { kind: 'batch', clientService: 'svc' } as const;
      const held: SlotLease[] = [await a.acquire(batch), await b.acquire(batch), await a.acquire(batch)];
      let fourth: SlotLease | undefined;
      const waiting = b.acquire(batch).then((l) => (fourth = l));
      await new Promise((r) => setTimeout(r, 600));
      expect(fourth).toBeUndefined();
      const stats = await b.stats();
      expect(stats.batchInUse).toBe(3);
      expect(stats.waiting['batch:svc:NORMAL']).toBe(1);
      await held[0]!.release();
      await waiting;
      expect(fourth?.kind).toBe('batch');
      expect((await a.stats()).batchInUse).toBe(3);
      await Promise.all([...held.slice(1), fourth!].map((l) => l.release()));
      const idle = await a.stats();
      expect(idle.interactiveInUse + idle.batchInUse).toBe(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await workerB.quit();
    }
  });

  it('member-cron emission ledger: a page of events (keys on every master) is claimed, marked and released exactly once per event', async () => {
    const ledger = new RedisEmissionLedger(worker, { keyPrefix: `${config.redisKeyPrefix}member-cron:emitted:`, doneTtlSeconds: 600 });
    const tick = '2026-12-03T06:00:00.000Z';
    const ids = Array.from({ length: 40 }, (_, i) => memberCronEventId('daily-rte-warmup', tick, hashMemberId(SECRET, `M-${i}`)));
    expect(await mastersHolding(ids.map((id) => `${config.redisKeyPrefix}member-cron:emitted:${id}`))).toBe(3);
    expect(await ledger.claim(ids, 'run-1/a')).toEqual(ids.map(() => 'claimed'));
    expect(await ledger.claim(ids, 'run-2/a')).toEqual(ids.map(() => 'busy'));
    await ledger.markDone(ids.slice(0, 10), 'run-1/a');
    await ledger.markDeadLettered(ids.slice(10, 15), 'run-1/a');
    await ledger.release(ids.slice(15), 'run-1/a');
    // A retry of the same activity sees what it did; another run gets only what nobody emitted.
    expect(await ledger.claim(ids, 'run-1/a')).toEqual([...Array(10).fill('emitted-by-token'), ...Array(5).fill('dead-lettered-by-token'), ...Array(25).fill('claimed')]);
    expect(await ledger.claim(ids, 'run-2/a')).toEqual([...Array(10).fill('done'), ...Array(5).fill('claimed'), ...Array(25).fill('busy')]);
    // Markers keep the layout written before clusters were supported (`<prefix><event id>`, the legacy plain 'done').
    const legacy = memberCronEventId('daily-rte-warmup', tick, hashMemberId(SECRET, 'M-legacy'));
    await worker.set(`${config.redisKeyPrefix}member-cron:emitted:${legacy}`, 'done', 'EX', 600);
    expect(await ledger.claim([legacy, ids[0]!], 'run-3/a')).toEqual(['done', 'done']);
  });

  it('prediction usage script (one slot by its hash tag), submit rate limiter, hedge budget, emit token bucket, worker liveness', async () => {
    const store = new RedisPredictionOutcomeStore(api, { keyPrefix: config.redisKeyPrefix });
    const t0 = Date.now() - PREDICTION_HORIZON_MS - 60_000;
    const run = { runKey: `daily@${new Date(t0).toISOString()}`, predictedAt: t0, horizonEnd: t0 + PREDICTION_HORIZON_MS };
    const hashes = Array.from({ length: 5 }, (_, i) => hashMemberId(SECRET, `P-${i}`));
    expect(await store.recordPredictions(run, hashes.map((memberHash) => ({ memberHash, probability: 0.9 })), t0)).toBe(5);
    expect(await store.observeUsageBatch(hashes.slice(0, 3).map((memberHash) => ({ memberHash, at: t0 + 1_000 })))).toEqual([1, 1, 1]);
    expect(await store.observeUsage(hashes[0]!, t0 + 2_000)).toBe(0);
    expect(await store.accuracy(Date.now(), 7 * 24 * 3_600_000)).toEqual({ predicted: 5, used: 3, runs: 1 });

    const limiter = createRedisSubmitRateLimiter(api, { limit: 2, windowMs: 60_000 }, config.redisKeyPrefix);
    const now = Date.now();
    const decisions = [await limiter.take('svc-a', now), await limiter.take('svc-a', now + 1), await limiter.take('svc-a', now + 2), await limiter.take('svc-b', now + 3)];
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false, true]);

    const hedges = createRedisHedgeBudget(worker, config.redisKeyPrefix);
    expect([await hedges.take('batch-1', 1), await hedges.take('batch-1', 1)]).toEqual([true, false]);

    const bucket = new RedisTokenBucket(worker, { ratePerSecond: 1_000, key: `${config.redisKeyPrefix}{member-cron-emit}:bucket` });
    await bucket.acquire(150);

    const key = workerLivenessKey(config.redisKeyPrefix, 'rte-main-test');
    const beat = startWorkerLiveness(worker, { key, intervalMs: 100 });
    let live = 0;
    for (let i = 0; i < 40 && live === 0; i++) {
      live = await liveWorkerCount(api, key);
      if (live === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(live).toBe(1);
    await beat.stop();
    expect(await liveWorkerCount(api, key)).toBe(0);
  });
});
