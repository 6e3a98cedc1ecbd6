import type { Pool } from 'pg';
import type { LifecycleEvent } from '../../lib/prediction/types';
import type { MemberActivitySource, MemberContextSource, MemberSnapshot } from './ports';

/**
 * PostgreSQL adapters over the member directory schema (directory/migrations/001_member_directory.sql):
 * member snapshot for the event context, and recent lifecycle events for prediction. Both take one page
 * of ids and answer with one query each.
 */
export class PgMemberCronSources implements MemberContextSource, MemberActivitySource {
  constructor(private readonly pool: Pool) {}

  async getMemberSnapshots(memberIds: readonly string[]): Promise<Map<string, MemberSnapshot>> {
    const out = new Map<string, MemberSnapshot>();
    if (memberIds.length === 0) return out;
    const r = await this.pool.query<{
      member_id: string;
      sponsor_id: string;
      population_ids: string[];
      rte_enabled: boolean;
      last_eligibility_check_at: Date | null;
      time_zone: string;
      next_appointment_at: Date | null;
    }>(
      `SELECT m.member_id, m.sponsor_id, m.population_ids, m.rte_enabled, m.last_eligibility_check_at, m.time_zone,
              e.next_appointment_at
         FROM members m LEFT JOIN member_engagement e ON e.member_key = m.member_key
        WHERE m.member_id = ANY($1::text[])`,
      [memberIds],
    );
    for (const row of r.rows) {
      out.set(row.member_id, {
        memberId: row.member_id,
        sponsorId: row.sponsor_id,
        populationIds: row.population_ids,
        rteEnabled: row.rte_enabled,
        lastEligibilityCheckAt: row.last_eligibility_check_at,
        timeZone: row.time_zone,
        nextAppointmentAt: row.next_appointment_at,
      });
    }
    return out;
  }

  async getRecentEvents(memberIds: readonly string[], since: Date, until: Date): Promise<Map<string, LifecycleEvent[]>> {
    const out = new Map<string, LifecycleEvent[]>();
    if (memberIds.length === 0) return out;
    const r = await this.pool.query<{ member_id: string; at: string; event_type: string; feature_name: string | null }>(
      `SELECT m.member_id, (extract(epoch FROM ev.occurred_at) * 1000)::bigint AS at, t.event_type, ev.feature_name
         FROM members m
         JOIN member_events ev ON ev.member_key = m.member_key
         JOIN event_types t ON t.event_type_id = ev.event_type_id
        WHERE m.member_id = ANY($1::text[]) AND ev.occurred_at >= $2 AND ev.occurred_at < $3`,
      [memberIds, since, until],
    );
    for (const row of r.rows) {
      const list = out.get(row.member_id) ?? [];
      list.push({ type: row.event_type.slice(row.event_type.lastIndexOf('.') + 1), at: Number(row.at), feature: row.feature_name });
      out.set(row.member_id, list);
    }
    return out;
  }
}
