import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/logger';
import type { ReadCountDelta, WarmUsageStore, WarmUse } from './ports';
import { createWarmUsageRecorder, isWarmedRead, type InteractiveRead } from './recorder';

const H = 3_600_000;
const T0 = Date.parse('2024-11-15T06:00:00.000Z');

class FakeStore implements WarmUsageStore {
  uses: WarmUse[][] = [];
  counts: ReadCountDelta[][] = [];
  fail = false;
  async markFirstUse(uses: readonly WarmUse[]) {
    if (this.fail) throw new Error('pg down');
    this.uses.push([...uses]);
    return uses.length;
  }
  async addReadCounts(deltas: readonly ReadCountDelta[]) {
    if (this.fail) throw new Error('pg down');
    this.counts.push([...deltas]);
  }
}

const warmEntry = { source: 'warming' as const, fetchedAt: T0 - H };
const read = (over: Partial<InteractiveRead>): InteractiveRead => ({ memberHash: 'h1', operation: 'check_eligibility', at: T0, result: 'HIT', entry: warmEntry, ...over });

async function metric(registry: Registry, name: string): Promise<Record<string, number>> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return Object.fromEntries((m?.values ?? []).map((v) => [Object.values(v.labels).join(','), v.value]));
}

describe('isWarmedRead', () => {
  it.each([
    ['warming entry inside 24 h', warmEntry, T0, true],
    ['warming entry at exactly 24 h', { source: 'warming' as const, fetchedAt: T0 - 24 * H }, T0, false],
    ['realtime entry', { source: 'realtime' as const, fetchedAt: T0 - H }, T0, false],
    ['no entry', null, T0, false],
  ])('%s', (_n, entry, at, expected) => {
    expect(isWarmedRead(entry, at)).toBe(expected);
  });
});

describe('createWarmUsageRecorder', () => {
  it('batches: one first use per warmed entry (earliest read), read counts summed per hour/warmed/result', async () => {
    const store = new FakeStore();
    const registry = new Registry();
    const rec = createWarmUsageRecorder({ store, registry, logger: silentLogger(), flushIntervalMs: 0, clock: () => T0 + 60_000 });
    rec.record(read({ at: T0 + 10_000 }));
    rec.record(read({ at: T0 + 5_000, result: 'STALE' }));
    rec.record(read({ memberHash: 'h2', entry: { source: 'realtime', fetchedAt: T0 - H } }));
    rec.record(read({ memberHash: 'h3', result: 'MISS', entry: null }));
    expect(store.uses).toEqual([]); // nothing written on the read path
    await rec.flush();
    expect(store.uses).toEqual([[{ memberHash: 'h1', operation: 'check_eligibility', entryFetchedAt: T0 - H, usedAt: T0 + 5_000, result: 'STALE' }]]);
    expect(store.counts[0]?.sort((a, b) => a.result.localeCompare(b.result) || Number(a.warmed) - Number(b.warmed))).toEqual([
      { hourMs: T0, warmed: false, result: 'HIT', reads: 1 },
      { hourMs: T0, warmed: true, result: 'HIT', reads: 1 },
      { hourMs: T0, warmed: false, result: 'MISS', reads: 1 },
      { hourMs: T0, warmed: true, result: 'STALE', reads: 1 },
    ]);
    // The same warmed entry read again later: already recorded, not sent again.
    rec.record(read({ at: T0 + 20_000 }));
    await rec.flush();
    expect(store.uses).toHaveLength(1);
    expect(await metric(registry, 'rte_cache_hit_total')).toEqual({ true: 3, false: 1 });
    expect(await metric(registry, 'rte_cache_hit_rate')).toEqual({ true: 1, false: 0.5 });
  });

  it('a failing store never reaches the caller; the batch is counted as an error', async () => {
    const store = new FakeStore();
    store.fail = true;
    const registry = new Registry();
    const rec = createWarmUsageRecorder({ store, registry, logger: silentLogger(), flushIntervalMs: 0 });
    expect(() => rec.record(read({}))).not.toThrow();
    await expect(rec.flush()).resolves.toBeUndefined();
    expect(await metric(registry, 'rte_warm_usage_writes_total')).toEqual({ 'first_use,error': 1, 'read_counts,error': 1 });
  });

  it('the hit-rate gauge covers the rolling window only and is absent without reads', async () => {
    let now = T0;
    const registry = new Registry();
    const rec = createWarmUsageRecorder({ store: new FakeStore(), registry, logger: silentLogger(), flushIntervalMs: 0, clock: () => now, hitRateWindowMs: 15 * 60_000 });
    expect(await metric(registry, 'rte_cache_hit_rate')).toEqual({});
    rec.record(read({ at: T0, result: 'MISS', entry: null }));
    now = T0 + 10 * 60_000;
    rec.record(read({ at: now, result: 'HIT', entry: null }));
    expect(await metric(registry, 'rte_cache_hit_rate')).toEqual({ false: 0.5 });
    now = T0 + 20 * 60_000;
    expect(await metric(registry, 'rte_cache_hit_rate')).toEqual({ false: 1 });
  });

  it('bounds the buffer of first uses', async () => {
    const store = new FakeStore();
    const registry = new Registry();
    const rec = createWarmUsageRecorder({ store, registry, logger: silentLogger(), flushIntervalMs: 0, maxPendingUses: 2 });
    for (const h of ['a', 'b', 'c']) rec.record(read({ memberHash: h }));
    await rec.flush();
    expect(store.uses[0]).toHaveLength(2);
    expect(await metric(registry, 'rte_warm_usage_dropped_total')).toEqual({ '': 1 });
  });
});
