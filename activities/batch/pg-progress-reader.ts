import type { Pool } from 'pg';
import type { BatchDurableProgress, BatchDurableProgressReader } from './ports';

/**
 * What PostgreSQL durably knows about a batch without asking its workflow (issue 12: GetBatchStatus when the
 * workflow cannot be queried): per-member outcomes recorded so far (batch_member_outcomes) and the size of the
 * batch's member list (batch_member_lists: an id list under `<batchId>#<hash>`, a member_query's resolved members
 * under `<batchId>#query`, complete once the query is resolved, before any member is checked).
 */
export function createPgBatchProgressReader(pool: Pool): BatchDurableProgressReader {
  return {
    async read(batchId): Promise<BatchDurableProgress | undefined> {
      const [o, l] = await Promise.all([
        pool.query<{ completed: string; failed: string; first_ms: string | null; last_ms: string | null }>(
          `SELECT count(*) FILTER (WHERE success)::text AS completed, count(*) FILTER (WHERE NOT success)::text AS failed,
                  (extract(epoch FROM min(recorded_at)) * 1000)::bigint::text AS first_ms,
                  (extract(epoch FROM max(recorded_at)) * 1000)::bigint::text AS last_ms
             FROM batch_member_outcomes WHERE batch_id = $1`,
          [batchId],
        ),
        // Range on the primary key (list_ref, idx): '$' is the character after '#'.
        pool.query<{ n: string; created_ms: string }>(
          `SELECT count(*)::text AS n, (extract(epoch FROM min(created_at)) * 1000)::bigint::text AS created_ms
             FROM batch_member_lists WHERE list_ref >= $1 || '#' AND list_ref < $1 || '$'
            GROUP BY list_ref ORDER BY count(*) DESC LIMIT 1`,
          [batchId],
        ),
      ]);
      const row = o.rows[0]!;
      const list = l.rows[0];
      const completed = Number(row.completed);
      const failed = Number(row.failed);
      if (completed + failed === 0 && !list) return undefined;
      return {
        completed,
        failed,
        ...(list ? { listed: Number(list.n), listedAtMs: Number(list.created_ms) } : {}),
        ...(row.first_ms !== null ? { firstOutcomeAtMs: Number(row.first_ms) } : {}),
        ...(row.last_ms !== null ? { lastOutcomeAtMs: Number(row.last_ms) } : {}),
      };
    },
  };
}
