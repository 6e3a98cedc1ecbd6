import { ceilingOrders, intelligentRoute, routePrediction } from './policies';
import { DEFAULT_SIM_OPTIONS, simulateArm, type SimOptions, type SimWorld, type WarmOrder } from './sim';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

/** A world from sessions [member, at, ...read offsets] with every member at UTC offset `offsets[m]`. */
function world(offsets: number[], start: [number, number][], sessions: [number, number, ...number[]][]): SimWorld {
  const reads: { s: number; at: number }[] = [];
  sessions.forEach(([, at, ...more], s) => {
    reads.push({ s, at });
    for (const d of more) reads.push({ s, at: at + d });
  });
  reads.sort((a, b) => a.at - b.at);
  return {
    dayStart: 0,
    dayEnd: 24 * H,
    members: offsets.length,
    offsetMs: Float64Array.from(offsets),
    startOutcome: Uint8Array.from(offsets.map((_, m) => (start.some(([x]) => x === m) ? 1 : 0))),
    startFetchedAt: Float64Array.from(offsets.map((_, m) => start.find(([x]) => x === m)?.[1] ?? 0)),
    sessionMember: Int32Array.from(sessions.map(([m]) => m)),
    sessionAt: Float64Array.from(sessions.map(([, at]) => at)),
    readSession: Int32Array.from(reads.map((r) => r.s)),
    readAt: Float64Array.from(reads.map((r) => r.at)),
  };
}

/** Constant 10 s Stedi latency, batches answered exactly 15 min after their 1-minute gathering window. */
const OPTS: SimOptions = {
  ...DEFAULT_SIM_OPTIONS,
  latency: { meanMs: 10 * S, sigma: 0, minMs: 0, maxMs: 120 * S },
  batchLatencyMinMs: 15 * MIN,
  batchLatencyMaxMs: 15 * MIN,
  router: intelligentRoute,
};

describe('simulateArm: a hand-computed day', () => {
  // m0: cached 2 h before the day (fresh until 20:00); reads at 01:00, then 21:00 (expired), 21:00:05 (joins the
  //     live check in flight), 21:00:20 (fresh again). A warm at 00:30 finds it fresh: skipped.
  // m1: nothing cached; URGENT warm at 00:30 → real-time (miss), done 00:30:10; read at 02:00 → HIT (warm used).
  // m2: local = UTC + 6 h; nothing cached; PRELOAD warm at 01:00 → batch API, submitted 01:01 (local 07:01, rush),
  //     answered 01:16. Its read at 01:10 (local 07:10, rush) cannot wait: live check, done 01:10:10. The batch
  //     answer lands after that check: wasted. Read at 03:00 → HIT.
  const w = world(
    [0, 0, 6 * H],
    [[0, -2 * H]],
    [
      [0, 1 * H],
      [0, 21 * H, 5 * S, 20 * S],
      [1, 2 * H],
      [2, 1 * H + 10 * MIN],
      [2, 3 * H],
    ],
  );
  const orders: WarmOrder[] = [
    { member: 0, at: 30 * MIN, priority: 'URGENT', strategy: 'INTELLIGENT' },
    { member: 1, at: 30 * MIN, priority: 'URGENT', strategy: 'INTELLIGENT' },
    { member: 2, at: 1 * H, priority: 'PRELOAD', strategy: 'INTELLIGENT' },
  ];

  it('counts hits, waits, calls, batch items and warms exactly', () => {
    const { counts: c } = simulateArm(w, orders, OPTS);
    expect(c.reads).toBe(7);
    expect(c.hits).toBe(4);
    expect(c.waitedReads).toBe(3);
    expect(c.sessions).toBe(5);
    expect(c.sessionsWaited).toBe(2);
    expect(c.sessionsWaitedByLocalHour[7]).toBe(1); // m2's 01:10 UTC = 07:10 local
    expect(c.sessionsWaitedByLocalHour[21]).toBe(1);
    expect(c.realtimeCalls).toEqual({ interactive: 2, warm: 1, swr: 0 });
    expect(c.realtimeCallsRush).toEqual({ interactive: 1, warm: 0, swr: 0 });
    expect(c.batchItems).toBe(1);
    expect(c.batchItemsRush).toBe(1);
    expect(c.batches).toBe(1);
    expect(c.warmOrders).toBe(3);
    expect(c.warmsSkipped).toBe(1);
    expect(c.warmsExecuted).toBe(2);
    expect(c.warmsUsed).toBe(1);
    expect(c.warmsWasted).toBe(1);
    expect(c.staleServed).toBe(0);
    expect(c.waitP50Ms).toBe(10 * S); // waits 5 s, 10 s, 10 s
    expect(c.waitP95Ms).toBe(10 * S);
  });

  it('the perfect-foresight ceiling warms the members whose first non-hit read makes the most reads wait', () => {
    const reactive = simulateArm(w, [], OPTS);
    expect(reactive.counts.hits).toBe(3); // 01:00, 03:00 and 21:00:20
    expect(Array.from(reactive.trace.firstNonHitWaits)).toEqual([2, 1, 1]);
    const best = ceilingOrders(reactive.trace, 1, () => false);
    expect(best.map((o) => o.member)).toEqual([0]);
    const ceiling = simulateArm(w, best, OPTS);
    expect(ceiling.counts.hits).toBe(5);
    expect(ceiling.counts.waitedReads).toBe(2);
    expect(ceiling.counts.batchItems).toBe(1);
    expect(ceiling.counts.warmsExecuted).toBe(1);
    expect(ceiling.counts.warmsUsed).toBe(1);
    const all = simulateArm(w, ceilingOrders(reactive.trace, 10, () => false), OPTS);
    expect(all.counts.hits).toBe(7);
    expect(all.counts.realtimeCalls.interactive).toBe(0);
  });
});

describe('simulateArm: pool and cache modes', () => {
  it('serves interactive checks before queued warming calls in a full pool', () => {
    // One slot. m0's warm takes it at 0 s (until 10 s), m1's warm queues at 1 s, m2's read queues at 2 s and
    // goes first at 10 s (done 20 s); m1's warm runs 20-30 s; m1's read at 25 s joins it (waits 5 s).
    const w = world([0, 0, 0], [], [
      [2, 2 * S],
      [1, 25 * S],
    ]);
    const orders: WarmOrder[] = [
      { member: 0, at: 0, priority: 'URGENT', strategy: 'INTELLIGENT' },
      { member: 1, at: 1 * S, priority: 'URGENT', strategy: 'INTELLIGENT' },
    ];
    const { counts: c } = simulateArm(w, orders, { ...OPTS, slots: 1 });
    expect(c.realtimeCalls).toEqual({ interactive: 1, warm: 2, swr: 0 });
    expect(c.waitedReads).toBe(2);
    expect(c.waitP50Ms).toBe(18 * S); // waits 5 s and 18 s
    expect(c.hits).toBe(0);
    expect(c.warmsExecuted).toBe(2);
    expect(c.warmsUsed).toBe(0);
    expect(c.warmsWasted).toBe(2);
  });

  it('STALE_WHILE_REVALIDATE serves an expired entry at once and refreshes it in the background; DEFAULT waits', () => {
    // Cached 23 h before the day: expired 1 h before it. Reads at 00:00 and 00:01.
    const w = world([0], [[0, -23 * H]], [[0, 0, 1 * MIN]]);
    const swr = simulateArm(w, [], { ...OPTS, mode: 'STALE_WHILE_REVALIDATE' }).counts;
    expect([swr.hits, swr.staleServed, swr.waitedReads, swr.sessionsWaited]).toEqual([1, 1, 0, 0]);
    expect(swr.realtimeCalls).toEqual({ interactive: 0, warm: 0, swr: 1 });
    const def = simulateArm(w, [], OPTS).counts;
    expect([def.hits, def.staleServed, def.waitedReads, def.sessionsWaited]).toEqual([1, 0, 1, 1]);
    expect(def.realtimeCalls).toEqual({ interactive: 1, warm: 0, swr: 0 });
  });

  it('caches a payer error for 5 minutes (reads inside it get the error without a call)', () => {
    const w = world([0], [], [[0, 0, 1 * MIN, 6 * MIN]]);
    const c = simulateArm(w, [], { ...OPTS, errorRate: 1 }).counts;
    // 00:00 waits, fails (error cached until 00:05:10); 00:01 served the cached error; 00:06 expired: a new call.
    expect(c.realtimeCalls.interactive).toBe(2);
    expect(c.errorServed).toBe(3);
    expect(c.hits).toBe(0);
  });
});

describe('warm orders judged as of the predicted use', () => {
  it('refreshes an entry that is fresh now but expires before the use (classifyAt)', () => {
    // Cached 10 h before the day: fresh until 12:00. A PRELOAD order at 00:00 for a use at 18:00.
    const w = world([0], [[0, -10 * H]], [[0, 18 * H]]);
    const now: WarmOrder = { member: 0, at: 0, priority: 'PRELOAD', strategy: 'INTELLIGENT' };
    const skipped = simulateArm(w, [now], OPTS).counts;
    expect([skipped.warmsSkipped, skipped.hits, skipped.waitedReads]).toEqual([1, 0, 1]);
    const refreshed = simulateArm(w, [{ ...now, classifyAt: 18 * H }], OPTS).counts;
    expect([refreshed.warmsSkipped, refreshed.batchItems, refreshed.hits, refreshed.warmsUsed]).toEqual([0, 1, 1, 1]);
  });
});

describe('warming adapter (the real issue 9 decisions)', () => {
  it('routes predictions with warm-feed thresholds (float32, as on the wire)', () => {
    expect([0.69, 0.7, 0.9, 0.91].map((p) => routePrediction(Math.fround(p)))).toEqual(['skip', 'PRELOAD', 'PRELOAD', 'URGENT']);
  });
  it("INTELLIGENT via warm-core's decideWarm: fresh → skip, stale → batch API, miss → real-time only when URGENT", () => {
    const fresh = { outcome: 'success' as const, fetchedAt: 0, expiresAt: 22 * H };
    const err = { outcome: 'error' as const, fetchedAt: 0, expiresAt: 5 * MIN };
    expect(intelligentRoute('INTELLIGENT', 'URGENT', fresh, H)).toBe('skip');
    expect(intelligentRoute('INTELLIGENT', 'URGENT', fresh, 23 * H)).toBe('batch_api');
    expect(intelligentRoute('INTELLIGENT', 'URGENT', null, H)).toBe('realtime');
    expect(intelligentRoute('INTELLIGENT', 'PRELOAD', null, H)).toBe('batch_api');
    expect(intelligentRoute('INTELLIGENT', 'URGENT', err, H)).toBe('batch_api');
    expect(intelligentRoute('FILL_ONLY', 'URGENT', fresh, 23 * H)).toBe('skip');
    expect(intelligentRoute('FILL_ONLY', 'URGENT', err, H)).toBe('skip');
    expect(intelligentRoute('FORCE', 'PRELOAD', fresh, H)).toBe('realtime');
  });
});
