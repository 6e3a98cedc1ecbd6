import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { GetWarmingStatsRequest } from '../../gen/rte/v1/warming_pb';
import { FieldError } from '../errors';

/**
 * GetWarmingStats arithmetic (pure). Definitions, and the SQL that computes each figure by hand from
 * cache_warms / cache_read_counts, are in docs/warming-stats.md; keep the three in step.
 */

export const DAY_MS = 86_400_000;
/** Widest range one call may ask for (a quarter): bounds the scan of cache_warms. */
export const MAX_STATS_RANGE_MS = 93 * DAY_MS;
export const MAX_STATS_SOURCES = 100;
/** A warm without horizon_until counts as used if read within this long after completion (lib/warming/types.ts). */
export const DEFAULT_WARM_HORIZON_MS = DAY_MS;
/** Read results that count as a cache hit: the answer came from the cache without waiting for Stedi. */
export const HIT_RESULTS: ReadonlySet<string> = new Set(['HIT', 'STALE']);

export interface StatsQuery {
  startMs: number;
  endMs: number;
  /** Empty = every source. */
  sources: string[];
}

const SOURCE = /^[^\s\p{Cc}][^\p{Cc}]{0,127}$/u;

export function validateGetWarmingStats(req: GetWarmingStatsRequest): StatsQuery {
  const unknown = req.$unknown;
  if (unknown && unknown.length > 0) throw new FieldError(`(field ${unknown[0]!.no})`, 'is not a known field of GetWarmingStatsRequest');
  const ts = (field: 'start_time' | 'end_time') => {
    const t = field === 'start_time' ? req.startTime : req.endTime;
    if (!t) throw new FieldError(field, 'is required');
    if (t.nanos < 0 || t.nanos > 999_999_999) throw new FieldError(field, 'invalid timestamp');
    const ms = timestampMs(t);
    if (!Number.isFinite(ms) || ms < Date.UTC(2000, 0, 1) || ms > Date.UTC(2200, 0, 1)) throw new FieldError(field, 'timestamp out of range');
    return ms;
  };
  const startMs = ts('start_time');
  const endMs = ts('end_time');
  // The figures are computed at millisecond precision (timestampMs rounds to the nearest ms): a range that rounds
  // to nothing is refused with a message that says so, not "must be later" for an end that is later.
  if (endMs <= startMs) throw new FieldError('end_time', 'must be at least 1 ms later than start_time once both are rounded to whole milliseconds (the range is [start_time, end_time))');
  if (endMs - startMs > MAX_STATS_RANGE_MS) throw new FieldError('end_time', `the range may span at most ${MAX_STATS_RANGE_MS / DAY_MS} days`);
  if (req.sources.length > MAX_STATS_SOURCES) throw new FieldError('sources', `at most ${MAX_STATS_SOURCES} sources`);
  req.sources.forEach((s, i) => {
    if (!SOURCE.test(s)) throw new FieldError(`sources[${i}]`, 'must be 1-128 characters, no control characters, not starting with a space');
  });
  return { startMs, endMs, sources: [...new Set(req.sources)] };
}

/** One row of cache_warms, as far as the stats read it. Times are epoch ms. */
export interface WarmRow {
  memberHash: string;
  operation: string;
  source: string;
  outcome: string;
  startedAt: number | null;
  completedAt: number | null;
  horizonUntil: number | null;
  firstUsedAt: number | null;
}

/** Per-source aggregate of the warms in range (what the SQL in the PostgreSQL reader returns). */
export interface WarmAggregate {
  /** Distinct member_hash + operation pairs warmed. */
  warmedPairs: number;
  /** Warm rows (a pair warmed twice in range counts twice here). */
  warms: number;
  /** Warms first read by an interactive check before their horizon closed. */
  usedInHorizon: number;
  /** Warms whose outcome is known at `now`: used within the horizon, or the horizon has closed. */
  scored: number;
  /** Sum of completed_at − started_at over warms with started_at set. */
  durationMsSum: number;
  durationCount: number;
}

export interface ReadCount {
  warmed: boolean;
  result: string;
  reads: number;
}

export interface WarmingStatsInput {
  /** Aggregate over every source in the filter (distinct pairs are not additive across sources). */
  total: WarmAggregate;
  bySource: ReadonlyMap<string, WarmAggregate>;
  reads: readonly ReadCount[];
}

export interface WarmingStatsFigures {
  totalMembersWarmed: number;
  bySource: Record<string, number>;
  cacheHitsAvoided: number;
  /** 0 when no warm is scored yet. */
  predictionAccuracy: number;
  /** Absent when no warm in range has a start time. */
  avgWarmDurationMs: number | undefined;
  /** hitRate(warmed) − hitRate(not warmed); 0 unless both groups have reads. */
  cacheHitRateImprovement: number;
  hitRateWarmed: number | undefined;
  hitRateNotWarmed: number | undefined;
}

export const EMPTY_AGGREGATE: WarmAggregate = Object.freeze({ warmedPairs: 0, warms: 0, usedInHorizon: 0, scored: 0, durationMsSum: 0, durationCount: 0 });

function hitRate(reads: readonly ReadCount[], warmed: boolean): number | undefined {
  let hits = 0;
  let all = 0;
  for (const r of reads) {
    if (r.warmed !== warmed) continue;
    all += r.reads;
    if (HIT_RESULTS.has(r.result)) hits += r.reads;
  }
  return all > 0 ? hits / all : undefined;
}

export function computeWarmingStats(input: WarmingStatsInput): WarmingStatsFigures {
  const t = input.total;
  const bySource: Record<string, number> = {};
  for (const [source, a] of [...input.bySource].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) if (a.warmedPairs > 0) bySource[source] = a.warmedPairs;
  const warmed = hitRate(input.reads, true);
  const notWarmed = hitRate(input.reads, false);
  return {
    totalMembersWarmed: t.warmedPairs,
    bySource,
    cacheHitsAvoided: t.usedInHorizon,
    predictionAccuracy: t.scored > 0 ? t.usedInHorizon / t.scored : 0,
    avgWarmDurationMs: t.durationCount > 0 ? t.durationMsSum / t.durationCount : undefined,
    cacheHitRateImprovement: warmed !== undefined && notWarmed !== undefined ? warmed - notWarmed : 0,
    hitRateWarmed: warmed,
    hitRateNotWarmed: notWarmed,
  };
}

/**
 * Reference aggregation over raw rows: the definitions in code (the PostgreSQL reader computes the same in SQL;
 * tests hold the two equal). `now` decides which horizons have closed.
 */
export function aggregateWarmRows(rows: readonly WarmRow[], q: StatsQuery, now: number): { total: WarmAggregate; bySource: Map<string, WarmAggregate> } {
  const inRange = rows.filter(
    (r) => r.outcome === 'warmed' && r.completedAt !== null && r.completedAt >= q.startMs && r.completedAt < q.endMs && (q.sources.length === 0 || q.sources.includes(r.source)),
  );
  const agg = (list: readonly WarmRow[]): WarmAggregate => {
    const pairs = new Set<string>();
    const a = { ...EMPTY_AGGREGATE };
    for (const r of list) {
      pairs.add(`${r.memberHash}\u0000${r.operation}`);
      a.warms++;
      const horizon = r.horizonUntil ?? r.completedAt! + DEFAULT_WARM_HORIZON_MS;
      const used = r.firstUsedAt !== null && r.firstUsedAt < horizon;
      if (used) a.usedInHorizon++;
      if (used || horizon <= now) a.scored++;
      if (r.startedAt !== null) {
        a.durationMsSum += r.completedAt! - r.startedAt;
        a.durationCount++;
      }
    }
    a.warmedPairs = pairs.size;
    return a;
  };
  const bySource = new Map<string, WarmAggregate>();
  for (const source of new Set(inRange.map((r) => r.source))) bySource.set(source, agg(inRange.filter((r) => r.source === source)));
  return { total: agg(inRange), bySource };
}
