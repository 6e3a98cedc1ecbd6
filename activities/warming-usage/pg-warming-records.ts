import type { Pool } from 'pg';
import { EMPTY_AGGREGATE, type ReadCount, type WarmAggregate } from '../../lib/warming/stats';
import type { ReadCountDelta, WarmAccuracyRow, WarmingStatsReader, WarmUsageStore } from './ports';

/**
 * PostgreSQL adapters over cache_warms / cache_read_counts. The SQL here is the SQL of docs/warming-stats.md;
 * change them together.
 */

const iso = (ms: number) => new Date(ms).toISOString();

/** Horizons are at most this long after completion; bounds the accuracy scan to the completed_at index. */
export const MAX_HORIZON_MS = 7 * 86_400_000;

export function createPgWarmUsageStore(pool: Pool): WarmUsageStore {
  return {
    async markFirstUse(uses) {
      if (uses.length === 0) return 0;
      // Earliest read wins, also across API replicas racing on one row. completed_at is matched to the entry's
      // fetchedAt (ms) within ±1 ms: the writer's timestamp and the entry's come from the same instant, but a
      // float-seconds conversion on either side must not make them miss.
      const r = await pool.query(
        `UPDATE cache_warms w
            SET first_used_at = u.used_at, used_result = u.result
           FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[])
                AS u(member_hash, operation, fetched_at, used_at, result)
          WHERE w.member_hash = u.member_hash AND w.operation = u.operation
            AND w.completed_at > u.fetched_at - interval '1 millisecond'
            AND w.completed_at < u.fetched_at + interval '1 millisecond'
            AND w.outcome = 'warmed'
            AND (w.first_used_at IS NULL OR w.first_used_at > u.used_at)`,
        [uses.map((u) => u.memberHash), uses.map((u) => u.operation), uses.map((u) => iso(u.entryFetchedAt)), uses.map((u) => iso(u.usedAt)), uses.map((u) => u.result)],
      );
      return r.rowCount ?? 0;
    },
    async addReadCounts(deltas) {
      if (deltas.length === 0) return;
      // One row per key (ON CONFLICT may touch a row once per statement), in key order so replicas lock alike.
      const merged = new Map<string, ReadCountDelta>();
      for (const d of deltas) {
        const k = `${d.hourMs}|${d.warmed ? 1 : 0}|${d.result}`;
        const prev = merged.get(k);
        merged.set(k, prev ? { ...prev, reads: prev.reads + d.reads } : { ...d });
      }
      const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
      await pool.query(
        `INSERT INTO cache_read_counts (hour, warmed, result, reads)
         SELECT * FROM unnest($1::timestamptz[], $2::boolean[], $3::text[], $4::bigint[])
         ON CONFLICT (hour, warmed, result) DO UPDATE SET reads = cache_read_counts.reads + EXCLUDED.reads`,
        [rows.map((d) => iso(d.hourMs)), rows.map((d) => d.warmed), rows.map((d) => d.result), rows.map((d) => d.reads)],
      );
    },
  };
}

interface AggregateRow {
  total_row: boolean;
  source: string | null;
  warmed_pairs: number;
  warms: number;
  used_in_horizon: number;
  scored: number;
  duration_ms_sum: number;
  duration_count: number;
}

/** docs/warming-stats.md, query W (the warms in range, with their horizon). */
export const WARMS_IN_RANGE_SQL = `
  SELECT member_hash, operation, source, started_at, completed_at, first_used_at,
         COALESCE(horizon_until, completed_at + interval '24 hours') AS horizon
    FROM cache_warms
   WHERE outcome = 'warmed'
     AND completed_at >= $1::timestamptz AND completed_at < $2::timestamptz
     AND (cardinality($3::text[]) = 0 OR source = ANY($3::text[]))`;

export function createPgWarmingStatsReader(pool: Pool): WarmingStatsReader {
  return {
    async aggregates(q, nowMs) {
      const r = await pool.query<AggregateRow>(
        `WITH w AS (${WARMS_IN_RANGE_SQL})
         SELECT GROUPING(source) = 1 AS total_row, source,
                count(DISTINCT (member_hash, operation))::int AS warmed_pairs,
                count(*)::int AS warms,
                count(*) FILTER (WHERE first_used_at < horizon)::int AS used_in_horizon,
                count(*) FILTER (WHERE first_used_at < horizon OR horizon <= $4::timestamptz)::int AS scored,
                COALESCE(sum(extract(epoch FROM completed_at - started_at) * 1000), 0)::float8 AS duration_ms_sum,
                count(started_at)::int AS duration_count
           FROM w
          GROUP BY GROUPING SETS ((source), ())`,
        [iso(q.startMs), iso(q.endMs), q.sources, iso(nowMs)],
      );
      let total: WarmAggregate = { ...EMPTY_AGGREGATE };
      const bySource = new Map<string, WarmAggregate>();
      for (const row of r.rows) {
        const a: WarmAggregate = {
          warmedPairs: row.warmed_pairs,
          warms: row.warms,
          usedInHorizon: row.used_in_horizon,
          scored: row.scored,
          durationMsSum: row.duration_ms_sum,
          durationCount: row.duration_count,
        };
        if (row.total_row) total = a;
        else if (row.source !== null) bySource.set(row.source, a);
      }
      return { total, bySource };
    },
    async readCounts(q) {
      const r = await pool.query<{ warmed: boolean; result: string; reads: number }>(
        `SELECT warmed, result, sum(reads)::float8 AS reads
           FROM cache_read_counts
          WHERE hour >= $1::timestamptz AND hour < $2::timestamptz
          GROUP BY warmed, result`,
        [iso(q.startMs), iso(q.endMs)],
      );
      return r.rows.map((row): ReadCount => ({ warmed: row.warmed, result: row.result, reads: row.reads }));
    },
    async accuracyBySource(nowMs, lookbackMs) {
      const r = await pool.query<WarmAccuracyRow>(
        `WITH w AS (
           SELECT source, first_used_at, COALESCE(horizon_until, completed_at + interval '24 hours') AS horizon
             FROM cache_warms
            WHERE outcome = 'warmed' AND completed_at >= $1::timestamptz AND completed_at <= $2::timestamptz)
         SELECT source, count(*)::int AS scored, count(*) FILTER (WHERE first_used_at < horizon)::int AS used
           FROM w
          WHERE horizon > $3::timestamptz AND horizon <= $2::timestamptz
          GROUP BY source
          ORDER BY count(*) DESC, source`,
        [iso(nowMs - lookbackMs - MAX_HORIZON_MS), iso(nowMs), iso(nowMs - lookbackMs)],
      );
      return r.rows;
    },
  };
}
