import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { GetWarmingStatsRequestSchema } from '../../gen/rte/v1/warming_pb';
import { FieldError } from '../errors';
import { aggregateWarmRows, computeWarmingStats, DAY_MS, validateGetWarmingStats, type ReadCount, type WarmRow } from './stats';

const H = 3_600_000;
const T0 = Date.parse('2024-11-15T00:00:00.000Z');

const fieldOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof FieldError) return err.fieldPath;
    throw err;
  }
  throw new Error('expected a FieldError');
};

const req = (start?: number, end?: number, sources: string[] = []) =>
  create(GetWarmingStatsRequestSchema, { ...(start !== undefined ? { startTime: timestampFromMs(start) } : {}), ...(end !== undefined ? { endTime: timestampFromMs(end) } : {}), sources });

describe('validateGetWarmingStats', () => {
  it.each([
    ['missing start', 'start_time', req(undefined, T0)],
    ['missing end', 'end_time', req(T0, undefined)],
    ['end == start', 'end_time', req(T0, T0)],
    ['end before start', 'end_time', req(T0, T0 - 1)],
    ['range wider than 93 days', 'end_time', req(T0, T0 + 93 * DAY_MS + 1)],
    ['empty source', 'sources[1]', req(T0, T0 + H, ['ok', ''])],
    ['source with a newline', 'sources[0]', req(T0, T0 + H, ['a\nb'])],
  ])('%s → invalid_argument naming %s', (_name, field, r) => {
    expect(fieldOf(() => validateGetWarmingStats(r))).toBe(field);
  });

  it('an end 1 ns after the start is refused by a message that is true: the range is read in whole milliseconds', () => {
    const r = create(GetWarmingStatsRequestSchema, {
      startTime: { seconds: BigInt(T0 / 1000), nanos: 500_000_000 },
      endTime: { seconds: BigInt(T0 / 1000), nanos: 500_000_001 },
    });
    expect(() => validateGetWarmingStats(r)).toThrow('end_time: must be at least 1 ms later than start_time');
    expect(fieldOf(() => validateGetWarmingStats(r))).toBe('end_time');
  });

  it('an unknown field is refused with its number', () => {
    const r = req(T0, T0 + H);
    r.$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
    expect(fieldOf(() => validateGetWarmingStats(r))).toBe('(field 9)');
  });

  it('accepts exactly 93 days and de-duplicates sources', () => {
    expect(validateGetWarmingStats(req(T0, T0 + 93 * DAY_MS, ['a', 'b', 'a']))).toEqual({ startMs: T0, endMs: T0 + 93 * DAY_MS, sources: ['a', 'b'] });
  });
});

/** A warmed row completed at T0 + h hours that took `tookMs`, optionally used at T0 + usedH hours. */
function warm(member: string, source: string, h: number, opts: Partial<WarmRow> & { usedH?: number; tookMs?: number } = {}): WarmRow {
  const completedAt = T0 + h * H;
  return {
    memberHash: member,
    operation: opts.operation ?? 'check_eligibility',
    source,
    outcome: opts.outcome ?? 'warmed',
    startedAt: opts.startedAt !== undefined ? opts.startedAt : completedAt - (opts.tookMs ?? 1000),
    completedAt,
    horizonUntil: opts.horizonUntil ?? null,
    firstUsedAt: opts.usedH !== undefined ? T0 + opts.usedH * H : null,
  };
}

describe('warming stats arithmetic', () => {
  const rows: WarmRow[] = [
    warm('m1', 'schedule-morning-preload', 1, { usedH: 3, tookMs: 2000 }), // used in its 24 h horizon
    warm('m2', 'schedule-morning-preload', 2, { usedH: 30, tookMs: 4000 }), // used after the horizon: not used
    warm('m3', 'member-cron-daily', 3, { horizonUntil: T0 + 5 * H, tookMs: 6000 }), // explicit horizon, closed, unused
    warm('m4', 'member-cron-daily', 4, { horizonUntil: T0 + 60 * H, startedAt: null }), // horizon open, unused: not scored
    warm('m1', 'member-cron-daily', 5, { usedH: 6, tookMs: 8000 }), // same member again, another source, used
    warm('m1', 'member-cron-daily', 6, { operation: 'get_benefits', tookMs: 10_000 }), // other operation: another pair
    warm('m5', 'schedule-morning-preload', 7, { outcome: 'failed' }), // not a warm
    warm('m6', 'schedule-morning-preload', 30), // outside the range
  ];
  const q = { startMs: T0, endMs: T0 + 24 * H, sources: [] as string[] };
  const now = T0 + 48 * H;

  it('counts, by source, hits avoided, accuracy and duration as docs/warming-stats.md defines them', () => {
    const agg = aggregateWarmRows(rows, q, now);
    expect(agg.total).toEqual({ warmedPairs: 5, warms: 6, usedInHorizon: 2, scored: 5, durationMsSum: 30_000, durationCount: 5 });
    const f = computeWarmingStats({ ...agg, reads: [] });
    expect(f).toMatchObject({
      totalMembersWarmed: 5, // (m1,ce) twice, (m2,ce), (m3,ce), (m4,ce), (m1,gb)
      bySource: { 'member-cron-daily': 4, 'schedule-morning-preload': 2 },
      cacheHitsAvoided: 2,
      predictionAccuracy: 2 / 5,
      avgWarmDurationMs: 6000,
      cacheHitRateImprovement: 0,
    });
  });

  it('a source filter narrows every figure', () => {
    const agg = aggregateWarmRows(rows, { ...q, sources: ['schedule-morning-preload'] }, now);
    expect(computeWarmingStats({ ...agg, reads: [] })).toMatchObject({ totalMembersWarmed: 2, bySource: { 'schedule-morning-preload': 2 }, cacheHitsAvoided: 1, predictionAccuracy: 0.5, avgWarmDurationMs: 3000 });
  });

  it('nothing scored yet → accuracy 0 and no average duration', () => {
    const agg = aggregateWarmRows([warm('m1', 's', 1, { startedAt: null })], q, T0 + 2 * H);
    expect(computeWarmingStats({ ...agg, reads: [] })).toMatchObject({ totalMembersWarmed: 1, predictionAccuracy: 0, avgWarmDurationMs: undefined });
  });

  it('hit-rate improvement: (HIT+STALE)/reads of warmed minus not-warmed; 0 unless both groups read', () => {
    const reads: ReadCount[] = [
      { warmed: true, result: 'HIT', reads: 45 },
      { warmed: true, result: 'STALE', reads: 1 },
      { warmed: true, result: 'MISS', reads: 4 },
      { warmed: false, result: 'HIT', reads: 60 },
      { warmed: false, result: 'MISS', reads: 30 },
      { warmed: false, result: 'ERROR', reads: 10 },
    ];
    const f = computeWarmingStats({ total: aggregateWarmRows([], q, now).total, bySource: new Map(), reads });
    expect(f.hitRateWarmed).toBeCloseTo(0.92, 10);
    expect(f.hitRateNotWarmed).toBeCloseTo(0.6, 10);
    expect(f.cacheHitRateImprovement).toBeCloseTo(0.32, 10);
    expect(computeWarmingStats({ total: aggregateWarmRows([], q, now).total, bySource: new Map(), reads: reads.filter((r) => r.warmed) }).cacheHitRateImprovement).toBe(0);
  });
});
