/**
 * The slot pool under faults: Stedi 429s lower the effective limit (and it recovers), and a Redis restart that
 * loses the pool's state never lets more than the limit run (holders re-register, grants wait a quarantine).
 * The restart test uses its own throwaway redis-server (test/helpers/own-redis.ts), never the shared one.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startOwnRedis, type OwnRedis } from '../../test/helpers/own-redis';
import { createRedisSlotPool, type RedisSlotPoolOptions } from './redis-slot-pool';
import type { SlotLease, SlotPool, SlotPoolStats } from './types';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const connections: Redis[] = [];
const pools: SlotPool[] = [];
let prefix = '';
let own: OwnRedis | undefined;

function connect(url = REDIS_URL): Redis {
  const r = new Redis(url);
  connections.push(r);
  return r;
}

function pool(options: Omit<RedisSlotPoolOptions, 'redis' | 'keyPrefix'> & { redis?: Redis }): SlotPool {
  const p = createRedisSlotPool({ redis: options.redis ?? connect(), keyPrefix: prefix, ...options });
  pools.push(p);
  return p;
}

async function until(p: SlotPool, predicate: (s: SlotPoolStats) => boolean, what: string, tries = 500): Promise<SlotPoolStats> {
  for (let i = 0; i < tries; i++) {
    const s = await p.stats();
    if (predicate(s)) return s;
    await sleep(20);
  }
  throw new Error(`timed out waiting for: ${what}; last stats ${JSON.stringify(await p.stats())}`);
}

async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

beforeEach(() => {
  prefix = `test:${randomBytes(6).toString('hex')}:`;
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  if (!own) {
    const admin = new Redis(REDIS_URL);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  }
  await Promise.all(connections.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
  await own?.stop();
  own = undefined;
});

describe('slot pool: adaptive limit from Stedi 429s', () => {
  it('lowers the effective limit to what it held when Stedi refused, then recovers one slot per period to the full limit', async () => {
    const p = pool({ limit: 15, reservedInteractive: 0, adaptive: false, throttleRecoveryMs: 400 });
    const held: SlotLease[] = [];
    for (let i = 0; i < 8; i++) held.push(await p.acquire({ kind: 'interactive' }));
    // The 8th call got a 429: others hold 15 - 7 slots of the account.
    await p.reportThrottled?.(held[7]!);
    expect((await p.stats()).effectiveLimit).toBe(7);
    await held.pop()!.release();
    // 7 held = the effective limit: a new waiter is not granted until the limit recovers by one.
    const t0 = Date.now();
    const next = p.acquire({ kind: 'interactive' }, { timeoutMs: 10_000 });
    await until(p, (s) => s.waiting['interactive'] === 1, 'waiter queued');
    held.push(await next);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    // Without further 429s it climbs back to 15 (7 + 8 periods of 400 ms).
    await until(p, (s) => s.effectiveLimit === 15, 'recovered to 15', 400);
    for (let i = 0; i < 7; i++) held.push(await p.acquire({ kind: 'interactive' }, { timeoutMs: 1_000 }));
    expect((await p.stats()).interactiveInUse).toBe(15);
    await Promise.all(held.map((l) => l.release()));
  });

  it('keeps a share for batch while the limit is lowered (the interactive reservation shrinks with it)', async () => {
    const p = pool({ limit: 15, reservedInteractive: 3, adaptive: false, throttleRecoveryMs: 60_000 });
    const first = await p.acquire({ kind: 'batch', clientService: 'lab' });
    for (let i = 0; i < 5; i++) await p.reportThrottled?.(first); // held 1 → effective limit 1
    await first.release();
    expect((await p.stats()).effectiveLimit).toBe(1);
    const lease = await p.acquire({ kind: 'batch', clientService: 'lab' }, { timeoutMs: 2_000 });
    await lease.release();
  });
});

describe('slot pool: Redis restart with calls in flight (own redis-server, no persistence)', () => {
  it('never lets more than the limit run: holders re-register, grants wait out the quarantine', async () => {
    own = await startOwnRedis({ persistence: 'none' });
    const opts = { limit: 15, reservedInteractive: 0, adaptive: false, leaseTtlMs: 4_000, stateLossQuarantineMs: 2_000, renewRetryMs: 100 } as const;
    const workers = [pool({ ...opts, redis: connect(own.url) }), pool({ ...opts, redis: connect(own.url) })];
    let running = 0;
    let peak = 0;
    let lostSignals = 0;
    const gates: Array<() => void> = [];
    const work = (lease: SlotLease): Promise<void> => {
      running += 1;
      peak = Math.max(peak, running);
      lease.signal.addEventListener('abort', () => (lostSignals += 1));
      return new Promise<void>((resolve) => gates.push(resolve)).finally(() => (running -= 1));
    };
    // 12 calls in flight (the scenario), 20 more waiting.
    const failures: unknown[] = [];
    let settled = 0;
    const calls = Array.from({ length: 32 }, (_, i) =>
      workers[i % 2]!
        .withSlot({ kind: 'interactive' }, work, { timeoutMs: 60_000 })
        .catch((err: unknown) => void failures.push(err))
        .finally(() => (settled += 1)),
    );
    await eventually(() => running === 15, '15 running');
    gates.splice(0, 3).forEach((g) => g()); // 3 finish: the next 3 start
    await eventually(() => running === 15 && gates.length === 15, 'refilled');

    await own.kill();
    await sleep(1_500); // Redis is down: renewals and polls fail
    await own.start(); // back, empty
    const restartedAt = Date.now();
    // While the holders re-register and the quarantine runs, nothing new starts.
    await sleep(1_000);
    expect(running).toBe(15);
    const s = await workers[0]!.stats();
    expect(s.interactiveInUse).toBe(15);
    expect(s.quarantineMs).toBeGreaterThan(0);
    // Calls finish one by one; each freed slot goes to exactly one waiter.
    while (settled < calls.length) {
      gates.splice(0, 1).forEach((g) => g());
      await sleep(100);
      if (Date.now() - restartedAt > 30_000) throw new Error('stalled');
    }
    await Promise.all(calls);
    expect(failures).toEqual([]);
    expect(peak).toBe(15);
    expect(lostSignals).toBe(0);
  });
});
