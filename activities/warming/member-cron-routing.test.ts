import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { decodeMemberCronEvent, DEFAULT_WINDOW_MS, priorityFor, routeMemberCronEvent, warmGroupLabel, warmTiming } from './member-cron-routing';

const H = 3_600_000;
const EMITTED = Date.parse('2026-01-05T04:00:00Z');

function event(p: number, window?: [number, number], ops: string[] = ['check_eligibility']) {
  return create(MemberCronEventSchema, {
    memberId: 'm_1',
    scheduleName: 'daily-rte-warmup',
    emittedAt: timestampFromMs(EMITTED),
    context: {
      predictedActivity: {
        appUsageProbability: p,
        predictedOperations: ops,
        confidence: 0.9,
        modelVersion: 'rule-based/2',
        ...(window ? { predictedWindowStart: timestampFromMs(window[0]), predictedWindowEnd: timestampFromMs(window[1]) } : {}),
      },
    },
  });
}
/** Through the wire, so probabilities are float32 as the consumer sees them. */
const wire = (e: ReturnType<typeof event>) => decodeMemberCronEvent(toBinary(MemberCronEventSchema, e));

describe('member-cron routing', () => {
  it.each([
    [0.69, null],
    [0.7, 'PRELOAD'],
    [0.85, 'PRELOAD'],
    [0.9, 'PRELOAD'],
    [0.9001, 'URGENT'],
    [1, 'URGENT'],
  ])('P %s on the wire (float32) → %s', (p, expected) => {
    const d = routeMemberCronEvent(wire(event(p)), 0, { leadScale: 1 });
    expect(d.action === 'warm' ? d.priority : null).toBe(expected);
    expect(priorityFor(Math.fround(p))).toBe(expected);
  });

  it('WARMING_MIN_PROBABILITY (skipBelow) moves the skip threshold only; URGENT stays above 0.9', () => {
    const route = (p: number, skipBelow?: number) => {
      const d = routeMemberCronEvent(wire(event(p)), 0, { leadScale: 1, ...(skipBelow !== undefined ? { skipBelow } : {}) });
      return d.action === 'warm' ? d.priority : d.reason;
    };
    expect([0.59, 0.6, 0.69, 0.95].map((p) => route(p, 0.6))).toEqual(['below_threshold', 'PRELOAD', 'PRELOAD', 'URGENT']);
    expect([0.69, 0.7].map((p) => route(p))).toEqual(['below_threshold', 'PRELOAD']);
    expect(priorityFor(Math.fround(0.5), 0.5)).toBe('PRELOAD');
    expect(priorityFor(Math.fround(0.49), 0.5)).toBeNull();
  });

  it('skips events without a prediction and names the reason', () => {
    const e = event(0.95);
    e.context = undefined;
    expect(routeMemberCronEvent(e, 0, { leadScale: 1 })).toEqual({ action: 'skip', reason: 'no_prediction' });
    expect(routeMemberCronEvent(wire(event(0.3)), 0, { leadScale: 1 })).toEqual({ action: 'skip', reason: 'below_threshold' });
  });

  it('holds URGENT members until 2–4 h before their predicted window', () => {
    const start = EMITTED + 15 * H + 20 * 60_000;
    const d = routeMemberCronEvent(wire(event(0.95, [start, start + 3 * H])), 0, { leadScale: 1 });
    if (d.action !== 'warm') throw new Error('expected warm');
    expect(d.source).toBe('member-cron-daily-rte-warmup');
    // The schedule travels to the job, which names it in its CacheWarmingEvents (schedule_name).
    expect(d.scheduleName).toBe('daily-rte-warmup');
    expect(d.notBeforeMs).not.toBeNull();
    expect(d.notBeforeMs!).toBeGreaterThanOrEqual(start - 4 * H);
    expect(d.notBeforeMs!).toBeLessThanOrEqual(start - 2 * H);
    expect(d.horizonUntilMs).toBe(start + 3 * H);
    expect(d.operations).toEqual(['check_eligibility']);
  });

  it('members of one bucket share it; a window too close for the lead is warmed at once', () => {
    const a = routeMemberCronEvent(wire(event(0.95, [EMITTED + 15 * H, EMITTED + 16 * H])), 0, { leadScale: 1 });
    const b = routeMemberCronEvent(wire(event(0.95, [EMITTED + 15 * H + 10 * 60_000, EMITTED + 16 * H])), 0, { leadScale: 1 });
    const soon = routeMemberCronEvent(wire(event(0.95, [EMITTED + 3 * H, EMITTED + 4 * H])), 0, { leadScale: 1 });
    if (a.action !== 'warm' || b.action !== 'warm' || soon.action !== 'warm') throw new Error('expected warm');
    expect(b.bucketStartMs).toBe(a.bucketStartMs);
    expect(soon.notBeforeMs).toBeNull();
  });

  it('PRELOAD targets 12–24 h ahead: a window a day out is held, one within 24 h goes at once to the batch path', () => {
    const far = EMITTED + 36 * H;
    const d = routeMemberCronEvent(wire(event(0.8, [far, far + H])), 0, { leadScale: 1 });
    if (d.action !== 'warm') throw new Error('expected warm');
    expect(d.notBeforeMs!).toBeGreaterThanOrEqual(far - 24 * H);
    expect(d.notBeforeMs!).toBeLessThanOrEqual(far - 12 * H);
    const near = routeMemberCronEvent(wire(event(0.8, [EMITTED + 10 * H, EMITTED + 11 * H])), 0, { leadScale: 1 });
    expect(near.action === 'warm' && near.notBeforeMs).toBeNull();
  });

  it('WARMING_LEAD_SCALE compresses every interval from emitted_at (an hour becomes a second at 1/3600)', () => {
    const start = EMITTED + 15 * H;
    const d = routeMemberCronEvent(wire(event(0.95, [start, start + 3 * H])), 0, { leadScale: 1 / 3600 });
    if (d.action !== 'warm') throw new Error('expected warm');
    expect(d.notBeforeMs!).toBeGreaterThanOrEqual(EMITTED + 11_000);
    expect(d.notBeforeMs!).toBeLessThanOrEqual(EMITTED + 13_000);
    expect(d.horizonUntilMs).toBe(EMITTED + 18_000);
  });

  it('without a window the whole 24 h horizon is the window; empty operations mean all', () => {
    const d = routeMemberCronEvent(wire(event(0.95, undefined, [])), 0, { leadScale: 1 });
    if (d.action !== 'warm') throw new Error('expected warm');
    expect(d.notBeforeMs).toBeNull();
    expect(d.horizonUntilMs).toBe(EMITTED + 24 * H);
    expect(d.operations).toEqual([]);
  });

  it('maps predicted operations onto the cache operation that holds their answer; unknown ones are ignored', () => {
    const d = routeMemberCronEvent(wire(event(0.95, undefined, ['get_coverage', 'estimate_cost', 'check_eligibility', 'teleport'])), 0, { leadScale: 1 });
    expect(d.action === 'warm' && d.operations).toEqual(['check_eligibility']);
    // A name that is an Object property (not an operation) is unknown too, not a function in the list.
    const proto = routeMemberCronEvent(wire(event(0.95, undefined, ['constructor', 'toString'])), 0, { leadScale: 1 });
    expect(proto.action === 'warm' && proto.operations).toEqual([]);
  });

  it('refuses bytes that are not a MemberCronEvent', () => {
    expect(() => decodeMemberCronEvent(new Uint8Array())).toThrow(/empty/);
    expect(() => decodeMemberCronEvent(new TextEncoder().encode('{"not":"protobuf"}'))).toThrow();
    expect(() => decodeMemberCronEvent(toBinary(MemberCronEventSchema, create(MemberCronEventSchema, { memberId: 'm' })))).toThrow(/schedule_name/);
  });

  it('warmTiming (the timing on plain numbers) is the timing routeMemberCronEvent decides', () => {
    const cases: [number, [number, number] | undefined, number][] = [
      [0.95, [EMITTED + 6 * H, EMITTED + 9 * H], 1],
      [0.95, [EMITTED + 1 * H, EMITTED + 2 * H], 1],
      [0.8, [EMITTED + 30 * H, EMITTED + 33 * H], 1],
      [0.8, undefined, 1],
      [0.95, [EMITTED + 6 * H, EMITTED + 9 * H], 1 / 3600],
    ];
    for (const [p, window, leadScale] of cases) {
      const d = routeMemberCronEvent(wire(event(p, window)), 0, { leadScale });
      if (d.action !== 'warm') throw new Error('expected a warm');
      expect(warmTiming(d.priority, EMITTED, window?.[0] ?? null, window?.[1] ?? null, leadScale)).toEqual({
        bucketStartMs: d.bucketStartMs,
        notBeforeMs: d.notBeforeMs,
        horizonUntilMs: d.horizonUntilMs,
      });
    }
    // URGENT, window 6 h out: held until a bucket end within [window - 4 h, window - 2 h].
    const t = warmTiming('URGENT', EMITTED, EMITTED + 6 * H, EMITTED + 9 * H, 1);
    expect(t.notBeforeMs).toBeGreaterThanOrEqual(EMITTED + 2 * H);
    expect(t.notBeforeMs).toBeLessThanOrEqual(EMITTED + 4 * H);
    expect(warmTiming('PRELOAD', EMITTED, null, null, 1)).toMatchObject({ notBeforeMs: null, horizonUntilMs: EMITTED + DEFAULT_WINDOW_MS });
  });

  it('warmGroupLabel: a held member by its bucket; a member warmed at once also by the hour its window ends', () => {
    const held = warmTiming('URGENT', EMITTED, EMITTED + 6 * H, EMITTED + 9 * H, 1);
    const heldLater = warmTiming('URGENT', EMITTED, EMITTED + 6 * H + 10 * 60_000, EMITTED + 12 * H, 1);
    expect(warmGroupLabel(held, 1)).toBe(String(held.bucketStartMs));
    expect(warmGroupLabel(heldLater, 1)).toBe(warmGroupLabel(held, 1)); // same bucket, whatever the window end
    const soon = warmTiming('PRELOAD', EMITTED, EMITTED + 2 * H, EMITTED + 5 * H, 1);
    const soonSameHour = warmTiming('PRELOAD', EMITTED, EMITTED + 2 * H + 60_000, EMITTED + 5 * H + 60_000, 1);
    const late = warmTiming('PRELOAD', EMITTED, EMITTED + 20 * H, EMITTED + 23 * H, 1);
    expect(soon.notBeforeMs).toBeNull();
    expect(late.notBeforeMs).toBeNull();
    expect(warmGroupLabel(soon, 1)).toBe(warmGroupLabel(soonSameHour, 1));
    expect(warmGroupLabel(soon, 1)).not.toBe(warmGroupLabel(late, 1));
    expect(warmGroupLabel(soon, 1)).toMatch(/^now\d+u\d+$/);
    // Scaled (1 h = 1 s): the hour is a scaled hour.
    const a = warmTiming('PRELOAD', EMITTED, EMITTED + 2 * H, EMITTED + 5 * H, 1 / 3600);
    const b = warmTiming('PRELOAD', EMITTED, EMITTED + 20 * H, EMITTED + 23 * H, 1 / 3600);
    expect(warmGroupLabel(a, 1 / 3600)).not.toBe(warmGroupLabel(b, 1 / 3600));
  });
});
