import type { ReadCount, StatsQuery, WarmAggregate } from '../../lib/warming/stats';

/**
 * Ports over the durable warming records (directory/migrations/006_cache_warming.sql). Members appear only as
 * keyed hashes (lib/member-hash.ts).
 */

/** Interactive read results as recorded in cache_read_counts. */
export type ReadResult = 'HIT' | 'STALE' | 'MISS' | 'ERROR';

/** The first interactive read served from a warmed entry. */
export interface WarmUse {
  memberHash: string;
  /** The cache entry's operation key (what the warm recorded in cache_warms.operation). */
  operation: string;
  /** The entry's fetchedAt (epoch ms) = cache_warms.completed_at of the warm that wrote it. */
  entryFetchedAt: number;
  /** When the read happened (epoch ms). */
  usedAt: number;
  result: 'HIT' | 'STALE';
}

export interface ReadCountDelta {
  /** Start of the UTC hour (epoch ms). */
  hourMs: number;
  warmed: boolean;
  result: ReadResult;
  reads: number;
}

export interface WarmUsageStore {
  /** Sets first_used_at / used_result on the matching warm rows that have none yet. Returns rows changed. */
  markFirstUse(uses: readonly WarmUse[]): Promise<number>;
  /** Adds to cache_read_counts (upsert, additive: several API replicas write the same hour). */
  addReadCounts(deltas: readonly ReadCountDelta[]): Promise<void>;
}

/** Per-source accuracy over warms whose outcome is known (used within the horizon, or horizon closed). */
export interface WarmAccuracyRow {
  source: string;
  scored: number;
  used: number;
}

export interface WarmingStatsReader {
  aggregates(q: StatsQuery, nowMs: number): Promise<{ total: WarmAggregate; bySource: Map<string, WarmAggregate> }>;
  readCounts(q: StatsQuery): Promise<ReadCount[]>;
  /** Warms scored at `nowMs` whose horizon closed (or that were used) within the lookback, per source. */
  accuracyBySource(nowMs: number, lookbackMs: number): Promise<WarmAccuracyRow[]>;
}
