import type { Pool } from 'pg';
import type { ActivityPredictor } from '../lib/prediction/types';
import type { Logger } from '../lib/logger';
import { PgMemberCronSources } from '../activities/member-cron/pg-member-sources';

/**
 * The predictor's latest prediction per member (directory/migrations/005_member_predictions.sql): the one
 * probability MemberQuery's `min_app_usage_probability` filter and APP_USAGE_PROBABILITY sort read (issue 9).
 * Written by member-cron runs (activities/member-cron) and by the bootstrap pass below.
 */
export interface MemberPredictionRow {
  memberId: string;
  appUsageProbability: number;
  confidence: number;
  windowStartMs: number | null;
  windowEndMs: number | null;
  modelVersion: string;
  computedAtMs: number;
}

export interface MemberPredictionStore {
  /** Idempotent batched upsert; an older prediction never overwrites a newer one (replays, late retries). */
  upsert(rows: readonly MemberPredictionRow[]): Promise<number>;
}

export function createPgMemberPredictionStore(pool: Pool): MemberPredictionStore {
  return {
    async upsert(rows) {
      if (rows.length === 0) return 0;
      const r = await pool.query(
        `INSERT INTO member_predictions AS p
           (member_id, app_usage_probability, confidence, predicted_window_start, predicted_window_end, model_version, computed_at)
         SELECT u.member_id, u.p, u.c,
                CASE WHEN u.ws IS NULL THEN NULL ELSE to_timestamp(u.ws / 1000.0) END,
                CASE WHEN u.we IS NULL THEN NULL ELSE to_timestamp(u.we / 1000.0) END,
                u.v, to_timestamp(u.at / 1000.0)
           FROM unnest($1::text[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], $6::text[], $7::float8[])
                AS u(member_id, p, c, ws, we, v, at)
         ON CONFLICT (member_id) DO UPDATE SET
           app_usage_probability = EXCLUDED.app_usage_probability,
           confidence = EXCLUDED.confidence,
           predicted_window_start = EXCLUDED.predicted_window_start,
           predicted_window_end = EXCLUDED.predicted_window_end,
           model_version = EXCLUDED.model_version,
           computed_at = EXCLUDED.computed_at
         WHERE p.computed_at <= EXCLUDED.computed_at`,
        [
          rows.map((x) => x.memberId),
          rows.map((x) => x.appUsageProbability),
          rows.map((x) => x.confidence),
          rows.map((x) => x.windowStartMs),
          rows.map((x) => x.windowEndMs),
          rows.map((x) => x.modelVersion),
          rows.map((x) => x.computedAtMs),
        ],
      );
      return r.rowCount ?? 0;
    },
  };
}

export async function countMemberPredictions(pool: Pool): Promise<number> {
  const r = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM member_predictions');
  return r.rows[0]?.n ?? 0;
}

/**
 * Bootstrap prediction pass: predicts every member of the directory as of `now` and upserts the results, in pages
 * of `pageSize` members (two reads and one upsert per page). Run on the up path when member_predictions is empty,
 * so a fresh stack's daily-rte-warmup schedule (filter app_usage_probability > 0.5) selects members on its first
 * run; afterwards member-cron runs keep the table current.
 */
export async function predictPopulation(
  pool: Pool,
  predictor: ActivityPredictor,
  opts: { now: Date; historyDays?: number; pageSize?: number; logger?: Logger },
): Promise<{ predicted: number }> {
  const sources = new PgMemberCronSources(pool);
  const store = createPgMemberPredictionStore(pool);
  const historyDays = opts.historyDays ?? 90;
  const pageSize = opts.pageSize ?? 1000;
  const now = opts.now.getTime();
  let after = '';
  let predicted = 0;
  for (;;) {
    const ids = (await pool.query<{ member_id: string }>('SELECT member_id FROM members WHERE member_id > $1 ORDER BY member_id LIMIT $2', [after, pageSize])).rows.map(
      (r) => r.member_id,
    );
    if (ids.length === 0) break;
    after = ids[ids.length - 1] as string;
    const snapshots = await sources.getMemberSnapshots(ids);
    const history = await sources.getRecentEvents(ids, new Date(now - historyDays * 86_400_000), opts.now);
    const rows: MemberPredictionRow[] = [];
    for (const id of ids) {
      const m = snapshots.get(id);
      if (!m) continue;
      const p = predictor.predict({ now, timeZone: m.timeZone, events: history.get(id) ?? [], nextAppointmentAt: m.nextAppointmentAt?.getTime() ?? null, historyDays });
      rows.push({
        memberId: id,
        appUsageProbability: p.appUsageProbability,
        confidence: p.confidence,
        windowStartMs: p.predictedWindow?.startMs ?? null,
        windowEndMs: p.predictedWindow?.endMs ?? null,
        modelVersion: p.modelVersion,
        computedAtMs: now,
      });
    }
    await store.upsert(rows);
    predicted += rows.length;
    if (predicted % 20_000 < pageSize) opts.logger?.info({ predicted }, 'bootstrap predictions');
  }
  return { predicted };
}
