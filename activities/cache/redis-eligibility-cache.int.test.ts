/**
 * Eligibility cache against a real Redis (REDIS_URL, default redis://127.0.0.1:6379). Random key prefix per
 * test, deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { CoverageSummary } from '../../lib/coverage-summary';
import { decideCacheAction } from '../../lib/cache-policy';
import { memberOperationHash } from './cache-key';
import { createRedisEligibilityCache } from './redis-eligibility-cache';
import type { EligibilityCache } from './types';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SECRET = 'test-secret';
const NOW = Date.parse('2026-03-02T08:00:00Z');
const H = 3600_000;

const active: CoverageSummary = {
  status: 'active',
  payer: { id: '60054', name: 'Aetna' },
  plan: { name: 'Open Access', number: 'P1', groupNumber: 'G1', insuranceType: null },
  coverage: { start: '2026-01-01', end: null },
  benefits: [],
  errors: [],
  stediCheckId: 'ec_1',
};
const payerDown: CoverageSummary = { ...active, status: 'error', errors: [{ code: '42', description: 'Unable to Respond at Current Time', followupAction: 'Resubmission Allowed' }] };

let redis: Redis;
let prefix: string;
let cache: EligibilityCache;

beforeEach(() => {
  redis = new Redis(REDIS_URL);
  prefix = `test:${randomBytes(6).toString('hex')}:`;
  cache = createRedisEligibilityCache({ redis, keySecret: SECRET, keyPrefix: prefix });
});

afterEach(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('Redis eligibility cache', () => {
  it('with parsedEntryMemo, the same stored bytes give the same frozen entry; a rewrite gives the new one', async () => {
    const memoCache = createRedisEligibilityCache({ redis, keySecret: SECRET, keyPrefix: prefix, parsedEntryMemo: 10 });
    await memoCache.put({ memberId: 'M-1', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', stediCheckId: 'ec_1', fetchedAt: NOW });
    const a = await memoCache.get('M-1', 'coverage');
    const b = await memoCache.get('M-1', 'coverage');
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a!.summary.payer)).toBe(true);
    expect(a!.summary).toEqual(active);
    const newer = { ...active, plan: { ...active.plan, name: 'Choice POS II' }, stediCheckId: 'ec_2' };
    await memoCache.put({ memberId: 'M-1', operation: 'coverage', summary: newer, outcome: 'success', source: 'realtime', stediCheckId: 'ec_2', fetchedAt: NOW + 1 });
    const c = await memoCache.get('M-1', 'coverage');
    expect(c).not.toBe(a);
    expect(c!.summary).toEqual(newer);
    // A bulk read gives the same remembered entries (and null for a miss).
    const many = await memoCache.getMany([{ memberId: 'M-1', operation: 'coverage' }, { memberId: 'M-none', operation: 'coverage' }]);
    expect(many[0]).toBe(c);
    expect(many[1]).toBeNull();
    // Bytes that no longer parse are a miss, not the entry remembered for that key.
    const [key] = await redis.keys(`${prefix}elig:*`);
    const stored = await redis.getBuffer(key!);
    await redis.set(key!, '{not json');
    expect(await memoCache.get('M-1', 'coverage')).toBeNull();
    await redis.set(key!, stored!);
    expect((await memoCache.get('M-1', 'coverage'))!.summary).toEqual(newer);
    // Without the option, entries are fresh objects the caller may change.
    const plain = await cache.get('M-1', 'coverage');
    expect(plain).not.toBe(await cache.get('M-1', 'coverage'));
    expect(Object.isFrozen(plain)).toBe(false);
  });

  it('with groupReads, concurrent reads share MGETs and each gets its own entry (hits, misses, unreadable)', async () => {
    let mgets = 0;
    let gets = 0;
    // Count what the cache sends; the commands still go to the real Redis.
    const counted = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'mgetBuffer') mgets++;
        if (prop === 'getBuffer' || prop === 'get') gets++;
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    for (const memo of [0, 10]) {
      mgets = 0;
      gets = 0;
      const grouped = createRedisEligibilityCache({ redis: counted, keySecret: SECRET, keyPrefix: prefix, groupReads: true, parsedEntryMemo: memo });
      const ids = Array.from({ length: 40 }, (_, i) => `G-${i}`);
      // Even members are cached (each with its own plan name), odd ones are misses; G-1 holds unreadable bytes.
      for (const [i, id] of ids.entries()) {
        if (i % 2 === 0) await cache.put({ memberId: id, operation: 'coverage', summary: { ...active, plan: { ...active.plan, name: `plan ${id}` } }, outcome: 'success', source: 'realtime', fetchedAt: NOW });
      }
      await redis.set(`${prefix}elig:${memberOperationHash(SECRET, 'G-1', 'coverage')}`, 'not json');
      const got = await Promise.all(ids.map((id) => grouped.get(id, 'coverage')));
      got.forEach((entry, i) => {
        if (i % 2 === 0) expect(entry?.summary.plan.name).toBe(`plan ${ids[i]}`);
        else expect(entry).toBeNull();
      });
      // The first read goes at once; the 39 made while it was out share the next MGET.
      expect(mgets).toBe(2);
      expect(gets).toBe(0);
      // One caller alone: read at once, one MGET per read.
      expect((await grouped.get('G-0', 'coverage'))?.summary.plan.name).toBe('plan G-0');
      expect(mgets).toBe(3);
    }
  });

  it('with groupReads, a failed MGET fails every read of its group, and later reads work again', async () => {
    let calls = 0;
    const flaky = new Proxy(redis, {
      get(target, prop, receiver) {
        // The second MGET fails.
        if (prop === 'mgetBuffer' && ++calls === 2) return () => Promise.reject(new Error('Connection is closed.'));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const grouped = createRedisEligibilityCache({ redis: flaky, keySecret: SECRET, keyPrefix: prefix, groupReads: true, parsedEntryMemo: 10 });
    await cache.put({ memberId: 'F-2', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    // The first read goes alone and succeeds; the two made meanwhile share the second MGET and both fail with its error.
    const settled = await Promise.allSettled([grouped.get('F-2', 'coverage'), grouped.get('F-1', 'coverage'), grouped.get('F-2', 'coverage')]);
    expect(settled[0]).toMatchObject({ status: 'fulfilled', value: { summary: active } });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: new Error('Connection is closed.') });
    expect(settled[2]).toMatchObject({ status: 'rejected', reason: new Error('Connection is closed.') });
    // Reads after it go out again.
    const [a, b] = await Promise.all([grouped.get('F-1', 'coverage'), grouped.get('F-2', 'coverage')]);
    expect(a).toBeNull();
    expect(b?.summary).toEqual(active);
    expect(calls).toBe(4);
  });

  it('with groupReads, reads made while an MGET is stalled go out on their own instead of queueing behind it', async () => {
    let mgets = 0;
    const stalled = new Proxy(redis, {
      get(target, prop, receiver) {
        // The first MGET never answers (a hung Redis as seen by that one command).
        if (prop === 'mgetBuffer' && ++mgets === 1) return () => new Promise(() => undefined);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const grouped = createRedisEligibilityCache({ redis: stalled, keySecret: SECRET, keyPrefix: prefix, groupReads: true, parsedEntryMemo: 10 });
    await cache.put({ memberId: 'S-1', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    void grouped.get('S-0', 'coverage');
    await new Promise((r) => setTimeout(r, 150));
    const [a, b] = await Promise.all([grouped.get('S-1', 'coverage'), grouped.get('S-2', 'coverage')]);
    expect(a?.summary).toEqual(active);
    expect(b).toBeNull();
    expect(mgets).toBe(1);
  });

  it('round-trips an entry with its metadata and keeps raw member ids out of Redis', async () => {
    const put = await cache.put({ memberId: 'M-123456', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', stediCheckId: 'ec_1', fetchedAt: NOW });
    expect(put.written).toBe(true);
    const got = await cache.get('M-123456', 'coverage');
    expect(got).toEqual({ summary: active, fetchedAt: NOW, expiresAt: NOW + 22 * H, source: 'realtime', stediCheckId: 'ec_1', outcome: 'success' });
    expect(await cache.get('M-123456', 'dental')).toBeNull();
    expect(await cache.get('M-999', 'coverage')).toBeNull();

    const keys = await redis.keys(`${prefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${prefix}elig:[A-Za-z0-9_-]{32}$`));
    expect(keys[0]).not.toContain('M-123456');
    // Physical retention outlives the logical TTL so stale entries can still be served.
    const pttl = await redis.ttl(keys[0]!);
    expect(pttl).toBeGreaterThan(22 * 3600);
    expect(pttl).toBeLessThanOrEqual(7 * 24 * 3600);
  });

  it('classifies entries by their logical TTL: 22 h for success, 5 min for errors', async () => {
    await cache.put({ memberId: 'ok', operation: 'coverage', summary: active, outcome: 'success', source: 'warming', fetchedAt: NOW - 21 * H });
    await cache.put({ memberId: 'old', operation: 'coverage', summary: active, outcome: 'success', source: 'batch', fetchedAt: NOW - 23 * H });
    await cache.put({ memberId: 'err', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: NOW - 4 * 60_000 });
    await cache.put({ memberId: 'olderr', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: NOW - 6 * 60_000 });
    const [ok, old, err, olderr] = await cache.getMany(['ok', 'old', 'err', 'olderr'].map((memberId) => ({ memberId, operation: 'coverage' })));
    expect(decideCacheAction('DEFAULT', ok, NOW).cacheStatus).toBe('HIT');
    expect(decideCacheAction('DEFAULT', old, NOW).action).toBe('fetch');
    expect(decideCacheAction('PREFER_CACHED', old, NOW).cacheStatus).toBe('STALE');
    expect(decideCacheAction('DEFAULT', err, NOW)).toMatchObject({ action: 'serve', cacheStatus: 'ERROR' });
    expect(decideCacheAction('DEFAULT', olderr, NOW).action).toBe('fetch');
  });

  it('getMany answers each pair in order, hits and misses mixed, across chunk boundaries', async () => {
    const ids = Array.from({ length: 1_203 }, (_, i) => `member-${i}`);
    const pipeline = ids.filter((_, i) => i % 3 === 0).map((memberId) => cache.put({ memberId, operation: 'coverage', summary: active, outcome: 'success', source: 'batch', fetchedAt: NOW }));
    await Promise.all(pipeline);
    const res = await cache.getMany(ids.map((memberId) => ({ memberId, operation: 'coverage' })));
    expect(res).toHaveLength(ids.length);
    res.forEach((entry, i) => (i % 3 === 0 ? expect(entry?.fetchedAt).toBe(NOW) : expect(entry).toBeNull()));
    expect(await cache.getMany([])).toEqual([]);
  });

  it('does not let an older answer or an error overwrite better data', async () => {
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    const older = await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'batch', fetchedAt: NOW - H });
    expect(older).toMatchObject({ written: false, reason: 'newer-entry' });
    const failed = await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: NOW + H });
    expect(failed).toMatchObject({ written: false, reason: 'fresh-success-kept' });
    expect((await cache.get('m', 'coverage'))?.source).toBe('realtime');
    // Once the success has expired, a newer error is recorded (negative caching for 5 min).
    const later = await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: NOW + 23 * H });
    expect(later.written).toBe(true);
    expect((await cache.get('m', 'coverage'))?.outcome).toBe('error');
  });

  it('keeps an expired success when a "retry later" payer error arrives, and stores the error beside it (finding 13.1)', async () => {
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', stediCheckId: 'ec_1', fetchedAt: NOW });
    const [key] = await redis.keys(`${prefix}elig:*`);
    const successBytes = (await redis.get(key!))!;
    // Retention left as the success wrote it (not extended by the error): shorten it to tell.
    await redis.expire(key!, 3 * 24 * 3600);
    const at = NOW + 23 * H;
    const put = await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: at, retryLater: true });
    // The writer sees the error it got (batch outcomes, warm records, the refresh result), as before.
    expect(put).toMatchObject({ written: true, keptBesideSuccess: true, entry: { outcome: 'error', fetchedAt: at, expiresAt: at + 5 * 60_000 } });
    const got = await cache.get('m', 'coverage');
    expect(got).toMatchObject({ outcome: 'success', fetchedAt: NOW, stediCheckId: 'ec_1', summary: active });
    expect(got!.lastPayerError).toMatchObject({ summary: payerDown, fetchedAt: at, expiresAt: at + 5 * 60_000, source: 'realtime' });
    // The success's bytes are unchanged (empty arrays stay arrays), and its retention is not extended.
    expect((await redis.get(key!))!.startsWith(successBytes.slice(0, -1))).toBe(true);
    expect(await redis.ttl(key!)).toBeLessThanOrEqual(3 * 24 * 3600);
    // Every cache mode but BYPASS_CACHE serves the old answer as STALE without a Stedi call while the error is fresh.
    expect(decideCacheAction('DEFAULT', got, at + 60_000)).toMatchObject({ action: 'serve', cacheStatus: 'STALE' });
    expect(decideCacheAction('CACHE_ONLY', got, at + 60_000)).toMatchObject({ action: 'serve', cacheStatus: 'STALE' });
    expect(decideCacheAction('BYPASS_CACHE', got, at + 60_000).action).toBe('fetch');

    // A later "retry later" error replaces the kept one (one lastPayerError key, never two); an older one does not.
    const later = at + 10 * 60_000;
    await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'batch', fetchedAt: later, retryLater: true });
    const raw = (await redis.get(key!))!;
    expect(raw.split('"lastPayerError"').length).toBe(2);
    expect((await cache.get('m', 'coverage'))!.lastPayerError).toMatchObject({ fetchedAt: later, source: 'batch' });
    expect(await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: later - 1, retryLater: true })).toMatchObject({
      written: false,
      reason: 'newer-entry',
    });

    // A new success replaces both.
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', stediCheckId: 'ec_2', fetchedAt: later + 1 });
    const fresh = await cache.get('m', 'coverage');
    expect(fresh).toMatchObject({ outcome: 'success', stediCheckId: 'ec_2' });
    expect(fresh!.lastPayerError).toBeUndefined();
  });

  it('lets a definitive payer error (AAA 75, "do not resubmit") replace an expired success; a fresh success stays', async () => {
    const notFound: CoverageSummary = { ...active, status: 'error', errors: [{ code: '75', description: 'Subscriber/Insured Not Found', followupAction: 'Please Correct and Resubmit' }] };
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    expect(await cache.put({ memberId: 'm', operation: 'coverage', summary: notFound, outcome: 'error', source: 'realtime', fetchedAt: NOW + H })).toMatchObject({
      written: false,
      reason: 'fresh-success-kept',
    });
    expect(await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: NOW + H, retryLater: true })).toMatchObject({
      written: false,
      reason: 'fresh-success-kept',
    });
    await cache.put({ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'realtime', fetchedAt: NOW + 23 * H, retryLater: true });
    const put = await cache.put({ memberId: 'm', operation: 'coverage', summary: notFound, outcome: 'error', source: 'realtime', fetchedAt: NOW + 24 * H });
    expect(put).toMatchObject({ written: true, entry: { outcome: 'error' } });
    expect('keptBesideSuccess' in put).toBe(false);
    const got = await cache.get('m', 'coverage');
    expect(got).toMatchObject({ outcome: 'error', summary: notFound });
    expect(got!.lastPayerError).toBeUndefined();
  });

  it('reads an entry written before lastPayerError existed, and ignores a malformed kept error but not the answer', async () => {
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    const [key] = await redis.keys(`${prefix}elig:*`);
    const old = JSON.parse((await redis.get(key!))!) as Record<string, unknown>;
    await redis.set(key!, JSON.stringify({ ...old, lastPayerError: { fetchedAt: 'x' } }));
    const got = await cache.get('m', 'coverage');
    expect(got).toMatchObject({ outcome: 'success', summary: active });
    expect(got!.lastPayerError).toBeUndefined();
    // putMany takes the same path.
    const res = await cache.putMany!([{ memberId: 'm', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'batch', fetchedAt: NOW + 23 * H, retryLater: true }]);
    expect(res[0]).toMatchObject({ status: 'fulfilled', value: { written: true, keptBesideSuccess: true } });
    expect((await cache.get('m', 'coverage'))!.lastPayerError).toMatchObject({ source: 'batch', fetchedAt: NOW + 23 * H });
  });

  it('putMany makes the same conditional write per entry in one pipeline', async () => {
    await cache.put({ memberId: 'kept', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    const res = await cache.putMany!([
      { memberId: 'new', operation: 'coverage', summary: active, outcome: 'success', source: 'batch', stediCheckId: 'ec_9', fetchedAt: NOW },
      { memberId: 'kept', operation: 'coverage', summary: active, outcome: 'success', source: 'batch', fetchedAt: NOW - H },
      { memberId: 'kept', operation: 'coverage', summary: payerDown, outcome: 'error', source: 'batch', fetchedAt: NOW + H },
    ]);
    expect(res.map((r) => (r.status === 'fulfilled' ? (r.value.written ? 'written' : r.value.reason) : 'rejected'))).toEqual(['written', 'newer-entry', 'fresh-success-kept']);
    expect(await cache.get('new', 'coverage')).toMatchObject({ source: 'batch', stediCheckId: 'ec_9', outcome: 'success' });
    expect((await cache.get('kept', 'coverage'))?.source).toBe('realtime');
    expect(await cache.putMany!([])).toEqual([]);
  });

  it('lets exactly one of many concurrent callers claim the background refresh', async () => {
    // Five more processes' worth of connections racing for the same member.
    const conns = Array.from({ length: 5 }, () => new Redis(REDIS_URL));
    const others = conns.map((c) => createRedisEligibilityCache({ redis: c, keySecret: SECRET, keyPrefix: prefix }));
    const claims = await Promise.all(Array.from({ length: 50 }, (_, i) => (others[i % others.length] ?? cache).tryClaimRefresh('m', 'coverage', 30)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    // A different member or operation is claimed independently.
    expect(await cache.tryClaimRefresh('m', 'dental', 30)).toBe(true);
    await cache.releaseRefresh('m', 'coverage');
    expect(await cache.tryClaimRefresh('m', 'coverage', 30)).toBe(true);
    await Promise.all(conns.map((c) => c.quit()));
  });

  it('marks a refresh interactive per member + operation for a while (review13 #5)', async () => {
    expect(await cache.isRefreshPromoted!('m', 'coverage')).toBe(false);
    await cache.promoteRefresh!('m', 'coverage', 30);
    const other = createRedisEligibilityCache({ redis, keySecret: SECRET, keyPrefix: prefix });
    expect(await other.isRefreshPromoted!('m', 'coverage')).toBe(true);
    expect(await other.isRefreshPromoted!('m', 'dental')).toBe(false);
    expect(await other.isRefreshPromoted!('m2', 'coverage')).toBe(false);
    const [key] = await redis.keys(`${prefix}elig-interactive:*`);
    expect(key).toBe(`${prefix}elig-interactive:${memberOperationHash(SECRET, 'm', 'coverage')}`);
    expect(await redis.ttl(key!)).toBeGreaterThan(25);
    await expect(cache.promoteRefresh!('m', 'coverage', 0)).rejects.toThrow(RangeError);
  });

  it('treats an unreadable entry as a miss and can invalidate an entry', async () => {
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    const [key] = await redis.keys(`${prefix}elig:*`);
    await redis.set(key!, '{not json');
    expect(await cache.get('m', 'coverage')).toBeNull();
    await cache.put({ memberId: 'm', operation: 'coverage', summary: active, outcome: 'success', source: 'realtime', fetchedAt: NOW });
    expect(await cache.get('m', 'coverage')).not.toBeNull();
    await cache.invalidate('m', 'coverage');
    expect(await cache.get('m', 'coverage')).toBeNull();
  });

  it('rejects operations that would make keys ambiguous', async () => {
    await expect(cache.get('m', 'a:b')).rejects.toThrow(RangeError);
  });
});
