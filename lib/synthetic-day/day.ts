/**
 * The synthetic day: the app sessions members open in [reference, reference + 24 h), drawn from the latent
 * truth the directory generator (directory/generator.ts, directory-gen/2) drew their history from.
 *
 * LATENT-TRUTH MODULE. It reads `member_activity_profile` rows and the booked appointments, so nothing on the
 * warming path may import it (enforced by lib/synthetic-day/boundary.test.ts): predictions must never see
 * the future. Policies get observable data only (lib/synthetic-day/observed.ts).
 *
 * Three processes, exactly the ones behind the generator's ground truth p_active_next_24h:
 *  1. routine sessions: per member-local calendar day, Poisson(rate(t) x weekday weight / mean weekday
 *     weight) sessions (at most 6), rate(t) = base_daily_sessions x trend_per_30d^((t - (ref - 45 d)) / 30 d),
 *     each at a local hour drawn from hour_weights and a uniform second in that hour;
 *  2. the daily habit (archetype `...+daily-habit`): active on a local day with P = 1 - exp(-hazard x weekday
 *     weight / mean), one session or two (HABIT.secondSession). The member's hazard is not stored in the
 *     profile, so it is drawn again from the generator's distribution (-ln(1 - U(dailyMin, dailyMax)));
 *  3. the pre-appointment visit: before the next booked, not cancelled appointment (member_engagement.
 *     next_appointment_at), P(visit) by archetype (APPOINTMENT_VISIT), uniform between 18 h and 30 min before
 *     it, conditioned on not having happened before the reference time. Only the nearest appointment is
 *     known to the directory, so a second appointment within ~42 h is missed (rare).
 * Seeded per (day seed, member key): the same seed gives the same day whatever the chunking.
 */
import { APPOINTMENT_VISIT, HABIT, zoneOffsetMinutes, type Row } from '../../directory/generator';
import { Rng, mixSeed } from '../../directory/prng';

const DAY = 86_400_000;
const HOUR = 3_600_000;

export type SessionKind = 'routine' | 'habit' | 'pre_visit';

export interface DaySession {
  memberKey: number;
  /** Epoch ms, in [dayStart, dayStart + 24 h). */
  at: number;
  kind: SessionKind;
}

/** What the day generator needs about one member: the latent profile row, the zone and the next appointment. */
export interface LatentMember {
  memberKey: number;
  timeZone: string;
  /** A member_activity_profile row (generator output). */
  profile: Row;
  /** member_engagement.next_appointment_at as epoch ms, or null. */
  nextAppointmentAt: number | null;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** The day's sessions of one member, sorted by time. `dayStart` is the population's reference time. */
export function drawMemberDay(m: LatentMember, dayStart: number, seed: number): DaySession[] {
  const rng = new Rng(mixSeed(seed, m.memberKey), 0x5d1);
  const p = m.profile;
  const base = Number(p['base_daily_sessions'] ?? 0);
  const trend = Number(p['trend_per_30d'] ?? 1);
  const hourWeights = (p['hour_weights'] as number[] | undefined) ?? new Array<number>(24).fill(1);
  const weekdayWeights = (p['weekday_weights'] as number[] | undefined) ?? new Array<number>(7).fill(1);
  const archetype = String(p['archetype'] ?? 'rare');
  const habitual = archetype.endsWith('+daily-habit');
  const head = archetype.split('/')[0] ?? 'rare';
  const hourTotal = hourWeights.reduce((a, b) => a + b, 0);
  const weekdayMean = weekdayWeights.reduce((a, b) => a + b, 0) / 7;
  const dayEnd = dayStart + DAY;
  const rateAt = (t: number): number => base * Math.pow(trend, (t - (dayStart - 45 * DAY)) / (30 * DAY));
  const habitHazard = habitual ? -Math.log(1 - rng.range(HABIT.dailyMin, HABIT.dailyMax)) : 0;
  const out: DaySession[] = [];

  // A session on local calendar day `localDayStart` (UTC midnight of that date) at a usual local hour.
  const sessionTime = (localDayStart: number, offsetMs: number): number => {
    let x = rng.next() * hourTotal;
    let hour = 0;
    while (hour < 23 && x >= (hourWeights[hour] ?? 0)) x -= hourWeights[hour++] ?? 0;
    return localDayStart + hour * HOUR + rng.int(0, 3599) * 1000 - offsetMs;
  };
  const keep = (t: number, kind: SessionKind): void => {
    if (t >= dayStart && t < dayEnd) out.push({ memberKey: m.memberKey, at: t, kind });
  };

  // Every local calendar day that overlaps the window (US zones: the reference date and the one before).
  for (let d = -1; d <= 1; d++) {
    const localDayStart = dayStart + d * DAY;
    const offsetMs = zoneOffsetMinutes(m.timeZone, localDayStart) * 60_000;
    if (localDayStart - offsetMs >= dayEnd || localDayStart + DAY - offsetMs <= dayStart) continue;
    const dow = new Date(localDayStart).getUTCDay();
    const ww = weekdayWeights[dow] ?? 1;
    if (base > 0) {
      const n = Math.min(6, rng.poisson((rateAt(localDayStart + DAY / 2) * ww) / weekdayMean));
      for (let s = 0; s < n; s++) keep(sessionTime(localDayStart, offsetMs), 'routine');
    }
    if (habitual && rng.chance(1 - Math.exp((-habitHazard * ww) / weekdayMean))) {
      const n = rng.chance(HABIT.secondSession) ? 2 : 1;
      for (let s = 0; s < n; s++) keep(sessionTime(localDayStart, offsetMs), 'habit');
    }
  }

  const when = m.nextAppointmentAt;
  if (when !== null && when >= dayStart) {
    const visitP = habitual ? APPOINTMENT_VISIT.habitual : (APPOINTMENT_VISIT.byArchetype[head] ?? 0.5);
    const lo = when - APPOINTMENT_VISIT.earliestBeforeMs;
    const hi = when - APPOINTMENT_VISIT.latestBeforeMs;
    const span = hi - lo;
    const before = clamp((Math.min(hi, dayStart) - lo) / span, 0, 1);
    if (before < 1) {
      // P(the visit happens after the reference time | it has not happened before it).
      const pAfter = (visitP * (1 - before)) / (1 - visitP * before);
      const from = Math.max(lo, dayStart);
      if (rng.chance(pAfter)) keep(Math.floor(from + rng.next() * (hi - from)), 'pre_visit');
    }
  }
  out.sort((a, b) => a.at - b.at);
  return out;
}
