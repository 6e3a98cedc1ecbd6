/**
 * Issue 14 (scale out): a Redis Cluster master crash under the platform. A real cluster of 3 masters with one replica
 * each (its own redis-server processes, test/helpers/redis-cluster.ts); the master holding the slot pool's hash tag
 * ({rte-slots}) is SIGKILLed while two workers' pools hold leases and the cache holds entries on every master. The
 * replica takes over (cluster-node-timeout 2 s), and the clients built before the crash, with the API's and the
 * worker's options, carry on without a restart: cache reads and writes, and the slot pool's limit.
 *
 * Redis replicates asynchronously: a write acknowledged by a master but not yet copied is lost with it. The test
 * waits for the replicas to catch up before the crash, so it checks failover, not replication lag; what a lost write
 * means for each structure is in docs/scaling.md.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createConfiguredEligibilityCache } from '../../activities/cache';
import type { CachePutInput } from '../../activities/cache/types';
import { createRedisSlotPool } from '../../activities/slot-pool';
import type { SlotLease } from '../../activities/slot-pool/types';
import { API_REDIS_OPTIONS } from '../../api/outage-bounds';
import { loadConfig, type AppConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { createRedisClient, type RedisClient } from '../../lib/redis-client';
import { startOwnRedisCluster, type OwnRedisCluster } from '../helpers/redis-cluster';
import { eventually } from '../helpers/sim-checks';

let cluster: OwnRedisCluster;
let config: AppConfig;
let api: RedisClient;
let worker: RedisClient;
let workerB: RedisClient;

beforeAll(async () => {
  cluster = await startOwnRedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 2_000 });
  config = loadConfig({ ...process.env, REDIS_CLUSTER_NODES: cluster.nodes, REDIS_KEY_PREFIX: `test-${randomBytes(4).toString('hex')}:` });
  api = createRedisClient(config, API_REDIS_OPTIONS);
  worker = createRedisClient(config, { maxRetriesPerRequest: 3 });
  workerB = createRedisClient(config, { maxRetriesPerRequest: 3 });
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([api?.quit(), worker?.quit(), workerB?.quit()]);
  await cluster?.stop();
});

/** One command on one node, by port (not through the cluster client). */
async function onNode<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await f(r);
  } finally {
    r.disconnect();
  }
}

type SlotRange = [number, number, [string, number, string], ...[string, number, string][]];
/** The port of the master serving `key`'s slot, and of its replicas, as `port` sees the cluster. */
async function ownerOf(port: number, key: string): Promise<{ master: number; replicas: number[] }> {
  return onNode(port, async (r) => {
    const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
    const ranges = (await r.call('CLUSTER', 'SLOTS')) as SlotRange[];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
    return { master: range[2][1], replicas: range.slice(3).map((n) => (n as [string, number, string])[1]) };
  });
}

/** Every master's replicas have applied all of its writes (INFO replication offsets equal). */
async function replicasCaughtUp(): Promise<boolean> {
  const ranges = await onNode(cluster.ports[0]!, async (r) => (await r.call('CLUSTER', 'SLOTS')) as SlotRange[]);
  for (const [, , [, masterPort]] of ranges) {
    const info = await onNode(masterPort, (r) => r.info('replication'));
    const offset = Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
    const replicaOffsets = [...info.matchAll(/slave\d+:[^\n]*offset=(\d+)/g)].map((m) => Number(m[1]));
    if (replicaOffsets.length === 0 || replicaOffsets.some((o) => o !== offset)) return false;
  }
  return true;
}

describe('a Redis Cluster master crash (REDIS_CLUSTER_NODES, 3 masters with a replica each)', () => {
  it('the replica takes over and the clients built before the crash carry on: cache reads and writes, and the slot pool never grants past its limit', async () => {
    const log = silentLogger();
    const cache = createConfiguredEligibilityCache(worker, config, log);
    const apiCache = createConfiguredEligibilityCache(api, config, log);
    const now = Date.now();
    const input = (i: number): CachePutInput => ({ memberId: `M-${i}`, operation: 'coverage', summary: { active: true, member: i } as never, fetchedAt: now, source: 'realtime', outcome: 'success' });
    const ids = Array.from({ length: 60 }, (_, i) => i);
    const many = await cache.putMany!(ids.map(input));
    expect(many.every((r) => r.status === 'fulfilled' && r.value.written)).toBe(true);

    const opts = { keyPrefix: config.redisKeyPrefix, limit: 3, reservedInteractive: 0, adaptive: false as const, acquireTimeoutMs: 60_000 };
    const a = createRedisSlotPool({ redis: worker, ...opts });
    const b = createRedisSlotPool({ redis: workerB, ...opts });
    const batch = { kind: 'batch', clientService: 'svc' } as const;
    try {
      const held: SlotLease[] = [await a.acquire(batch), await b.acquire(batch)];
      expect((await a.stats()).batchInUse).toBe(2);

      await eventually('the replicas to catch up', replicasCaughtUp, 20_000, 50);
      const before = await ownerOf(cluster.ports[0]!, `${config.redisKeyPrefix}{rte-slots}:x`);
      expect(before.replicas).toHaveLength(1);
      await cluster.kill(before.master);
      const killedAt = Date.now();
      const survivor = cluster.ports.find((p) => p !== before.master)!;

      // The replica is promoted, and the same clients read every entry again.
      await eventually('the replica to take over the slot pool keys', async () => (await ownerOf(survivor, `${config.redisKeyPrefix}{rte-slots}:x`).catch(() => before)).master === before.replicas[0], 60_000, 200);
      const promotedAfterMs = Date.now() - killedAt;
      await eventually(
        'the API client to read all 60 entries',
        async () => {
          const got = await apiCache.getMany(ids.map((i) => ({ memberId: `M-${i}`, operation: 'coverage' }))).catch(() => []);
          return got.length === 60 && got.every((e, i) => (e?.summary as { member?: number } | undefined)?.member === i);
        },
        60_000,
        200,
      );
      const readsBackAfterMs = Date.now() - killedAt;
      expect(await cache.put({ ...input(61), fetchedAt: Date.now() })).toMatchObject({ written: true });
      expect((await apiCache.get('M-61', 'coverage'))?.summary).toEqual({ active: true, member: 61 });

      // The pool kept its two leases (replicated before the crash) and still bounds in-flight at its limit.
      await eventually('the slot pool to answer', async () => (await a.stats().catch(() => undefined)) !== undefined, 30_000, 200);
      expect((await a.stats()).batchInUse).toBe(2);
      held.push(await b.acquire(batch));
      let fourth: SlotLease | undefined;
      const waiting = a.acquire(batch).then((l) => (fourth = l));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(fourth).toBeUndefined();
      expect((await b.stats()).batchInUse).toBe(3);
      await held.shift()!.release();
      await waiting;
      expect((await a.stats()).batchInUse).toBe(3);
      await Promise.all([...held, fourth!].map((l) => l.release()));
      expect((await b.stats()).batchInUse).toBe(0);
      console.log(`redis cluster failover: replica promoted ${promotedAfterMs} ms after the kill; all cache reads back ${readsBackAfterMs} ms after it`);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 180_000);
});
