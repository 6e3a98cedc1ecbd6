import { HOUR_MS, MINUTE_MS, hourWindowSlot, localParts, scheduleMember, windowForMember, zonedTimeToUtc, type ScheduleInput } from './windows';

const NY = 'America/New_York';
const LA = 'America/Los_Angeles';
const TOKYO = 'Asia/Tokyo';
const at = (iso: string) => Date.parse(iso);
const hm = (ms: number, tz: string) => {
  const p = localParts(ms, tz);
  return `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
};
const ymd = (ms: number, tz: string) => {
  const p = localParts(ms, tz);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
};

describe('time zone helpers', () => {
  test.each([
    [NY, 2024, 11, 13, 9, '2024-11-13T14:00:00.000Z'],
    [NY, 2024, 7, 1, 9, '2024-07-01T13:00:00.000Z'],
    [TOKYO, 2024, 11, 13, 2, '2024-11-12T17:00:00.000Z'],
    // 2:30 does not exist on the spring-forward day in New York: the instant after the jump.
    [NY, 2024, 3, 10, 2, '2024-03-10T07:00:00.000Z'],
    // 1:00 happens twice on the fall-back day: the first one (EDT).
    [NY, 2024, 11, 3, 1, '2024-11-03T05:00:00.000Z'],
  ])('%s %d-%d-%d %d:00 local is %s', (tz, y, m, d, h, iso) => {
    expect(new Date(zonedTimeToUtc(tz, y, m, d, h)).toISOString()).toBe(iso);
  });
});

describe('hour windows in the member time zone', () => {
  test.each([
    // window, now (UTC), tz, expected local start (date, time), spread minutes
    ['MORNING', '2024-11-13T15:00:00Z', NY, '2024-11-14', '06:00', 60], // 10:00 NY → tomorrow 6:00
    ['MORNING', '2024-11-13T09:00:00Z', NY, '2024-11-13', '06:00', 60], // 4:00 NY → today 6:00
    ['MORNING', '2024-11-13T15:00:00Z', LA, '2024-11-13', '07:00', 60], // 7:00 LA: inside → now
    ['EVENING', '2024-11-13T15:00:00Z', NY, '2024-11-13', '17:00', 60],
    ['EVENING', '2024-11-14T04:00:00Z', NY, '2024-11-14', '17:00', 60], // 23:00 NY → tomorrow
    ['LOW_UTILIZATION', '2024-11-13T15:00:00Z', NY, '2024-11-14', '02:00', 120],
    ['LOW_UTILIZATION', '2024-11-13T15:00:00Z', TOKYO, '2024-11-14', '02:00', 120], // 0:00 Tokyo → 2:00 same day
    ['BUSINESS_HOURS', '2024-11-16T15:00:00Z', NY, '2024-11-18', '09:00', 60], // Saturday → Monday 9:00
    ['BUSINESS_HOURS', '2024-11-15T23:00:00Z', NY, '2024-11-18', '09:00', 60], // Friday 18:00 → Monday
    ['BUSINESS_HOURS', '2024-11-13T15:00:00Z', NY, '2024-11-13', '10:00', 120], // Wed 10:00: inside → now, 2 h spread
  ] as const)('%s at %s in %s starts %s %s spread %d min', (window, now, tz, date, time, spreadMin) => {
    const slot = hourWindowSlot(window, at(now), tz);
    expect(ymd(slot.startMs, tz)).toBe(date);
    expect(hm(slot.startMs, tz)).toBe(time);
    expect(slot.spreadMs).toBe(spreadMin * MINUTE_MS);
  });

  test('inside a window the spread never runs past its end', () => {
    // 16:30 NY on a Wednesday: 30 min left in business hours, minus jitter headroom.
    const slot = hourWindowSlot('BUSINESS_HOURS', at('2024-11-13T21:30:00Z'), NY);
    expect(slot.spreadMs).toBe(25 * MINUTE_MS);
  });
});

describe('scheduleMember', () => {
  const base: ScheduleInput = { window: 'MORNING', nowMs: at('2024-11-13T15:00:00Z'), timeZone: NY, seed: 'batch/a/b', position: 0, groupSize: 10_000 };

  test('spreads a 10,000-member group evenly across the window with ±5 min jitter, every member inside', () => {
    const times = Array.from({ length: 10_000 }, (_, i) => scheduleMember({ ...base, position: i }).atMs);
    const start = zonedTimeToUtc(NY, 2024, 11, 14, 6);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(start);
    expect(Math.max(...times)).toBeLessThanOrEqual(start + 60 * MINUTE_MS);
    // Even spreading: each 6-minute slice of the hour holds about a tenth of the members.
    const buckets = new Array<number>(10).fill(0);
    for (const t of times) buckets[Math.min(9, Math.floor((t - start) / (6 * MINUTE_MS)))]! += 1;
    for (const b of buckets) expect(b).toBeGreaterThan(700);
    for (const b of buckets) expect(b).toBeLessThan(1300);
  });

  test('same seed and position → same time (replay-safe); different seed → different jitter', () => {
    expect(scheduleMember({ ...base, position: 42 })).toEqual(scheduleMember({ ...base, position: 42 }));
    const a = Array.from({ length: 20 }, (_, i) => scheduleMember({ ...base, position: i }).atMs);
    const b = Array.from({ length: 20 }, (_, i) => scheduleMember({ ...base, seed: 'other', position: i }).atMs);
    expect(a).not.toEqual(b);
  });

  test('members in different time zones get their own local window', () => {
    const ny = scheduleMember({ ...base, groupSize: 1 });
    const tokyo = scheduleMember({ ...base, groupSize: 1, timeZone: TOKYO });
    expect(hm(ny.atMs, NY) >= '06:00' && hm(ny.atMs, NY) <= '06:05').toBe(true);
    expect(hm(tokyo.atMs, TOKYO) >= '06:00' && hm(tokyo.atMs, TOKYO) <= '06:05').toBe(true);
    expect(ny.atMs).not.toBe(tokyo.atMs);
  });

  test('unknown or missing time zone falls back to the default zone', () => {
    expect(scheduleMember({ ...base, timeZone: 'Mars/Olympus' }).atMs).toBe(scheduleMember({ ...base, timeZone: NY }).atMs);
    expect(scheduleMember({ ...base, timeZone: null }).atMs).toBe(scheduleMember({ ...base, timeZone: NY }).atMs);
  });

  test.each([
    [0.1, 0, 0, 'ANY'],
    [0.5, 30, 60, 'ANY'],
  ])('ANY at load %d starts %d-%d min from now', (load, minMin, maxMin, win) => {
    const r = scheduleMember({ ...base, window: 'ANY', load });
    expect(r.effectiveWindow).toBe(win);
    expect(r.atMs - base.nowMs).toBeGreaterThanOrEqual(minMin * MINUTE_MS);
    expect(r.atMs - base.nowMs).toBeLessThanOrEqual(maxMin * MINUTE_MS);
  });

  test('ANY under high load moves to the low-utilization window', () => {
    const r = scheduleMember({ ...base, window: 'ANY', load: 0.9, groupSize: 1 });
    expect(r.effectiveWindow).toBe('LOW_UTILIZATION');
    expect(hm(r.atMs, NY).startsWith('02:')).toBe(true);
  });

  test.each([
    ['confident prediction → 60-120 min before it', { predictedAtMs: at('2024-11-14T00:00:00Z'), confidence: 0.9 }, 'OPTIMAL_MEMBER_ENGAGEMENT'],
    ['weak prediction in a care journey → MORNING', { predictedAtMs: at('2024-11-14T00:00:00Z'), confidence: 0.5, inActiveCareJourney: true }, 'MORNING'],
    ['upcoming appointment → 2 h before it', { upcomingAppointmentAtMs: at('2024-11-14T12:00:00Z') }, 'OPTIMAL_MEMBER_ENGAGEMENT'],
    ['nothing known → LOW_UTILIZATION', {}, 'LOW_UTILIZATION'],
  ] as const)('OPTIMAL_MEMBER_ENGAGEMENT: %s', (_name, engagement, effective) => {
    const r = scheduleMember({ ...base, window: 'OPTIMAL_MEMBER_ENGAGEMENT', engagement });
    expect(r.effectiveWindow).toBe(effective);
    if ('predictedAtMs' in engagement && engagement.confidence === 0.9) {
      const lead = engagement.predictedAtMs - r.atMs;
      expect(lead).toBeGreaterThanOrEqual(HOUR_MS);
      expect(lead).toBeLessThanOrEqual(2 * HOUR_MS);
    }
    if ('upcomingAppointmentAtMs' in engagement) expect(r.atMs).toBe(engagement.upcomingAppointmentAtMs - 2 * HOUR_MS);
  });

  test('a predicted time in the past means now', () => {
    const r = scheduleMember({ ...base, window: 'OPTIMAL_MEMBER_ENGAGEMENT', engagement: { predictedAtMs: base.nowMs - HOUR_MS, confidence: 1 } });
    expect(r.atMs).toBe(base.nowMs);
  });
});

describe('windowForMember (multi-window distribution over 50,000)', () => {
  test.each([
    ['ANY', 50_000, 49_999, 'ANY', 49_999, 50_000],
    ['ANY', 60_000, 0, 'LOW_UTILIZATION', 0, 10_000],
    ['ANY', 60_000, 10_000, 'MORNING', 0, 10_000],
    ['ANY', 60_000, 25_000, 'EVENING', 5_000, 10_000],
    ['ANY', 60_000, 35_000, 'LOW_UTILIZATION', 5_000, 10_000],
    ['ANY', 65_000, 64_999, 'LOW_UTILIZATION', 4_999, 5_000],
    ['MORNING', 90_000, 80_000, 'MORNING', 80_000, 90_000],
  ] as const)('%s with %d members, member %d → %s (position %d of %d)', (req, total, idx, window, position, groupSize) => {
    expect(windowForMember(req, total, idx)).toEqual({ window, position, groupSize });
  });
});
