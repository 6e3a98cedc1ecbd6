import type { Pool } from 'pg';
import type { WarmOutcome, WarmPath } from '../../lib/warming/types';
import { decisionKey, type WarmDecisionRow, type WarmRecordStore } from './ports';

const CHUNK = 5_000;

/** WarmRecordStore over PostgreSQL (cache_warming_jobs, cache_warms). `hash` = hashMemberId with the cache key secret. */
export function createPgWarmRecordStore(pool: Pool, hash: (memberId: string) => string, metrics?: { onResult(result: string, n: number): void; onRequest(source: string, priority: string, n: number): void }): WarmRecordStore {
  const ts = (ms: number | undefined | null) => (ms === undefined || ms === null ? null : ms);
  return {
    async upsertJob(job) {
      // requested_by is kept from the first write; the rest follows the job (a retried write is harmless).
      await pool.query(
        `INSERT INTO cache_warming_jobs (job_id, source, priority, strategy, created_at, finished_at, status, requested_by, status_reason, members, operations, started_at, updated_at)
         VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), to_timestamp($6 / 1000.0), $7, $8, $9, $10, $11, to_timestamp($12 / 1000.0), now())
         ON CONFLICT (job_id) DO UPDATE SET status = EXCLUDED.status, finished_at = COALESCE(EXCLUDED.finished_at, cache_warming_jobs.finished_at),
           requested_by = COALESCE(cache_warming_jobs.requested_by, EXCLUDED.requested_by),
           status_reason = COALESCE(EXCLUDED.status_reason, cache_warming_jobs.status_reason),
           members = COALESCE(EXCLUDED.members, cache_warming_jobs.members),
           operations = COALESCE(EXCLUDED.operations, cache_warming_jobs.operations),
           started_at = COALESCE(cache_warming_jobs.started_at, EXCLUDED.started_at),
           updated_at = now()`,
        [
          job.jobId,
          job.source,
          job.priority,
          job.strategy,
          job.createdAtMs,
          ts(job.finishedAtMs),
          job.status,
          job.requestedBy ?? null,
          job.reason?.slice(0, 500) ?? null,
          job.members ?? null,
          job.operations ?? null,
          ts(job.startedAtMs),
        ],
      );
    },

    async decide(ctx, rows) {
      const inserted: WarmDecisionRow[] = [];
      const stored = new Map<string, { path: WarmPath; outcome: WarmOutcome }>();
      for (let off = 0; off < rows.length; off += CHUNK) {
        const part = rows.slice(off, off + CHUNK);
        const hashes = part.map((r) => hash(r.memberId));
        const ins = await pool.query<{ member_hash: string; operation: string }>(
          `INSERT INTO cache_warms (job_id, member_hash, operation, source, priority, path, outcome, reason, accepted_at, not_before, started_at, horizon_until)
           SELECT $1, h, op, $2, $3, p, o, NULLIF(r, ''), to_timestamp($4 / 1000.0), to_timestamp($5 / 1000.0),
                  to_timestamp(NULLIF(s, 0) / 1000.0), to_timestamp($6 / 1000.0)
           FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::float8[]) AS t(h, op, p, o, r, s)
           ON CONFLICT (job_id, member_hash, operation) DO NOTHING
           RETURNING member_hash, operation`,
          [
            ctx.jobId,
            ctx.source,
            ctx.priority,
            ctx.acceptedAtMs,
            ts(ctx.notBeforeMs),
            ts(ctx.horizonUntilMs),
            hashes,
            part.map((r) => r.operation),
            part.map((r) => r.path),
            part.map((r) => r.outcome),
            part.map((r) => r.reason ?? ''),
            part.map((r) => r.startedAtMs ?? 0),
          ],
        );
        const fresh = new Set(ins.rows.map((r) => decisionKey(r.member_hash, r.operation)));
        part.forEach((r, k) => {
          if (fresh.has(decisionKey(hashes[k]!, r.operation))) inserted.push(r);
        });
        const sel = await pool.query<{ member_hash: string; operation: string; path: WarmPath; outcome: WarmOutcome }>(
          `SELECT member_hash, operation, path, outcome FROM cache_warms WHERE job_id = $1 AND member_hash = ANY($2::text[])`,
          [ctx.jobId, hashes],
        );
        for (const r of sel.rows) stored.set(decisionKey(r.member_hash, r.operation), { path: r.path, outcome: r.outcome });
      }
      if (metrics && inserted.length > 0) {
        metrics.onRequest(ctx.source, ctx.priority, inserted.length);
        const skipped: Record<string, number> = {};
        for (const r of inserted) if (r.outcome !== 'pending') skipped[r.outcome] = (skipped[r.outcome] ?? 0) + 1;
        for (const [o, n] of Object.entries(skipped)) metrics.onResult(o, n);
      }
      return { inserted, stored };
    },

    async complete(jobId, rows) {
      if (rows.length === 0) return [];
      const hashes = rows.map((r) => hash(r.memberId));
      // Pending → outcome; or a later cache write of the same job replaces an earlier one (a retried check),
      // so completed_at always equals the fetchedAt of the entry the job last wrote.
      const args = [
        jobId,
        hashes,
        rows.map((x) => x.operation),
        rows.map((x) => x.fetchedAt ?? 0),
        rows.map((x) => x.outcome),
        rows.map((x) => x.reason ?? ''),
        rows.map((x) => x.startedAtMs ?? 0),
      ];
      // started_at moves to when the fetch that wrote the entry started (avg_warm_duration = the warm itself).
      const set = `SET outcome = x.o, reason = NULLIF(x.r, ''), completed_at = to_timestamp(NULLIF(x.f, 0) / 1000.0),
                started_at = CASE WHEN x.s > 0 THEN to_timestamp(x.s / 1000.0) ELSE w.started_at END,
                horizon_until = CASE WHEN x.f > 0 THEN COALESCE(w.horizon_until, to_timestamp(x.f / 1000.0) + interval '24 hours') ELSE w.horizon_until END
           FROM unnest($2::text[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::float8[]) AS x(h, op, f, o, r, s)
          WHERE w.job_id = $1 AND w.member_hash = x.h AND w.operation = x.op`;
      const r = await pool.query<{ member_hash: string; operation: string }>(`UPDATE cache_warms w ${set} AND w.outcome = 'pending' RETURNING w.member_hash, w.operation`, args);
      await pool.query(`UPDATE cache_warms w ${set} AND x.f > 0 AND w.completed_at IS NOT NULL AND w.completed_at < to_timestamp(x.f / 1000.0)`, args);
      const changed = new Set(r.rows.map((x) => decisionKey(x.member_hash, x.operation)));
      const out = rows.filter((x, k) => changed.has(decisionKey(hashes[k]!, x.operation)));
      for (const x of out) metrics?.onResult(x.outcome === 'skipped_fresh' ? 'skipped_fresh' : x.outcome, 1);
      return out;
    },

    async settlePending(jobId, rows) {
      if (rows.length === 0) return 0;
      const r = await pool.query<{ outcome: string }>(
        `UPDATE cache_warms w SET outcome = x.o, reason = x.r
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS x(h, op, o, r, p)
          WHERE w.job_id = $1 AND w.member_hash = x.h AND w.operation = x.op AND w.path = x.p AND w.outcome = 'pending'
         RETURNING w.outcome`,
        [jobId, rows.map((x) => hash(x.memberId)), rows.map((x) => x.operation), rows.map((x) => x.outcome), rows.map((x) => x.reason), rows.map((x) => x.path)],
      );
      const n: Record<string, number> = {};
      for (const x of r.rows) n[x.outcome] = (n[x.outcome] ?? 0) + 1;
      for (const [o, k] of Object.entries(n)) metrics?.onResult(o, k);
      return r.rowCount ?? 0;
    },

    async settleAllPending(jobId, outcome, reason) {
      const r = await pool.query(`UPDATE cache_warms SET outcome = $2, reason = $3 WHERE job_id = $1 AND outcome = 'pending'`, [jobId, outcome, reason.slice(0, 500)]);
      const n = r.rowCount ?? 0;
      if (n > 0) metrics?.onResult(outcome, n);
      return n;
    },

    async counts(jobId) {
      const r = await pool.query<{ outcome: WarmOutcome; n: string }>('SELECT outcome, count(*) AS n FROM cache_warms WHERE job_id = $1 GROUP BY outcome', [jobId]);
      const out: Record<WarmOutcome, number> = { pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0 };
      for (const row of r.rows) out[row.outcome] = Number(row.n);
      return out;
    },
  };
}
