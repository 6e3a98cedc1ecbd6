/**
 * Warming policies of the synthetic day, pluggable: each turns what the platform can observe at the
 * reference time into warm orders (member, time, priority, strategy). Observable inputs only: this module
 * must not import the day generator (day.ts) or the population loader (boundary.test.ts checks it).
 *
 *  - shipped: the member-cron path of issue 9 over the REAL predictor (lib/prediction/rule-based.ts) and
 *    the REAL thresholds (lib/warming/types.ts): p < 0.7 skip, 0.7-0.9 PRELOAD 12-24 h ahead of the
 *    predicted usage via the batch API, > 0.9 URGENT 2-4 h ahead in real time; INTELLIGENT strategy.
 *  - top-k budgets: the k members with the highest predicted P, routed and timed like the shipped policy.
 *  - perfect-foresight ceiling: the k members whose first read of the day would not be a fresh hit, warmed
 *    just in time (from a reactive run's trace; it is the only policy that sees the day).
 *
 * The warming decisions are the REAL ones (issue 9, now on main; they replaced this module's stand-ins):
 *  - routing: warm-feed's `priorityFor` (activities/warming/member-cron-routing.ts: P < 0.7 skip, 0.7-0.9
 *    PRELOAD, > 0.9 URGENT, on float32 probabilities as on the wire);
 *  - timing: warm-feed's `warmTiming` (the timing part of `routeMemberCronEvent`, on plain numbers): the member
 *    is held until its bucket's `notBeforeMs` (inside [window - max lead, window - min lead], WARMING_LEADS), or
 *    warmed at once when the predicted window starts sooner than the longest lead (null);
 *  - the predicted usage window: the predictor's own `predictedWindow` (lib/prediction/rule-based.ts); none =
 *    the whole horizon [now, now + 24 h), as the consumer reads an event without a window;
 *  - grouping: warm-feed's `warmGroupLabel` (a member warmed at once also by the hour its window ends); the order's
 *    horizon (`classifyAt`) is its group's latest window end, as the warming job's `horizonUntilMs`;
 *  - strategy: warm-core's `decideWarm` (lib/warming/decide.ts) on the entry at execution time, "fresh" judged
 *    through the horizon (issue 11 tuning, as planWarmingPage does).
 */
import { priorityFor, warmGroupLabel, warmTiming } from '../../activities/warming/member-cron-routing';
import type { CachePolicyEntry } from '../cache-policy';
import { RuleBasedActivityPredictor } from '../prediction/rule-based';
import type { ActivityPredictor } from '../prediction/types';
import { decideWarm } from '../warming/decide';
import type { WarmingPriority, WarmingStrategyName } from '../warming/types';
import type { ObservedMember } from './observed';
import type { ArmTrace, WarmOrder, WarmRoute } from './sim';

/** Warm-feed's routing of a member-cron prediction (its `priorityFor`): skip, PRELOAD or URGENT. */
export function routePrediction(p: number): 'skip' | 'PRELOAD' | 'URGENT' {
  return priorityFor(p) ?? 'skip';
}

/**
 * Warm-core's INTELLIGENT / FORCE / FILL_ONLY decision (its `decideWarm`) on the entry as of `nowMs`, fresh judged
 * through `freshThroughMs` (the job's horizon, as planWarmingPage passes it) when given.
 */
export function intelligentRoute(strategy: WarmingStrategyName, priority: WarmingPriority, entry: CachePolicyEntry | null, nowMs: number, freshThroughMs?: number): WarmRoute {
  const d = decideWarm(strategy, priority, entry, nowMs, freshThroughMs);
  return d.action === 'skip' ? 'skip' : d.path;
}

/** Predictions of every member at the reference time (observable data only). */
export class PredictionTable {
  readonly p: Float32Array;
  readonly confidence: Float32Array;
  /** Predicted usage window (epoch ms); NaN = no window (the whole horizon). */
  readonly windowStart: Float64Array;
  readonly windowEnd: Float64Array;
  readonly eligible: Uint8Array;
  private readonly predictor: ActivityPredictor;

  constructor(
    readonly members: number,
    readonly now: number,
    predictor?: ActivityPredictor,
  ) {
    this.p = new Float32Array(members);
    this.confidence = new Float32Array(members);
    this.windowStart = new Float64Array(members).fill(Number.NaN);
    this.windowEnd = new Float64Array(members).fill(Number.NaN);
    this.eligible = new Uint8Array(members);
    this.predictor = predictor ?? new RuleBasedActivityPredictor();
  }

  get modelVersion(): string {
    return this.predictor.modelVersion;
  }

  /** Predict one member (called once per member while the population loads). */
  observe(m: ObservedMember): void {
    if (!m.rteEnabled) return; // no RTE check possible: never warmed
    const pred = this.predictor.predict({ now: this.now, timeZone: m.timeZone, events: m.events, nextAppointmentAt: m.nextAppointmentAt });
    this.eligible[m.index] = 1;
    this.p[m.index] = pred.appUsageProbability;
    this.confidence[m.index] = pred.confidence;
    if (pred.predictedWindow) {
      this.windowStart[m.index] = pred.predictedWindow.startMs;
      this.windowEnd[m.index] = pred.predictedWindow.endMs;
    }
  }
}

const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);

/**
 * Warm orders as warm-feed times and groups them for events emitted at the reference time (lead scale 1): each
 * member's time is its bucket's `notBeforeMs` (or now), and its horizon (`classifyAt`, what INTELLIGENT judges
 * freshness through) is the latest window end of its group, grouped by priority and `warmGroupLabel` as the feed
 * does (the feed also cuts groups by offset block; one block here, which only widens a group's horizon).
 */
function ordersFor(t: PredictionTable, members: readonly { member: number; priority: 'URGENT' | 'PRELOAD' }[]): WarmOrder[] {
  const rows = members.map(({ member, priority }) => {
    const timing = warmTiming(priority, t.now, orNull(t.windowStart[member]!), orNull(t.windowEnd[member]!), 1);
    return { member, priority, timing, group: `${priority}|${warmGroupLabel(timing, 1)}` };
  });
  const horizon = new Map<string, number>();
  for (const r of rows) horizon.set(r.group, Math.max(horizon.get(r.group) ?? -Infinity, r.timing.horizonUntilMs));
  return rows.map((r) => ({ member: r.member, at: r.timing.notBeforeMs ?? t.now, priority: r.priority, strategy: 'INTELLIGENT' as const, classifyAt: horizon.get(r.group)! }));
}

/** The shipped policy: every member the consumer routing keeps, timed and grouped by priority. */
export function shippedOrders(t: PredictionTable): WarmOrder[] {
  const out: { member: number; priority: 'URGENT' | 'PRELOAD' }[] = [];
  for (let i = 0; i < t.members; i++) {
    if (t.eligible[i] !== 1) continue;
    const route = routePrediction(t.p[i]!);
    if (route !== 'skip') out.push({ member: i, priority: route });
  }
  return ordersFor(t, out);
}

/** A fixed budget: the top-k members by predicted P (ties by member index), routed like the shipped policy (below 0.7: PRELOAD). */
export function topKOrders(t: PredictionTable, k: number): WarmOrder[] {
  const idx: number[] = [];
  for (let i = 0; i < t.members; i++) if (t.eligible[i] === 1) idx.push(i);
  idx.sort((a, b) => t.p[b]! - t.p[a]! || a - b);
  return ordersFor(t, idx.slice(0, k).map((i) => ({ member: i, priority: routePrediction(t.p[i]!) === 'URGENT' ? ('URGENT' as const) : ('PRELOAD' as const) })));
}

/**
 * The shipped routing with another skip threshold (an operating point: members with P >= `skipBelow` are warmed,
 * P > 0.9 URGENT, the rest PRELOAD), timed and grouped like the shipped policy.
 */
export function thresholdOrders(t: PredictionTable, skipBelow: number): WarmOrder[] {
  const out: { member: number; priority: 'URGENT' | 'PRELOAD' }[] = [];
  for (let i = 0; i < t.members; i++) {
    const route = t.eligible[i] === 1 ? priorityFor(t.p[i]!, skipBelow) : null; // warm-feed's routing, WARMING_MIN_PROBABILITY = skipBelow
    if (route) out.push({ member: i, priority: route });
  }
  return ordersFor(t, out);
}

/** The policy before issue 11's tuning (for the record of each change's effect): INTELLIGENT judged fresh now. */
export function freshNowOrders(orders: readonly WarmOrder[]): WarmOrder[] {
  return orders.map(({ classifyAt: _drop, ...o }) => o);
}

/**
 * Perfect foresight at a budget of k warms: from the trace of the same day without warming, the k members
 * whose first non-hit read would make the most reads wait (then rush reads first, then earlier), each
 * warmed by one batch-API item landing `leadMs` before that read (submitted 30 min earlier).
 */
export function ceilingOrders(trace: ArmTrace, k: number, isRush: (member: number, at: number) => boolean, leadMs = 60_000): WarmOrder[] {
  const cand: number[] = [];
  for (let i = 0; i < trace.firstNonHitAt.length; i++) if (!Number.isNaN(trace.firstNonHitAt[i]!)) cand.push(i);
  const rush = (i: number): number => (isRush(i, trace.firstNonHitAt[i]!) ? 1 : 0);
  cand.sort((a, b) => trace.firstNonHitWaits[b]! - trace.firstNonHitWaits[a]! || rush(b) - rush(a) || trace.firstNonHitAt[a]! - trace.firstNonHitAt[b]! || a - b);
  return cand.slice(0, k).map((i) => {
    const readyAt = trace.firstNonHitAt[i]! - leadMs;
    return { member: i, at: readyAt - 30 * 60_000, priority: 'PRELOAD' as const, strategy: 'INTELLIGENT' as const, oracleReadyAt: readyAt };
  });
}
