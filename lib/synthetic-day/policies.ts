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
 * SWAP POINTS (issue 9 is being built on other branches; this adapter stands in until it lands on main):
 *  - `routePrediction`          → warm-feed's consumer routing function (p → skip / PRELOAD / URGENT);
 *  - `predictedUsageStart`      → the predictor's predicted usage window (warm-feed adds it to
 *                                  ActivityPrediction); until then: the next start of the member's peak
 *                                  local hour (peakLocalHour), or now + 12 h when the member has no sessions;
 *  - `warmLeadMs`               → warm-feed's hold-until time (URGENT 2-4 h ahead: 3 h; PRELOAD 12-24 h: 18 h);
 *  - `intelligentRoute`         → warm-core's per-member strategy decision (lib/warming/).
 * Each is one function here; replacing its body with a call to the real one is a one-line change.
 */
import { RuleBasedActivityPredictor } from '../prediction/rule-based';
import type { ActivityPredictor } from '../prediction/types';
import { WARMING_SKIP_BELOW, WARMING_URGENT_ABOVE, type WarmingPriority, type WarmingStrategyName } from '../warming/types';
import type { ObservedMember } from './observed';
import type { ArmTrace, EntryClass, WarmOrder, WarmRoute } from './sim';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** SWAP POINT: warm-feed's routing of a member-cron prediction (issue 9: < 0.7 skip, 0.7-0.9 PRELOAD, > 0.9 URGENT). */
export function routePrediction(p: number): 'skip' | 'PRELOAD' | 'URGENT' {
  if (p < WARMING_SKIP_BELOW) return 'skip';
  return p > WARMING_URGENT_ABOVE ? 'URGENT' : 'PRELOAD';
}

/** SWAP POINT: how far ahead of the predicted usage a member is warmed (URGENT 2-4 h, PRELOAD 12-24 h: the midpoints). */
export function warmLeadMs(priority: WarmingPriority): number {
  return priority === 'URGENT' ? 3 * HOUR : 18 * HOUR;
}

/**
 * SWAP POINT: warm-core's INTELLIGENT / FORCE / FILL_ONLY decision from one cache read (design doc):
 * INTELLIGENT: fresh → skip; stale → batch API; miss → real-time if URGENT, batch API otherwise.
 * FORCE: real-time. FILL_ONLY: any entry → skip; miss → batch API. A payer error still inside its 5-minute
 * TTL is skipped (warming would repeat a failing call); an expired one counts as a miss.
 */
export function intelligentRoute(strategy: WarmingStrategyName, priority: WarmingPriority, entry: EntryClass): WarmRoute {
  if (strategy === 'FORCE') return 'realtime';
  if (entry === 'fresh-success' || entry === 'fresh-error') return 'skip';
  if (strategy === 'FILL_ONLY') return entry === 'none' || entry === 'expired-error' ? 'batch_api' : 'skip';
  if (entry === 'expired-success') return 'batch_api';
  return priority === 'URGENT' ? 'realtime' : 'batch_api';
}

/**
 * SWAP POINT: the start of the predicted usage window. Until the predictor carries one: the next start of
 * the member's peak local hour at or after `now` (offset = the member's UTC offset that day).
 */
export function predictedUsageStart(now: number, peakLocalHour: number | null, offsetMs: number): number {
  if (peakLocalHour === null) return now + 12 * HOUR;
  const localNow = now + offsetMs;
  const localMidnight = Math.floor(localNow / DAY) * DAY;
  let start = localMidnight + peakLocalHour * HOUR - offsetMs;
  if (start < now) start += DAY;
  return start;
}

/** Predictions of every member at the reference time (observable data only). */
export class PredictionTable {
  readonly p: Float32Array;
  readonly confidence: Float32Array;
  readonly usageStart: Float64Array;
  readonly eligible: Uint8Array;
  private readonly predictor: ActivityPredictor;

  constructor(
    readonly members: number,
    readonly now: number,
    predictor?: ActivityPredictor,
  ) {
    this.p = new Float32Array(members);
    this.confidence = new Float32Array(members);
    this.usageStart = new Float64Array(members);
    this.eligible = new Uint8Array(members);
    this.predictor = predictor ?? new RuleBasedActivityPredictor();
  }

  get modelVersion(): string {
    return this.predictor.modelVersion;
  }

  /** Predict one member (called once per member while the population loads). */
  observe(m: ObservedMember, offsetMs: number): void {
    if (!m.rteEnabled) return; // no RTE check possible: never warmed
    const pred = this.predictor.predict({ now: this.now, timeZone: m.timeZone, events: m.events, nextAppointmentAt: m.nextAppointmentAt });
    this.eligible[m.index] = 1;
    this.p[m.index] = pred.appUsageProbability;
    this.confidence[m.index] = pred.confidence;
    this.usageStart[m.index] = predictedUsageStart(this.now, pred.peakLocalHour, offsetMs);
  }
}

function order(t: PredictionTable, member: number, priority: WarmingPriority): WarmOrder {
  return { member, at: Math.max(t.now, t.usageStart[member]! - warmLeadMs(priority)), priority, strategy: 'INTELLIGENT' };
}

/** The shipped policy: every member the consumer routing keeps, timed by priority. */
export function shippedOrders(t: PredictionTable): WarmOrder[] {
  const out: WarmOrder[] = [];
  for (let i = 0; i < t.members; i++) {
    if (t.eligible[i] !== 1) continue;
    const route = routePrediction(t.p[i]!);
    if (route !== 'skip') out.push(order(t, i, route));
  }
  return out;
}

/** A fixed budget: the top-k members by predicted P (ties by member index), routed like the shipped policy (below 0.7: PRELOAD). */
export function topKOrders(t: PredictionTable, k: number): WarmOrder[] {
  const idx: number[] = [];
  for (let i = 0; i < t.members; i++) if (t.eligible[i] === 1) idx.push(i);
  idx.sort((a, b) => t.p[b]! - t.p[a]! || a - b);
  return idx.slice(0, k).map((i) => order(t, i, routePrediction(t.p[i]!) === 'URGENT' ? 'URGENT' : 'PRELOAD'));
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

/**
 * Tuning preview (not the shipped policy): the shipped orders with INTELLIGENT judging the entry as of the
 * predicted usage start, so an entry that is fresh now but expires before the use is refreshed.
 */
export function freshThroughUseOrders(t: PredictionTable): WarmOrder[] {
  return shippedOrders(t).map((o) => ({ ...o, classifyAt: t.usageStart[o.member]! }));
}
