import { DEFAULT_REFERENCE_TIME } from '../../directory/generator';
import { drawMemberDay, type LatentMember } from './day';
import { loadDay } from './population';

const REF = Date.parse(DEFAULT_REFERENCE_TIME); // 2024-11-15T00:00Z, a Friday
const HOUR = 3_600_000;

function member(over: Partial<LatentMember> & { profile?: Record<string, unknown> } = {}): LatentMember {
  return {
    memberKey: 7,
    timeZone: 'America/New_York',
    nextAppointmentAt: null,
    ...over,
    profile: {
      archetype: 'power/flat/flat',
      base_daily_sessions: 3,
      trend_per_30d: 1,
      hour_weights: Array.from({ length: 24 }, (_, h) => (h === 8 ? 1 : 0)),
      weekday_weights: [1, 1, 1, 1, 1, 1, 1],
      ...over.profile,
    },
  };
}

describe('drawMemberDay', () => {
  it('places sessions at the member-local hours of the profile, in the real zone', () => {
    const ny = drawMemberDay(member(), REF, 1);
    const la = drawMemberDay(member({ timeZone: 'America/Los_Angeles' }), REF, 1);
    expect(ny.length).toBeGreaterThan(0);
    // 08:xx in New York on Nov 15 (EST, UTC-5) is 13:xx UTC; in Los Angeles (PST, UTC-8) 16:xx UTC.
    for (const s of ny) expect(new Date(s.at).getUTCHours()).toBe(13);
    for (const s of la) expect(new Date(s.at).getUTCHours()).toBe(16);
    for (const s of [...ny, ...la]) expect(s.at >= REF && s.at < REF + 24 * HOUR).toBe(true);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const m = member({ profile: { hour_weights: new Array(24).fill(1), base_daily_sessions: 4 } });
    expect(drawMemberDay(m, REF, 42)).toEqual(drawMemberDay(m, REF, 42));
    const a = drawMemberDay(m, REF, 42).map((s) => s.at);
    const b = drawMemberDay(m, REF, 43).map((s) => s.at);
    expect(a).not.toEqual(b);
  });

  it('draws no routine session for a dormant member and a pre-visit session only before a booked appointment', () => {
    const dormant = member({ profile: { archetype: 'dormant/flat/flat', base_daily_sessions: 0 } });
    expect(drawMemberDay(dormant, REF, 1)).toEqual([]);
    const appt = REF + 10 * HOUR;
    let visits = 0;
    for (let seed = 0; seed < 200; seed++) {
      for (const s of drawMemberDay({ ...dormant, nextAppointmentAt: appt, profile: { ...dormant.profile, archetype: 'power/flat/flat' } }, REF, seed)) {
        expect(s.kind).toBe('pre_visit');
        expect(s.at).toBeGreaterThanOrEqual(REF);
        expect(s.at).toBeLessThanOrEqual(appt - 30 * 60_000);
        visits++;
      }
    }
    // P(visit) 0.9, 8 of its 17.5 h window were before the reference time: P(after | not before) = 0.9 x (9.5/17.5) / (1 - 0.9 x 8/17.5) ≈ 0.83.
    expect(visits / 200).toBeGreaterThan(0.72);
    expect(visits / 200).toBeLessThan(0.92);
  });
});

describe('the day of a generated population', () => {
  const opts = { seed: 7, members: 2500, referenceTime: new Date(DEFAULT_REFERENCE_TIME) };
  const day = loadDay(opts);

  it('is the same for the same seeds and differs for another day seed', () => {
    const again = loadDay(opts);
    expect(Array.from(again.sessionAt)).toEqual(Array.from(day.sessionAt));
    expect(Array.from(again.sessionMember)).toEqual(Array.from(day.sessionMember));
    const other = loadDay({ ...opts, daySeed: 99 });
    expect(Array.from(other.sessionAt)).not.toEqual(Array.from(day.sessionAt));
  });

  it('activates about as many members as the generator truth p_active_next_24h expects', () => {
    const sd = Math.sqrt(day.truthActiveExpected);
    expect(Math.abs(day.activeMembers - day.truthActiveExpected)).toBeLessThan(3 * sd + 5);
  });

  it('puts sessions in plausible member-local hours (mostly waking hours) inside the day', () => {
    let waking = 0;
    for (let j = 0; j < day.sessionAt.length; j++) {
      const t = day.sessionAt[j]!;
      expect(t >= day.dayStart && t < day.dayStart + 24 * HOUR).toBe(true);
      const h = Math.floor((((t + day.offsetMs[day.sessionMember[j]!]!) % 86_400_000) + 86_400_000) % 86_400_000 / HOUR);
      if (h >= 6) waking++;
    }
    expect(day.sessionAt.length).toBeGreaterThan(100);
    expect(waking / day.sessionAt.length).toBeGreaterThan(0.85);
    for (let j = 1; j < day.sessionAt.length; j++) expect(day.sessionAt[j]! >= day.sessionAt[j - 1]!).toBe(true);
  });
});
