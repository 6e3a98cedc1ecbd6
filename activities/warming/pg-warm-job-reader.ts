import type { Pool } from 'pg';
import type { WarmOutcome, WarmingPriority, WarmingStrategyName } from '../../lib/warming/types';
import type { WarmJobDurableState, WarmJobReader, WarmJobStatus } from './ports';

const REASONS_SHOWN = 10;

/**
 * WarmJobReader over PostgreSQL (cache_warming_jobs, cache_warms; read-only, for the API's GetWarmingJob). Three
 * small reads on the job's primary key: the job row, counts by outcome (with skipped members), the top failure reasons.
 */
export function createPgWarmJobReader(pool: Pick<Pool, 'query'>): WarmJobReader {
  return {
    async read(jobId) {
      const job = await pool.query<{
        source: string;
        priority: WarmingPriority;
        strategy: WarmingStrategyName;
        status: WarmJobStatus;
        created_ms: number;
        started_ms: number | null;
        finished_ms: number | null;
        updated_ms: number | null;
        requested_by: string | null;
        status_reason: string | null;
        members: number | null;
        operations: string[] | null;
      }>(
        `SELECT source, priority, strategy, status, requested_by, status_reason, members, operations,
                extract(epoch FROM created_at) * 1000 AS created_ms, extract(epoch FROM started_at) * 1000 AS started_ms,
                extract(epoch FROM finished_at) * 1000 AS finished_ms, extract(epoch FROM updated_at) * 1000 AS updated_ms
           FROM cache_warming_jobs WHERE job_id = $1`,
        [jobId],
      );
      const row = job.rows[0];
      if (!row) return undefined;
      const [byOutcome, reasons] = await Promise.all([
        pool.query<{ outcome: WarmOutcome; n: string; skipped_members: string; last_ms: number | null }>(
          `SELECT outcome, count(*) AS n, 0 AS skipped_members, max(extract(epoch FROM greatest(completed_at, accepted_at))) * 1000 AS last_ms
             FROM cache_warms WHERE job_id = $1 GROUP BY outcome
           UNION ALL
           SELECT 'skipped_members', 0, count(*), NULL FROM (
             SELECT member_hash FROM cache_warms WHERE job_id = $1 GROUP BY member_hash HAVING bool_and(path = 'none')) s`,
          [jobId],
        ),
        pool.query<{ reason: string; n: string }>(
          `SELECT reason, count(*) AS n FROM cache_warms
            WHERE job_id = $1 AND outcome IN ('failed', 'cancelled') AND reason IS NOT NULL
            GROUP BY reason ORDER BY count(*) DESC, reason LIMIT ${REASONS_SHOWN}`,
          [jobId],
        ),
      ]);
      const counts: Record<WarmOutcome, number> = { pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0 };
      let membersSkipped = 0;
      let lastWarmMs = 0;
      for (const r of byOutcome.rows) {
        if ((r.outcome as string) === 'skipped_members') membersSkipped = Number(r.skipped_members);
        else {
          counts[r.outcome] = Number(r.n);
          lastWarmMs = Math.max(lastWarmMs, Number(r.last_ms ?? 0));
        }
      }
      const num = (x: number | null) => (x === null ? undefined : Math.round(Number(x)));
      const state: WarmJobDurableState = {
        jobId,
        source: row.source,
        priority: row.priority,
        strategy: row.strategy,
        status: row.status,
        createdAtMs: num(row.created_ms)!,
        updatedAtMs: Math.max(num(row.updated_ms) ?? num(row.created_ms)!, Math.round(lastWarmMs)),
        counts,
        membersSkipped,
        failureReasons: reasons.rows.map((r) => ({ reason: r.reason, count: Number(r.n) })),
      };
      const started = num(row.started_ms);
      const finished = num(row.finished_ms);
      if (started !== undefined) state.startedAtMs = started;
      if (finished !== undefined) state.finishedAtMs = finished;
      if (row.requested_by !== null) state.requestedBy = row.requested_by;
      if (row.status_reason !== null) state.reason = row.status_reason;
      if (row.members !== null) state.members = row.members;
      if (row.operations !== null) state.operations = row.operations;
      return state;
    },
  };
}
