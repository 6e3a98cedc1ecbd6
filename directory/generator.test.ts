import { PopulationGenerator, zoneOffsetMinutes, type MemberChunk, type Row } from './generator';
import { ev } from './catalog';
import { copyField } from './loader';

const referenceTime = new Date('2024-11-15T00:00:00Z');

function all(seed: number, population: number, chunkSize = 500): MemberChunk {
  const out: Record<string, Row[]> = {};
  for (const chunk of new PopulationGenerator({ seed, population, referenceTime }).chunks(chunkSize)) {
    for (const [table, rows] of Object.entries(chunk)) (out[table] ??= []).push(...(rows as Row[]));
  }
  return out as unknown as MemberChunk;
}

describe('synthetic population generator', () => {
  const pop = all(42, 2000);

  test('is deterministic for a seed and independent of chunk size', () => {
    const again = all(42, 2000, 977);
    expect(again.members).toEqual(pop.members);
    expect(again.member_events).toEqual(pop.member_events);
    expect(all(43, 2000).members).not.toEqual(pop.members);
  });

  test('generates exactly the requested population with modest event volume', () => {
    expect(pop.members).toHaveLength(2000);
    const perMember = pop.member_events.length / pop.members.length;
    expect(perMember).toBeGreaterThan(10);
    expect(perMember).toBeLessThan(45);
  });

  test('has a small habitual segment whose history and ground truth both show near-daily use', () => {
    const DAY = 86_400_000;
    const ref = referenceTime.getTime();
    const habitual = new Set(pop.member_activity_profile.filter((p) => String(p['archetype']).endsWith('+daily-habit')).map((p) => p['member_key']));
    expect(habitual.size / pop.members.length).toBeGreaterThan(0.01);
    expect(habitual.size / pop.members.length).toBeLessThan(0.06);
    const activeDays = new Map<unknown, Set<number>>();
    for (const e of pop.member_events) {
      const t = Date.parse(String(e['occurred_at']));
      if (e['event_type_id'] === ev('APP_SESSION_STARTED') && habitual.has(e['member_key']) && t >= ref - 28 * DAY) {
        const days = activeDays.get(e['member_key']) ?? new Set<number>();
        days.add(Math.floor((ref - t) / DAY));
        activeDays.set(e['member_key'], days);
      }
    }
    const shares = [...habitual].map((k) => (activeDays.get(k)?.size ?? 0) / 28);
    expect(shares.reduce((a, b) => a + b, 0) / shares.length).toBeGreaterThan(0.7);
    const truth = pop.member_activity_profile.map((p) => ({ habitual: habitual.has(p['member_key']), p24: Number(p['p_active_next_24h']) }));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(truth.filter((t) => t.habitual).map((t) => t.p24))).toBeGreaterThan(0.75);
    expect(mean(truth.filter((t) => !t.habitual).map((t) => t.p24))).toBeLessThan(0.15);
  });

  test('all events lie in the 90 days before the reference time', () => {
    const lo = referenceTime.getTime() - 90 * 86_400_000;
    for (const e of pop.member_events) {
      const t = Date.parse(String(e['occurred_at']));
      expect(t).toBeGreaterThanOrEqual(lo);
      expect(t).toBeLessThan(referenceTime.getTime());
    }
  });

  test('distributions are correlated like real enrollment data', () => {
    const gen = new PopulationGenerator({ seed: 42, population: 2000, referenceTime });
    const plans = new Map(gen.catalog.insurance_plans.map((p) => [p['plan_id'], p]));
    const ageOf = (m: Row) => 2024 - Number(String(m['date_of_birth']).slice(0, 4));
    const ma = pop.members.filter((m) => plans.get(m['primary_plan_id'])?.['plan_type'] === 'MEDICARE_ADVANTAGE');
    expect(ma.length).toBeGreaterThan(30);
    // Medicare Advantage is 65+, except the small disability/ESRD share.
    expect(ma.filter((m) => ageOf(m) >= 65).length / ma.length).toBeGreaterThan(0.88);
    // HDHP plans carry HSAs; nothing else does.
    for (const p of plans.values()) expect(p['has_hsa']).toBe(p['plan_type'] === 'HDHP');
    // Dependents point at a subscriber in the same family.
    const byId = new Map(pop.members.map((m) => [m['member_id'], m]));
    const dependents = pop.members.filter((m) => m['subscriber_member_id'] !== null);
    expect(dependents.length).toBeGreaterThan(100);
    for (const d of dependents) {
      const sub = byId.get(d['subscriber_member_id']);
      expect(sub?.['family_id']).toBe(d['family_id']);
      expect(sub?.['subscriber_member_id']).toBeNull();
    }
  });

  test('keeps the latent profile apart from observable member data', () => {
    expect(pop.member_activity_profile).toHaveLength(2000);
    expect(Object.keys(pop.members[0] ?? {})).not.toContain('hour_weights');
    const p = pop.member_activity_profile[0] as Row;
    expect(p['hour_weights']).toHaveLength(24);
    expect(p['weekday_weights']).toHaveLength(7);
  });

  test('timestamps are formatted exactly like toISOString', () => {
    for (const e of pop.member_events.slice(0, 2000)) {
      const s = String(e['occurred_at']);
      expect(new Date(s).toISOString()).toBe(s);
    }
  });

  test('zone offsets follow DST', () => {
    expect(zoneOffsetMinutes('America/New_York', Date.UTC(2024, 6, 1))).toBe(-240);
    expect(zoneOffsetMinutes('America/New_York', Date.UTC(2024, 11, 1))).toBe(-300);
    expect(zoneOffsetMinutes('America/Phoenix', Date.UTC(2024, 6, 1))).toBe(-420);
  });
});

describe('COPY field encoding', () => {
  test.each<[unknown, string]>([
    [null, '\\N'],
    [true, 't'],
    [1.5, '1.5'],
    ['a\tb\nc\\d', 'a\\tb\\nc\\\\d'],
    [['x', 'y"z'], '{"x","y\\\\"z"}'],
    [[0.5, 1], '{0.5,1}'],
  ])('%p', (value, encoded) => {
    expect(copyField(value)).toBe(encoded);
  });
});
