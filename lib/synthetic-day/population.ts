/**
 * Loads the synthetic population in-process (directory/generator.ts: same rows the directory holds for the
 * seed and size) and splits it into what the platform observes (handed to `onObserved`, e.g. the predictor
 * behind a warming policy) and the latent day (drawn by day.ts, kept here). No PostgreSQL needed.
 *
 * Read model (docs/synthetic-day.md): an RTE-enabled member's session reads check_eligibility once when it
 * opens (the app keeps the answer for the session: responses carry `Cache-Control: private, max-age`);
 * `extraReadsPerSession` adds Poisson re-reads 30 s-15 min into the session (clients that re-ask the API:
 * the calibrated "doc's world" scenario). Members without RTE make no eligibility reads.
 */
import { EVENT_TYPE_BY_ID } from '../../directory/catalog';
import { PopulationGenerator, zoneOffsetMinutes } from '../../directory/generator';
import { Rng, mixSeed } from '../../directory/prng';
import type { LifecycleEvent } from '../prediction/types';
import { drawMemberDay, type SessionKind } from './day';
import { startEntryFromHistory, type ObservedMember } from './observed';
import type { SimWorld } from './sim';

const DAY = 86_400_000;
const KIND_CODE: Record<SessionKind, number> = { routine: 0, habit: 1, pre_visit: 2 };

export interface LoadedDay {
  dayStart: number;
  members: number;
  offsetMs: Float64Array;
  rteEnabled: Uint8Array;
  startOutcome: Uint8Array;
  startFetchedAt: Float64Array;
  /** All members' sessions of the day, sorted by time (kind: 0 routine, 1 habit, 2 pre-visit). */
  sessionMember: Int32Array;
  sessionAt: Float64Array;
  sessionKind: Uint8Array;
  /** Sum of the generator's p_active_next_24h (expected active members) and members with a session. */
  truthActiveExpected: number;
  activeMembers: number;
}

export interface LoadOptions {
  seed: number;
  members: number;
  referenceTime: Date;
  /** Seed of the day's draws (default: derived from `seed`). */
  daySeed?: number;
  chunkSize?: number;
  /** Observable data of each member, at the reference time. */
  onObserved?: (m: ObservedMember, offsetMs: number) => void;
}

export function defaultDaySeed(seed: number): number {
  return mixSeed(seed, 0xda7);
}

export function loadDay(opts: LoadOptions): LoadedDay {
  const ref = opts.referenceTime.getTime();
  const n = opts.members;
  const daySeed = opts.daySeed ?? defaultDaySeed(opts.seed);
  const offsetMs = new Float64Array(n);
  const rteEnabled = new Uint8Array(n);
  const startOutcome = new Uint8Array(n);
  const startFetchedAt = new Float64Array(n);
  const sMember: number[] = [];
  const sAt: number[] = [];
  const sKind: number[] = [];
  let truth = 0;
  let active = 0;
  const gen = new PopulationGenerator({ seed: opts.seed, population: n, referenceTime: opts.referenceTime });
  for (const chunk of gen.chunks(opts.chunkSize ?? 5000)) {
    const events = new Map<number, LifecycleEvent[]>();
    for (const e of chunk.member_events) {
      const key = e['member_key'] as number;
      const type = EVENT_TYPE_BY_ID.get(e['event_type_id'] as number)?.type ?? '';
      let list = events.get(key);
      if (!list) events.set(key, (list = []));
      list.push({ type: type.slice(type.lastIndexOf('.') + 1), at: Date.parse(e['occurred_at'] as string), feature: (e['feature_name'] as string | null) ?? null });
    }
    const appt = new Map(chunk.member_engagement.map((r) => [r['member_key'] as number, r['next_appointment_at'] as string | null]));
    const profile = new Map(chunk.member_activity_profile.map((r) => [r['member_key'] as number, r]));
    for (const row of chunk.members) {
      const key = row['member_key'] as number;
      const i = key - 1;
      const timeZone = row['time_zone'] as string;
      const rte = row['rte_enabled'] === true;
      const nextAppt = appt.get(key);
      const nextAppointmentAt = nextAppt ? Date.parse(nextAppt) : null;
      offsetMs[i] = zoneOffsetMinutes(timeZone, ref + DAY / 2) * 60_000;
      rteEnabled[i] = rte ? 1 : 0;
      const evs = events.get(key) ?? [];
      const start = startEntryFromHistory(evs, ref, rte);
      startOutcome[i] = start.outcome === 'success' ? 1 : start.outcome === 'error' ? 2 : 0;
      startFetchedAt[i] = start.fetchedAt;
      opts.onObserved?.({ index: i, timeZone, rteEnabled: rte, events: evs, nextAppointmentAt }, offsetMs[i]!);
      // The latent side: the truth row and the day drawn from it.
      const prof = profile.get(key);
      if (!prof) continue;
      truth += Number(prof['p_active_next_24h'] ?? 0);
      const day = drawMemberDay({ memberKey: key, timeZone, profile: prof, nextAppointmentAt }, ref, daySeed);
      if (day.length > 0) active++;
      for (const s of day) {
        sMember.push(i);
        sAt.push(s.at);
        sKind.push(KIND_CODE[s.kind]);
      }
    }
  }
  const order = sAt.map((_, j) => j).sort((a, b) => sAt[a]! - sAt[b]! || sMember[a]! - sMember[b]!);
  return {
    dayStart: ref,
    members: n,
    offsetMs,
    rteEnabled,
    startOutcome,
    startFetchedAt,
    sessionMember: Int32Array.from(order, (j) => sMember[j]!),
    sessionAt: Float64Array.from(order, (j) => sAt[j]!),
    sessionKind: Uint8Array.from(order, (j) => sKind[j]!),
    truthActiveExpected: truth,
    activeMembers: active,
  };
}

/** The simulator's world: the RTE-enabled members' sessions and the reads they make under the read model. */
export function buildWorld(day: LoadedDay, readModel: { extraReadsPerSession: number; seed: number }): SimWorld {
  const dayEnd = day.dayStart + DAY;
  const sm: number[] = [];
  const sa: number[] = [];
  const reads: { s: number; at: number }[] = [];
  for (let j = 0; j < day.sessionAt.length; j++) {
    const m = day.sessionMember[j]!;
    if (day.rteEnabled[m] !== 1) continue;
    const s = sm.length;
    sm.push(m);
    sa.push(day.sessionAt[j]!);
    reads.push({ s, at: day.sessionAt[j]! });
    if (readModel.extraReadsPerSession > 0) {
      const rng = new Rng(mixSeed(readModel.seed, j), 0x4ead);
      for (let k = rng.poisson(readModel.extraReadsPerSession); k > 0; k--) {
        const at = day.sessionAt[j]! + rng.range(30_000, 15 * 60_000);
        if (at < dayEnd) reads.push({ s, at });
      }
    }
  }
  reads.sort((a, b) => a.at - b.at || a.s - b.s);
  return {
    dayStart: day.dayStart,
    dayEnd,
    members: day.members,
    offsetMs: day.offsetMs,
    startOutcome: day.startOutcome,
    startFetchedAt: day.startFetchedAt,
    sessionMember: Int32Array.from(sm),
    sessionAt: Float64Array.from(sa),
    readSession: Int32Array.from(reads, (r) => r.s),
    readAt: Float64Array.from(reads, (r) => r.at),
  };
}
