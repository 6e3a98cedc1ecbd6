/**
 * Slot pool against a real Redis (REDIS_URL, default redis://127.0.0.1:6379; `./stack/stack up --infra`).
 * Each test uses a random key prefix and deletes its keys afterwards.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { compareBytes, quantumForWeight, wdrrSimulate } from '../../lib/wdrr';
import { OPS_SCRIPT, WDRR_SIMULATE_SCRIPT } from './lua';
import { createRedisSlotPool, slotPoolKeys, slotQueueId, type RedisSlotPoolOptions } from './redis-slot-pool';
import type { SlotLease, SlotPool, SlotPoolStats } from './types';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const connections: Redis[] = [];
const pools: SlotPool[] = [];
let prefix = '';

function connect(): Redis {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: false });
  connections.push(r);
  return r;
}

function pool(options: Omit<RedisSlotPoolOptions, 'redis' | 'keyPrefix'> & { redis?: Redis }): SlotPool {
  const p = createRedisSlotPool({ redis: options.redis ?? connect(), keyPrefix: prefix, ...options });
  pools.push(p);
  return p;
}

/** Waits (bounded) until the pool's shared state satisfies `predicate`; returns that state. */
async function until(p: SlotPool, predicate: (s: SlotPoolStats) => boolean, what: string): Promise<SlotPoolStats> {
  for (let i = 0; i < 500; i++) {
    const s = await p.stats();
    if (predicate(s)) return s;
    await sleep(20);
  }
  throw new Error(`timed out waiting for: ${what}; last stats ${JSON.stringify(await p.stats())}`);
}

const totalWaiting = (s: SlotPoolStats): number => Object.values(s.waiting).reduce((a, b) => a + b, 0);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

beforeEach(() => {
  prefix = `test:${randomBytes(6).toString('hex')}:`;
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  const admin = new Redis(REDIS_URL);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
  // quit, not disconnect: ioredis' disconnect leaves a 2 s timer behind that keeps jest alive.
  await Promise.all(connections.splice(0).map((c) => (c.status === 'end' ? undefined : c.quit().catch(() => undefined))));
});

describe('WDRR in Lua matches lib/wdrr.ts', () => {
  it('picks the same sequence for random queues, weights and backlogs', async () => {
    const redis = connect();
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[A-Za-z0-9:%._-]{1,8}$/), weight: fc.integer({ min: 1, max: 4000 }).map((w) => w / 1000), backlog: fc.integer({ min: 0, max: 30 }) }), {
          selector: (q) => q.id,
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 1, max: 80 }),
        async (raw, steps) => {
          const queues = raw.map((q) => ({ id: q.id, quantum: quantumForWeight(q.weight), backlog: q.backlog }));
          const expected = wdrrSimulate(queues, steps).sequence;
          const ids = queues.map((q) => q.id).sort(compareBytes);
          const input = {
            ids,
            quanta: Object.fromEntries(queues.map((q) => [q.id, q.quantum])),
            backlog: Object.fromEntries(queues.map((q) => [q.id, q.backlog])),
            steps,
          };
          const actual = (await redis.eval(WDRR_SIMULATE_SCRIPT, 0, JSON.stringify(input))) as string[];
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the live scheduler grants batch queues in the order lib/wdrr.ts predicts', async () => {
    const clientWeights = { lab: 2, pharmacy: 1, care: 3 };
    const a = pool({ limit: 1, reservedInteractive: 0, adaptive: false, clientWeights });
    const b = pool({ limit: 1, reservedInteractive: 0, adaptive: false, clientWeights });
    const holder = await a.acquire({ kind: 'interactive' });
    const plan = [
      { pool: a, clientService: 'lab', priority: 'NORMAL' as const, n: 9 },
      { pool: b, clientService: 'pharmacy', priority: 'NORMAL' as const, n: 7 },
      { pool: a, clientService: 'care', priority: 'LOW' as const, n: 5 },
      { pool: b, clientService: 'lab', priority: 'HIGH' as const, n: 4 },
    ];
    const order: string[] = [];
    const runs = plan.flatMap(({ pool: p, clientService, priority, n }) =>
      Array.from({ length: n }, () =>
        p.withSlot({ kind: 'batch', clientService, priority }, async (lease) => {
          order.push(lease.queue);
        }),
      ),
    );
    await until(a, (s) => totalWaiting(s) === 25, 'all 25 batch waiters queued');
    await holder.release();
    await Promise.all(runs);

    const priorityWeight = { HIGH: 4, NORMAL: 2, LOW: 1 };
    const expected = wdrrSimulate(
      plan.map(({ clientService, priority, n }) => ({
        id: slotQueueId({ kind: 'batch', clientService, priority }),
        quantum: quantumForWeight(clientWeights[clientService as keyof typeof clientWeights] * priorityWeight[priority]),
        backlog: n,
      })),
      25,
    ).sequence;
    expect(order).toEqual(expected);
  });
});

describe('Redis slot pool', () => {
  it('never lets more than 15 calls run at once across two worker processes', async () => {
    const w1 = pool({ limit: 15 });
    const w2 = pool({ limit: 15 });
    let inFlight = 0;
    let peak = 0;
    const work = async (): Promise<void> => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(20 + Math.random() * 40);
      inFlight--;
    };
    const calls = Array.from({ length: 60 }, (_, i) => {
      const p = i % 2 === 0 ? w1 : w2;
      const request = i % 3 === 0 ? ({ kind: 'interactive' } as const) : ({ kind: 'batch', clientService: i % 2 ? 'lab' : 'pharmacy' } as const);
      return p.withSlot(request, work);
    });
    await Promise.all(calls);
    expect(peak).toBeLessThanOrEqual(15);
    expect(peak).toBeGreaterThan(1);
    const after = await w1.stats();
    expect(after.interactiveInUse + after.batchInUse).toBe(0);
    expect(totalWaiting(after)).toBe(0);
  });

  it('returns a crashed holder’s slot within the lease TTL and hands it to a waiter', async () => {
    const crashingConnection = connect();
    const crashing = pool({ redis: crashingConnection, limit: 1, leaseTtlMs: 1_000, ticketTtlMs: 1_000 });
    const survivor = pool({ limit: 1, leaseTtlMs: 1_000, ticketTtlMs: 1_000 });
    const lost = await crashing.acquire({ kind: 'interactive' });
    const lostSignal = new Promise<unknown>((resolve) => lost.signal.addEventListener('abort', () => resolve(lost.signal.reason)));

    const waiting = survivor.acquire({ kind: 'interactive' }, { timeoutMs: 20_000 });
    await until(survivor, (s) => s.waiting['interactive'] === 1, 'survivor queued');
    crashingConnection.disconnect(); // the worker dies: no renewals, no release

    const lease = await waiting;
    expect(lease.kind).toBe('interactive');
    const s = await survivor.stats();
    expect(s.interactiveInUse).toBe(1);
    // The crashed process itself learns (once its renewals have failed for a TTL) that it lost the slot.
    expect(await lostSignal).toMatchObject({ name: 'SlotLeaseLostError' });
    await lease.release();
  });

  it('drops a dead waiter’s ticket so the slot goes to a live waiter behind it', async () => {
    const deadConnection = connect();
    const dead = pool({ redis: deadConnection, limit: 1, ticketTtlMs: 1_000 });
    const live = pool({ limit: 1, ticketTtlMs: 1_000 });
    const holder = await live.acquire({ kind: 'interactive' });
    const deadWaiter = dead.acquire({ kind: 'interactive' }).catch((err: unknown) => err);
    await until(live, (s) => s.waiting['interactive'] === 1, 'dead waiter queued first');
    deadConnection.disconnect(); // the waiting worker dies: its ticket stops heartbeating
    const liveWaiter = live.acquire({ kind: 'interactive' }, { timeoutMs: 20_000 });
    await until(live, (s) => s.waiting['interactive'] === 2, 'live waiter queued behind it');
    await until(live, (s) => s.waiting['interactive'] === 1, 'dead ticket expired');
    await holder.release();
    const lease = await liveWaiter;
    expect(lease.kind).toBe('interactive');
    await lease.release();
    await dead.close();
    expect(await deadWaiter).toMatchObject({ name: 'SlotPoolClosedError' });
  });

  it('drain (worker shutdown) refuses waiting and new acquires, keeps held leases, and hands the slot to another process', async () => {
    // Probe p17 #1: a draining worker granted slots to queued activities, started their Stedi calls, and cut them at
    // the grace end; their retries elsewhere called Stedi again.
    const leaving = pool({ limit: 1, reservedInteractive: 0, adaptive: false });
    const other = pool({ limit: 1, reservedInteractive: 0, adaptive: false });
    const held = await leaving.acquire({ kind: 'batch', clientService: 'lab' });
    const queued = leaving.acquire({ kind: 'batch', clientService: 'lab' }, { timeoutMs: 20_000 }).catch((err: unknown) => err);
    await until(leaving, (s) => (s.waiting['batch:lab:NORMAL'] ?? 0) === 1, 'second acquire queued');
    leaving.drain?.();
    expect(await queued).toMatchObject({ name: 'SlotPoolDrainingError' });
    await expect(leaving.acquire({ kind: 'interactive' })).rejects.toMatchObject({ name: 'SlotPoolDrainingError' });
    // The queued ticket is gone from Redis, the held call keeps its slot (no one else gets it meanwhile)...
    await until(other, (s) => Object.values(s.waiting).every((n) => n === 0), 'draining waiter withdrawn');
    const elsewhere = other.acquire({ kind: 'batch', clientService: 'lab' }, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect((await other.stats()).batchInUse).toBe(1);
    expect(held.signal.aborted).toBe(false);
    // ...until it ends; then the slot goes to the process that keeps running.
    await held.release();
    const lease = await elsewhere;
    expect(lease.kind).toBe('batch');
    await lease.release();
    await leaving.close();
  });

  it('grants waiting interactive checks before waiting batch work', async () => {
    // One slot, so each grant waits for the previous holder's release and `order` is the grant order.
    const w1 = pool({ limit: 1, reservedInteractive: 0, adaptive: false });
    const w2 = pool({ limit: 1, reservedInteractive: 0, adaptive: false });
    const holders = [await w1.acquire({ kind: 'batch', clientService: 'lab' })];
    const order: string[] = [];
    const record = async (lease: SlotLease): Promise<void> => {
      order.push(lease.kind);
    };
    const batch = Array.from({ length: 4 }, () => w1.withSlot({ kind: 'batch', clientService: 'lab', priority: 'HIGH' }, record));
    await until(w1, (s) => totalWaiting(s) === 4, 'batch waiters queued');
    const interactive = Array.from({ length: 3 }, () => w2.withSlot({ kind: 'interactive' }, record));
    await until(w1, (s) => totalWaiting(s) === 7, 'interactive waiters queued');
    for (const h of holders) await h.release();
    await Promise.all([...batch, ...interactive]);
    expect(order).toEqual(['interactive', 'interactive', 'interactive', 'batch', 'batch', 'batch', 'batch']);
  });

  it('grants a retry (ahead) before first-time waiters of its queue, FIFO among retries, other queues keep their WDRR share', async () => {
    // One slot, so the grant order is `order`. Queue lab: first-time f1..f3, then retries r1, r2; queue pharmacy: p1, p2.
    const clientWeights = { lab: 1, pharmacy: 1 };
    const w = pool({ limit: 1, reservedInteractive: 0, adaptive: false, clientWeights });
    const holder = await w.acquire({ kind: 'interactive' });
    const order: string[] = [];
    const runs: Promise<void>[] = [];
    const queue = async (name: string, clientService: string, ahead: boolean, waiting: number): Promise<void> => {
      runs.push(w.withSlot({ kind: 'batch', clientService }, async () => void order.push(name), ahead ? { ahead } : {}));
      await until(w, (st) => totalWaiting(st) === waiting, `${name} queued`);
    };
    let n = 0;
    for (const f of ['f1', 'f2', 'f3']) await queue(f, 'lab', false, ++n);
    for (const p of ['p1', 'p2']) await queue(p, 'pharmacy', false, ++n);
    for (const r of ['r1', 'r2']) await queue(r, 'lab', true, ++n);
    await holder.release();
    await Promise.all(runs);
    // Within lab: r1, r2 before f1..f3. Between the queues: equal weights alternate as before.
    expect(order.filter((x) => x.startsWith('r') || x.startsWith('f'))).toEqual(['r1', 'r2', 'f1', 'f2', 'f3']);
    expect(order.filter((x) => x.startsWith('p'))).toEqual(['p1', 'p2']);
    expect(order.slice(0, 4).filter((x) => x.startsWith('p'))).toHaveLength(2);
  });

  it('serves two saturating client services with weights 2:1 in a 2:1 ratio', async () => {
    const clientWeights = { lab: 2, pharmacy: 1 };
    const w1 = pool({ limit: 1, reservedInteractive: 0, adaptive: false, clientWeights });
    const w2 = pool({ limit: 1, reservedInteractive: 0, adaptive: false, clientWeights });
    const holder = await w1.acquire({ kind: 'interactive' });
    const served: string[] = [];
    const runs = [
      ...Array.from({ length: 30 }, () => w1.withSlot({ kind: 'batch', clientService: 'lab' }, async () => void served.push('lab'))),
      ...Array.from({ length: 30 }, () => w2.withSlot({ kind: 'batch', clientService: 'pharmacy' }, async () => void served.push('pharmacy'))),
    ];
    await until(w1, (s) => totalWaiting(s) === 60, 'both clients queued');
    await holder.release();
    await Promise.all(runs);
    const firstThirty = served.slice(0, 30);
    expect(firstThirty.filter((c) => c === 'lab')).toHaveLength(20);
    expect(firstThirty.filter((c) => c === 'pharmacy')).toHaveLength(10);
  });

  it('never lets batch work take the slots reserved for interactive users', async () => {
    const w1 = pool({ limit: 5, reservedInteractive: 2, adaptive: false });
    const w2 = pool({ limit: 5, reservedInteractive: 2, adaptive: false });
    const gate = deferred();
    let batchInFlight = 0;
    let batchPeak = 0;
    const batch = Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? w1 : w2).withSlot({ kind: 'batch', clientService: 'lab' }, async () => {
        batchInFlight++;
        batchPeak = Math.max(batchPeak, batchInFlight);
        await gate.promise;
        batchInFlight--;
      }),
    );
    await until(w1, (s) => s.batchInUse === 3 && totalWaiting(s) === 7, 'batch saturated its share');
    // Both reserved slots are still there for live users while batch work is queued.
    const i1 = await w2.acquire({ kind: 'interactive' }, { timeoutMs: 10_000 });
    const i2 = await w1.acquire({ kind: 'interactive' }, { timeoutMs: 10_000 });
    await i1.release();
    const s = await w1.stats();
    expect(s.batchInUse).toBe(3);
    expect(s.waiting[slotQueueId({ kind: 'batch', clientService: 'lab' })]).toBe(7);
    await i2.release();
    gate.resolve();
    await Promise.all(batch);
    expect(batchPeak).toBe(3);
  });

  it('throttles batch by the adaptive rate while interactive load is high', async () => {
    const w = pool({ limit: 15, reservedInteractive: 3 });
    const interactive = await Promise.all(Array.from({ length: 5 }, () => w.acquire({ kind: 'interactive' })));
    const gate = deferred();
    const batch = Array.from({ length: 10 }, () => w.withSlot({ kind: 'batch', clientService: 'lab' }, () => gate.promise));
    const s = await until(w, (st) => st.batchInUse + totalWaiting(st) === 10, 'batch queued');
    expect(s.batchInUse).toBe(4); // medium load (5 of 15 interactive): 40 % of batch's 12 slots
    for (const l of interactive) await l.release();
    await until(w, (st) => st.batchInUse === 10, 'batch resumes at full share once interactive load drops');
    gate.resolve();
    await Promise.all(batch);
  });

  it('gives up after the acquire timeout or on abort without leaking a slot', async () => {
    const w = pool({ limit: 1 });
    const holder = await w.acquire({ kind: 'interactive' });
    await expect(w.acquire({ kind: 'interactive' }, { timeoutMs: 300 })).rejects.toMatchObject({ name: 'SlotAcquireTimeoutError' });
    const controller = new AbortController();
    const aborted = w.acquire({ kind: 'interactive' }, { signal: controller.signal });
    await until(w, (s) => s.waiting['interactive'] === 1, 'waiter queued');
    controller.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    await holder.release();
    const s = await until(w, (st) => totalWaiting(st) === 0, 'cancelled tickets removed');
    expect(s.interactiveInUse).toBe(0);
  });
});

describe('multi-ticket operations: one call enqueues, releases and cancels for a process (OPS_SCRIPT)', () => {
  /** Messages on the pool's grant channel, as JSON arrays of ticket ids. */
  async function grantsPublished(): Promise<{ tickets: () => string[] }> {
    const sub = connect();
    const seen: string[] = [];
    sub.on('message', (_channel: string, message: string) => seen.push(...(JSON.parse(message) as string[])));
    await sub.subscribe(slotPoolKeys(prefix).channel);
    return { tickets: () => seen };
  }

  async function redisNowMs(redis: Redis): Promise<number> {
    const [sec, usec] = await redis.time();
    return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  }

  it('grants a process its own waiter in the reply, as a lease of the full TTL that is not published; a grant to another process is published with the pickup window', async () => {
    const admin = connect();
    const published = await grantsPublished();
    const w1 = pool({ limit: 1, reservedInteractive: 0, adaptive: false, leaseTtlMs: 30_000, ticketTtlMs: 5_000 });
    const w2 = pool({ limit: 1, reservedInteractive: 0, adaptive: false, leaseTtlMs: 30_000, ticketTtlMs: 5_000 });
    const { keys } = slotPoolKeys(prefix);
    const lbKey = keys[1]!;

    const own = await w1.acquire({ kind: 'batch', clientService: 'lab' });
    const ownExpiry = Number(await admin.zscore(lbKey, own.id));
    expect(ownExpiry - (await redisNowMs(admin))).toBeGreaterThan(25_000);

    const other = w2.acquire({ kind: 'batch', clientService: 'pharmacy' }, { timeoutMs: 10_000 });
    await until(w1, (s) => totalWaiting(s) === 1, 'the other process waits');
    // w1's release call grants w2's ticket: published (w2 learns of it by pub/sub), with the pickup window only.
    await own.release();
    const lease = await other;
    await sleep(100);
    expect(published.tickets()).toContain(lease.id);
    expect(published.tickets()).not.toContain(own.id);
    await lease.release();
    const s = await w1.stats();
    expect(s.batchInUse + s.interactiveInUse).toBe(0);
  });

  it('hands slots a release freed to tickets already waiting before a later enqueue of the same call joins; a malformed call changes nothing', async () => {
    const admin = connect();
    const published = await grantsPublished();
    // A pool creates the epoch (no grant happens without it); the calls below are made directly, as two processes A and B.
    const p = pool({ limit: 1, reservedInteractive: 0, adaptive: false });
    await (await p.acquire({ kind: 'interactive' })).release();
    const { keys } = slotPoolKeys(prefix);
    const common = [slotPoolKeys(prefix).prefix, 1, 0, '1,1', 5_000];
    const ops = async (owner: string, ...args: (string | number)[]): Promise<(string | number)[]> =>
      (await admin.eval(OPS_SCRIPT, keys.length, ...keys, ...common, owner, 30_000, 5_000, ...args)) as (string | number)[];
    const lab = slotQueueId({ kind: 'batch', clientService: 'lab' });
    const pharmacy = slotQueueId({ kind: 'batch', clientService: 'pharmacy' });
    const quantum = quantumForWeight(2);

    expect(await ops('A.', 'e', 'A.1', lab, 'b', quantum, '0')).toEqual([0, 1, 'A.1']);
    expect(await ops('B.', 'e', 'B.1', pharmacy, 'b', quantum, '0')).toEqual([0, 1]);
    // A frees its slot and queues its next member in one call: B's ticket, waiting already, takes the slot.
    expect(await ops('A.', 'r', 'A.1', 'e', 'A.2', lab, 'b', quantum, '0')).toEqual([0, 1]);
    expect(await admin.zscore(keys[1]!, 'B.1')).not.toBeNull();
    expect(Number(await admin.zscore(keys[1]!, 'B.1')) - (await redisNowMs(admin))).toBeLessThanOrEqual(5_000);
    await until(p, (s) => s.waiting[lab] === 1, 'A.2 queued');
    await sleep(100);
    expect(published.tickets()).toEqual(['B.1']);

    // B releases and A cancels its waiter in calls of their own; then a malformed call is refused before any write.
    expect(await ops('B.', 'r', 'B.1')).toEqual([0, 1]);
    // The free slot went to A.2 by B's call (published for A); A's cancel frees it again.
    await sleep(100);
    expect(published.tickets()).toEqual(['B.1', 'A.2']);
    expect(await ops('A.', 'c', 'A.2')).toEqual([0, 0]);
    await expect(ops('A.', 'e', 'A.3', lab, 'b', quantum, '0', 'r')).rejects.toThrow(/malformed/);
    await expect(ops('', 'e', 'A.3', lab, 'b', quantum, '0')).rejects.toThrow(/owner/);
    expect(await admin.zscore(keys[2]!, 'A.3')).toBeNull();
    const s = await p.stats();
    expect(s.batchInUse + s.interactiveInUse + totalWaiting(s)).toBe(0);
  });

  it('one process with 20 lanes of quick checks (polls racing its gathered enqueues) never passes the limit and leaves nothing held or queued', async () => {
    // Polls every few ms, so a poll often runs while an enqueue waits to go out with the next call: such a ticket must
    // not be taken for expired (queued twice, its grant left held until the lease TTL).
    const w = pool({ limit: 15, reservedInteractive: 0, adaptive: false, pollMinMs: 2, pollMaxMs: 5 });
    let inFlight = 0;
    let peak = 0;
    let done = 0;
    const lane = async (): Promise<void> => {
      while (done < 1_500) {
        done++;
        await w.withSlot({ kind: 'batch', clientService: 'lab', priority: 'HIGH' }, async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await sleep(1);
          inFlight--;
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, lane));
    expect(peak).toBe(15);
    const s = await w.stats();
    expect(s.batchInUse + s.interactiveInUse).toBe(0);
    expect(totalWaiting(s)).toBe(0);
  });
});
