/**
 * Fast fidelity of the synthetic day: a discrete-event clock over the eligibility cache, the 15-slot real-time
 * pool, Stedi's batch API, members' reads and warming orders. No Redis, Temporal or Stedi: the same decisions
 * (lib/cache-policy.ts decideCacheAction, warm-core's decideWarm through the router, the simulator's latency model from stedi-sim/rng.ts)
 * on a simulated clock, so 100,000 members' day runs in seconds.
 *
 * Model (docs/synthetic-day.md):
 *  - cache: one entry per member (check_eligibility); success entries fresh for `successTtlMs` (22 h), payer
 *    errors for `errorTtlMs` (5 min); reads decide with decideCacheAction(mode, entry, now).
 *  - real-time path: `slots` (15) Stedi calls in flight; latency lognormal (mean 13.5 s, sigma 0.5, as the
 *    Stedi simulator); single flight per member (a read that needs a live check joins the one in flight);
 *    interactive calls (reads, SWR background refreshes) always go before queued warming calls (the warming
 *    class sits below interactive traffic); a read that joins a queued warm promotes it to interactive.
 *  - batch API: warm items gathered for `batchGatherMs`, at most `batchMaxItems` per Stedi batch, results
 *    after a uniform latency in [batchLatencyMinMs, batchLatencyMaxMs] (design doc: 15-30 min).
 *  - warming orders: at their time, a router (the strategy decision) picks real-time, batch API or skip from
 *    the entry class; orders for a member with a live check or batch item in flight are skipped. Oracle
 *    orders (the perfect-foresight ceiling) land their entry at an exact time as one batch-API item each.
 */
import { decideCacheAction, DEFAULT_CACHE_POLICY_OPTIONS, type CacheMode, type CachePolicyEntry, type CachePolicyOptions } from '../cache-policy';
import type { WarmingPriority, WarmingStrategyName } from '../warming/types';
import { DEFAULT_LATENCY, createRng, sampleLatencyMs, type LatencyModel } from '../../stedi-sim/rng';

const DAY = 86_400_000;
const HOUR = 3_600_000;

export type WarmRoute = 'realtime' | 'batch_api' | 'skip';
/**
 * Warm-core's strategy decision for one order, from the member's cache entry as of `nowMs`, fresh judged through
 * `freshThroughMs` when given (policies.ts: decideWarm with the job's horizon).
 */
export type WarmRouter = (strategy: WarmingStrategyName, priority: WarmingPriority, entry: CachePolicyEntry | null, nowMs: number, freshThroughMs?: number) => WarmRoute;

/** The day as the simulator needs it. Sessions and reads sorted by time; reads point at their session. */
export interface SimWorld {
  dayStart: number;
  dayEnd: number;
  members: number;
  /** Member-local offset from UTC in ms (local = utc + offset). */
  offsetMs: Float64Array;
  /** Starting cache entry: 0 none, 1 success, 2 payer error. */
  startOutcome: Uint8Array;
  startFetchedAt: Float64Array;
  sessionMember: Int32Array;
  sessionAt: Float64Array;
  readSession: Int32Array;
  readAt: Float64Array;
}

export interface WarmOrder {
  member: number;
  at: number;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  /**
   * The order's horizon: INTELLIGENT counts the entry as fresh only if it is still fresh at this time ("fresh
   * through the use", decideWarm's freshThroughMs: the warming job's horizonUntilMs). Absent: fresh now.
   */
  classifyAt?: number;
  /** Perfect foresight: the entry lands exactly at this time (one batch-API item, counted at `at`). */
  oracleReadyAt?: number;
}

export interface SimOptions {
  mode: CacheMode;
  successTtlMs: number;
  errorTtlMs: number;
  cachePolicy: CachePolicyOptions;
  slots: number;
  latency: LatencyModel;
  /** Share of real-time calls that fail (payer error, cached for errorTtlMs). */
  errorRate: number;
  batchGatherMs: number;
  batchMaxItems: number;
  batchLatencyMinMs: number;
  batchLatencyMaxMs: number;
  seed: number;
  router: WarmRouter;
  rushFromHour: number;
  rushToHour: number;
}

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, 'router'> = {
  mode: 'DEFAULT',
  successTtlMs: 22 * HOUR,
  errorTtlMs: 5 * 60_000,
  cachePolicy: DEFAULT_CACHE_POLICY_OPTIONS,
  slots: 15,
  latency: DEFAULT_LATENCY,
  errorRate: 0,
  batchGatherMs: 60_000,
  batchMaxItems: 10_000,
  batchLatencyMinMs: 15 * 60_000,
  batchLatencyMaxMs: 30 * 60_000,
  seed: 1,
  rushFromHour: 6,
  rushToHour: 9,
};

export interface ArmCounts {
  reads: number;
  hits: number;
  /** Reads that waited for a live check (started one or joined one in flight). */
  waitedReads: number;
  staleServed: number;
  errorServed: number;
  sessions: number;
  sessionsWaited: number;
  sessionsByLocalHour: number[];
  sessionsWaitedByLocalHour: number[];
  realtimeCalls: { interactive: number; warm: number; swr: number };
  realtimeCallsRush: { interactive: number; warm: number; swr: number };
  batchItems: number;
  batchItemsRush: number;
  batches: number;
  warmOrders: number;
  warmsSkipped: number;
  warmsExecuted: number;
  warmsUsed: number;
  warmsWasted: number;
  /** Read wait times (ms) of reads that waited. */
  waitP50Ms: number;
  waitP95Ms: number;
}

/** Per member: the first read of the day that was not a fresh hit (for the perfect-foresight ceiling). */
export interface ArmTrace {
  firstNonHitAt: Float64Array;
  /** Reads that waited on the live check that first non-hit read caused or joined (0 for a stale serve). */
  firstNonHitWaits: Int32Array;
  /** Members with a warm order skipped because their entry was fresh at the order's time. */
  skippedFresh: Uint8Array;
}

export interface ArmRun {
  counts: ArmCounts;
  trace: ArmTrace;
}

// Event kinds, in tie-break order at equal times: completions first, then warm orders, reads, batch flushes.
const RT_DONE = 0;
const BATCH_DONE = 1;
const ORACLE_DONE = 2;
const WARM = 3;
const READ = 4;
const BATCH_FLUSH = 5;

class EventHeap {
  private t: number[] = [];
  private k: number[] = [];
  private x: number[] = [];
  private s: number[] = [];
  private seq = 0;
  get size(): number {
    return this.t.length;
  }
  private less(i: number, j: number): boolean {
    const a = this.t[i]!;
    const b = this.t[j]!;
    if (a !== b) return a < b;
    if (this.k[i] !== this.k[j]) return this.k[i]! < this.k[j]!;
    return this.s[i]! < this.s[j]!;
  }
  private swap(i: number, j: number): void {
    for (const arr of [this.t, this.k, this.x, this.s]) {
      const v = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = v;
    }
  }
  push(t: number, kind: number, x: number): void {
    this.t.push(t);
    this.k.push(kind);
    this.x.push(x);
    this.s.push(this.seq++);
    let i = this.t.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number, number] {
    const top: [number, number, number] = [this.t[0]!, this.k[0]!, this.x[0]!];
    const last = this.t.length - 1;
    this.swap(0, last);
    this.t.pop();
    this.k.pop();
    this.x.pop();
    this.s.pop();
    let i = 0;
    const n = this.t.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const IDLE = 0;
const QUEUED_WARM = 1;
const QUEUED_INTERACTIVE = 2;
const RUNNING = 3;
const KIND_INTERACTIVE = 1;
const KIND_WARM = 2;
const KIND_SWR = 3;

/** Runs one arm over the day. Deterministic for (world, orders, options). */
export function simulateArm(world: SimWorld, orders: readonly WarmOrder[], options: SimOptions): ArmRun {
  const o = options;
  const n = world.members;
  const latencyRng = createRng(o.seed ^ 0x51ed1);
  const errorRng = createRng(o.seed ^ 0xe44);
  const batchRng = createRng(o.seed ^ 0xba7c4);

  const outcome = Uint8Array.from(world.startOutcome);
  const fetchedAt = Float64Array.from(world.startFetchedAt);
  const expiresAt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (outcome[i] === 1) expiresAt[i] = fetchedAt[i]! + o.successTtlMs;
    else if (outcome[i] === 2) expiresAt[i] = fetchedAt[i]! + o.errorTtlMs;
  }
  const state = new Uint8Array(n);
  const callKind = new Uint8Array(n);
  const batchPending = new Uint8Array(n);
  const warmUnused = new Uint8Array(n);
  const waiters = new Map<number, { session: number; at: number }[]>();
  const firstNonHitAt = new Float64Array(n).fill(NaN);
  const firstNonHitWaits = new Int32Array(n);
  const firstFetchOpen = new Uint8Array(n);
  const skippedFresh = new Uint8Array(n);
  const sessionWaited = new Uint8Array(world.sessionAt.length);
  const waits: number[] = [];

  const c: ArmCounts = {
    reads: 0,
    hits: 0,
    waitedReads: 0,
    staleServed: 0,
    errorServed: 0,
    sessions: world.sessionAt.length,
    sessionsWaited: 0,
    sessionsByLocalHour: new Array<number>(24).fill(0),
    sessionsWaitedByLocalHour: new Array<number>(24).fill(0),
    realtimeCalls: { interactive: 0, warm: 0, swr: 0 },
    realtimeCallsRush: { interactive: 0, warm: 0, swr: 0 },
    batchItems: 0,
    batchItemsRush: 0,
    batches: 0,
    warmOrders: 0,
    warmsSkipped: 0,
    warmsExecuted: 0,
    warmsUsed: 0,
    warmsWasted: 0,
    waitP50Ms: 0,
    waitP95Ms: 0,
  };

  const localHour = (member: number, t: number): number => {
    const local = t + world.offsetMs[member]!;
    return Math.floor((((local % DAY) + DAY) % DAY) / HOUR);
  };
  const isRush = (member: number, t: number): boolean => {
    const h = localHour(member, t);
    return h >= o.rushFromHour && h < o.rushToHour;
  };
  const entryOf = (m: number): CachePolicyEntry | null =>
    outcome[m] === 0 ? null : { outcome: outcome[m] === 1 ? 'success' : 'error', fetchedAt: fetchedAt[m]!, expiresAt: expiresAt[m]! };
  const writeEntry = (m: number, ok: boolean, at: number, fromWarm: boolean): void => {
    if (warmUnused[m] === 1) {
      c.warmsWasted++;
      warmUnused[m] = 0;
    }
    outcome[m] = ok ? 1 : 2;
    fetchedAt[m] = at;
    expiresAt[m] = at + (ok ? o.successTtlMs : o.errorTtlMs);
    if (fromWarm && ok) warmUnused[m] = 1;
  };

  const heap = new EventHeap();
  const qInteractive: number[] = [];
  const qWarm: number[] = [];
  let qiHead = 0;
  let qwHead = 0;
  let inFlight = 0;

  const startNext = (t: number): void => {
    while (inFlight < o.slots) {
      let m = -1;
      while (qiHead < qInteractive.length) {
        const x = qInteractive[qiHead++]!;
        if (state[x] === QUEUED_INTERACTIVE) {
          m = x;
          break;
        }
      }
      if (m < 0) {
        while (qwHead < qWarm.length) {
          const x = qWarm[qwHead++]!;
          if (state[x] === QUEUED_WARM) {
            m = x;
            break;
          }
        }
      }
      if (m < 0) return;
      state[m] = RUNNING;
      inFlight++;
      const kind = callKind[m] === KIND_WARM ? 'warm' : callKind[m] === KIND_SWR ? 'swr' : 'interactive';
      c.realtimeCalls[kind]++;
      if (isRush(m, t)) c.realtimeCallsRush[kind]++;
      heap.push(t + sampleLatencyMs(latencyRng, o.latency), RT_DONE, m);
    }
  };
  const requestRealtime = (m: number, kind: number, t: number): void => {
    callKind[m] = kind;
    if (kind === KIND_WARM) {
      state[m] = QUEUED_WARM;
      qWarm.push(m);
    } else {
      state[m] = QUEUED_INTERACTIVE;
      qInteractive.push(m);
    }
    startNext(t);
  };

  for (let r = 0; r < world.readAt.length; r++) heap.push(world.readAt[r]!, READ, r);
  for (let w = 0; w < orders.length; w++) {
    const ord = orders[w]!;
    if (ord.at < world.dayEnd) heap.push(Math.max(ord.at, world.dayStart), WARM, w);
  }
  const batches: number[][] = [];
  const batchSubmittedAt: number[] = [];
  let openBatch = -1;

  while (heap.size > 0) {
    const [t, kind, x] = heap.pop();
    switch (kind) {
      case READ: {
        const session = world.readSession[x]!;
        const m = world.sessionMember[session]!;
        c.reads++;
        const d = decideCacheAction(o.mode, entryOf(m), t, o.cachePolicy);
        if (d.action === 'serve' && d.cacheStatus === 'HIT') {
          c.hits++;
          if (warmUnused[m] === 1) {
            c.warmsUsed++;
            warmUnused[m] = 0;
          }
          break;
        }
        if (d.action === 'serve') {
          c.errorServed++;
          break;
        }
        const firstNonHit = Number.isNaN(firstNonHitAt[m]!);
        if (firstNonHit) firstNonHitAt[m] = t;
        if (d.action === 'serve-and-refresh') {
          c.staleServed++;
          if (state[m] === IDLE) requestRealtime(m, KIND_SWR, t);
          break;
        }
        // fetch (or a CACHE_ONLY miss, which this simulator never issues): the member waits for a live check.
        c.waitedReads++;
        sessionWaited[session] = 1;
        const list = waiters.get(m);
        if (list) list.push({ session, at: t });
        else waiters.set(m, [{ session, at: t }]);
        if (firstNonHit) firstFetchOpen[m] = 1;
        if (firstFetchOpen[m] === 1) firstNonHitWaits[m]!++;
        if (state[m] === IDLE) requestRealtime(m, KIND_INTERACTIVE, t);
        else if (state[m] === QUEUED_WARM) {
          state[m] = QUEUED_INTERACTIVE;
          qInteractive.push(m);
          startNext(t);
        }
        break;
      }
      case RT_DONE: {
        inFlight--;
        state[x] = IDLE;
        const ok = errorRng() >= o.errorRate;
        const fromWarm = callKind[x] === KIND_WARM;
        if (fromWarm) c.warmsExecuted++;
        writeEntry(x, ok, t, fromWarm);
        firstFetchOpen[x] = 0;
        const list = waiters.get(x);
        if (list) {
          waiters.delete(x);
          for (const wtr of list) waits.push(t - wtr.at);
          // A waiting read is answered by this check: fresh data, or the payer error.
          if (!ok) c.errorServed += list.length;
        }
        startNext(t);
        break;
      }
      case WARM: {
        const ord = orders[x]!;
        const m = ord.member;
        c.warmOrders++;
        if (state[m] !== IDLE || batchPending[m] === 1) {
          c.warmsSkipped++;
          break;
        }
        if (ord.oracleReadyAt !== undefined) {
          batchPending[m] = 1;
          c.batchItems++;
          if (isRush(m, t)) c.batchItemsRush++;
          heap.push(Math.max(t, ord.oracleReadyAt), ORACLE_DONE, m);
          break;
        }
        const route = o.router(ord.strategy, ord.priority, entryOf(m), t, ord.classifyAt);
        if (route === 'skip') {
          c.warmsSkipped++;
          if (outcome[m] === 1 && t < expiresAt[m]!) skippedFresh[m] = 1;
        } else if (route === 'realtime') {
          requestRealtime(m, KIND_WARM, t);
        } else {
          batchPending[m] = 1;
          if (openBatch < 0) {
            openBatch = batches.length;
            batches.push([]);
            heap.push(t + o.batchGatherMs, BATCH_FLUSH, openBatch);
          }
          const items = batches[openBatch]!;
          items.push(m);
          if (items.length >= o.batchMaxItems) openBatch = -1; // its scheduled flush submits it; a new one opens
        }
        break;
      }
      case BATCH_FLUSH: {
        if (openBatch === x) openBatch = -1;
        const items = batches[x]!;
        batchSubmittedAt[x] = t;
        c.batches++;
        for (const m of items) {
          c.batchItems++;
          if (isRush(m, t)) c.batchItemsRush++;
        }
        heap.push(t + o.batchLatencyMinMs + batchRng() * (o.batchLatencyMaxMs - o.batchLatencyMinMs), BATCH_DONE, x);
        break;
      }
      case BATCH_DONE: {
        for (const m of batches[x]!) {
          batchPending[m] = 0;
          c.warmsExecuted++;
          if (outcome[m] === 1 && fetchedAt[m]! >= batchSubmittedAt[x]!) {
            // A live check refreshed the entry while the batch ran: the batch answer changes nothing.
            c.warmsWasted++;
            continue;
          }
          writeEntry(m, true, t, true);
        }
        batches[x] = [];
        break;
      }
      case ORACLE_DONE: {
        batchPending[x] = 0;
        c.warmsExecuted++;
        writeEntry(x, true, t, true);
        break;
      }
      default:
        throw new Error(`unknown event kind ${kind}`);
    }
  }
  for (let i = 0; i < n; i++) if (warmUnused[i] === 1) c.warmsWasted++;
  for (let s = 0; s < world.sessionAt.length; s++) {
    const h = localHour(world.sessionMember[s]!, world.sessionAt[s]!);
    c.sessionsByLocalHour[h]!++;
    if (sessionWaited[s] === 1) {
      c.sessionsWaited++;
      c.sessionsWaitedByLocalHour[h]!++;
    }
  }
  waits.sort((a, b) => a - b);
  c.waitP50Ms = percentile(waits, 0.5);
  c.waitP95Ms = percentile(waits, 0.95);
  return { counts: c, trace: { firstNonHitAt, firstNonHitWaits, skippedFresh } };
}
