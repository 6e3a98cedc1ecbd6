import type { Pool } from 'pg';
import type { BatchErrorStore, BatchOutcomeStore, MemberListStore, StoredBatchError } from './ports';

/**
 * PostgreSQL adapters: raw member ids stay in PostgreSQL (CONVENTIONS: never in Redis, logs or Kafka).
 * Tables come from directory/migrations/002_batch_tables.sql and 004_batch_member_outcomes.sql.
 */
const WRITE_CHUNK = 10_000;

/** Runs `write` over consecutive slices of at most WRITE_CHUNK items (one INSERT ... unnest per slice). */
async function inChunks<T>(items: readonly T[], write: (part: readonly T[], offset: number) => Promise<unknown>): Promise<void> {
  for (let off = 0; off < items.length; off += WRITE_CHUNK) await write(items.slice(off, off + WRITE_CHUNK), off);
}

export function createPgMemberListStore(pool: Pool): MemberListStore {
  return {
    async write(listRef, start, ids) {
      await inChunks(ids, (part, off) =>
        pool.query(
          `INSERT INTO batch_member_lists (list_ref, idx, member_id)
           SELECT $1, i, m FROM unnest($2::int[], $3::text[]) AS t(i, m)
           ON CONFLICT (list_ref, idx) DO NOTHING`,
          [listRef, part.map((_, i) => start + off + i), part],
        ),
      );
    },
    async read(listRef, start, count) {
      const r = await pool.query<{ member_id: string }>(
        'SELECT member_id FROM batch_member_lists WHERE list_ref = $1 AND idx >= $2 AND idx < $3 ORDER BY idx',
        [listRef, start, start + count],
      );
      return r.rows.map((row) => row.member_id);
    },
    async readAt(listRef, indexes) {
      if (indexes.length === 0) return new Map();
      const r = await pool.query<{ idx: number; member_id: string }>('SELECT idx, member_id FROM batch_member_lists WHERE list_ref = $1 AND idx = ANY($2::int[])', [listRef, [...indexes]]);
      return new Map(r.rows.map((row) => [Number(row.idx), row.member_id]));
    },
    async delete(listRef) {
      await pool.query('DELETE FROM batch_member_lists WHERE list_ref = $1', [listRef]);
    },
  };
}

export function createPgBatchErrorStore(pool: Pool): BatchErrorStore {
  return {
    async record(batchId, errors) {
      await inChunks(errors, (part) =>
        pool.query(
          `INSERT INTO batch_member_errors (batch_id, member_index, member_id, error_code, error_message, occurred_at)
           SELECT $1, i, m, c, msg, to_timestamp(t / 1000.0)
           FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::float8[]) AS x(i, m, c, msg, t)
           ON CONFLICT (batch_id, member_index) DO UPDATE
             SET error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message, occurred_at = EXCLUDED.occurred_at`,
          [batchId, part.map((e) => e.memberIndex), part.map((e) => e.memberId), part.map((e) => e.errorCode), part.map((e) => e.errorMessage), part.map((e) => e.occurredAtMs)],
        ),
      );
    },
    async page(batchId, afterIndex, limit) {
      const [rows, count] = await Promise.all([
        pool.query<{ member_index: number; member_id: string; error_code: string; error_message: string; occurred_at: Date }>(
          `SELECT member_index, member_id, error_code, error_message, occurred_at FROM batch_member_errors
           WHERE batch_id = $1 AND member_index > $2 ORDER BY member_index LIMIT $3`,
          [batchId, afterIndex, limit],
        ),
        pool.query<{ n: string }>('SELECT count(*)::text AS n FROM batch_member_errors WHERE batch_id = $1', [batchId]),
      ]);
      const errors: StoredBatchError[] = rows.rows.map((r) => ({
        memberIndex: r.member_index,
        memberId: r.member_id,
        errorCode: r.error_code,
        errorMessage: r.error_message,
        occurredAtMs: r.occurred_at.getTime(),
      }));
      return { errors, total: Number(count.rows[0]?.n ?? 0) };
    },
  };
}

export function createPgBatchOutcomeStore(pool: Pool): BatchOutcomeStore {
  return {
    async record(batchId, outcomes) {
      await inChunks(outcomes, (part) =>
        pool.query(
          `INSERT INTO batch_member_outcomes (batch_id, member_index, member_id, success, duration_ms, error_message)
           SELECT $1, i, m, ok, d, e FROM unnest($2::int[], $3::text[], $4::bool[], $5::int[], $6::text[]) AS x(i, m, ok, d, e)
           ON CONFLICT (batch_id, member_index) DO NOTHING`,
          [
            batchId,
            part.map((o) => o.memberIndex),
            part.map((o) => o.memberId),
            part.map((o) => o.success),
            part.map((o) => (o.durationMs === undefined ? null : Math.max(0, Math.round(o.durationMs)))),
            part.map((o) => o.errorMessage ?? null),
          ],
        ),
      );
    },
    async read(batchId, afterSeq, limit) {
      const r = await pool.query<{ seq: string; member_index: number; member_id: string; success: boolean; duration_ms: number | null; error_message: string | null }>(
        // Order by the bigint column, not the text alias of the select list ("10000" < "9").
        `SELECT o.seq::text AS seq, o.member_index, o.member_id, o.success, o.duration_ms, o.error_message FROM batch_member_outcomes o
         WHERE o.batch_id = $1 AND o.seq > $2 ORDER BY o.seq LIMIT $3`,
        [batchId, afterSeq, limit],
      );
      return r.rows.map((row) => ({
        seq: Number(row.seq),
        memberIndex: row.member_index,
        memberId: row.member_id,
        success: row.success,
        ...(row.duration_ms !== null ? { durationMs: row.duration_ms } : {}),
        ...(row.error_message !== null ? { errorMessage: row.error_message } : {}),
      }));
    },
    async purge(olderThanMs) {
      const r = await pool.query('DELETE FROM batch_member_outcomes WHERE recorded_at < now() - make_interval(secs => $1)', [olderThanMs / 1000]);
      return r.rowCount ?? 0;
    },
  };
}
