/**
 * Hedging a finite batch's last-wave stragglers (issue 14, finite-batch tail): pure policy, no I/O.
 *
 * Stedi latencies are random (lognormal), so in a small real-time batch the last few calls decide the wall time
 * while most slots sit idle. When every member the batch still owes is already in flight and the slot pool is idle,
 * a call that has run longer than a high percentile of recent latencies gets ONE duplicate Stedi call on an idle
 * slot; the first good answer wins. The policy is deliberately narrow:
 *   - only batch members whose batch size is known (its member list: an id list, or a resolved member_query), and at most `floor(maxFraction × members)`
 *     hedges per batch (across every worker);
 *   - only when nobody waits for a slot (no queue of the pool has a waiter), and only into free slots beyond
 *     `freeSlotsKept` (kept for interactive reads), so live users and other batches never wait because of a hedge;
 *   - only when the batch's unfinished members are no more than the batch slots in use (all in flight);
 *   - only after the call ran past `max(minMs, the percentile of the last `window` latencies)`, with at least
 *     `minSamples` observed latencies (no threshold from thin data).
 * A hedge holds a real slot for its whole HTTP call (and so does the loser after the winner answered), so the
 * pool's limit still bounds the calls in flight at Stedi.
 */

export interface HedgeConfig {
  enabled: boolean;
  /** Hedge a call once it ran longer than this percentile (0.5–0.999) of recently observed latencies. */
  percentile: number;
  /** ... and never before this many ms. */
  minMs: number;
  /** Hedges per batch ≤ floor(maxFraction × the batch's members). */
  maxFraction: number;
  /** Free slots a hedge never takes (left for interactive reads). */
  freeSlotsKept: number;
  /** Latencies needed before any threshold is trusted. */
  minSamples: number;
  /** Recent latencies kept (this process). */
  window: number;
  /** How often an overdue call re-checks the pool and its batch, ms. */
  checkEveryMs: number;
}

export const DEFAULT_HEDGE_CONFIG: HedgeConfig = {
  enabled: false,
  percentile: 0.9,
  minMs: 5_000,
  maxFraction: 0.1,
  freeSlotsKept: 2,
  minSamples: 20,
  window: 200,
  checkEveryMs: 1_000,
};

/** The last `size` observed Stedi latencies (a ring buffer). */
export class LatencyWindow {
  private readonly values: number[] = [];
  private next = 0;
  constructor(private readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError('window size must be a positive integer');
  }

  push(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) return;
    if (this.values.length < this.size) this.values.push(ms);
    else this.values[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  get count(): number {
    return this.values.length;
  }

  /** Nearest-rank quantile q in (0, 1]; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  }
}

/** When an in-flight call becomes a hedge candidate (ms since it took its slot); undefined: too few samples. */
export function hedgeThresholdMs(latencies: LatencyWindow, config: Pick<HedgeConfig, 'percentile' | 'minMs' | 'minSamples'>): number | undefined {
  if (latencies.count < config.minSamples) return undefined;
  const q = latencies.quantile(config.percentile);
  return q === undefined ? undefined : Math.max(config.minMs, q);
}

/** Hedges a batch of `members` may start. */
export function hedgeBudget(members: number, maxFraction: number): number {
  return Math.max(0, Math.floor(members * maxFraction + 1e-9));
}

export interface HedgeSituation {
  /** How long the call has been at Stedi, ms. */
  elapsedMs: number;
  thresholdMs: number | undefined;
  pool: {
    /** The pool's limit now (after 429s lowered it). */
    limit: number;
    interactiveInUse: number;
    batchInUse: number;
    /** Waiters across every queue. */
    waiting: number;
  };
  /** The batch as PostgreSQL knows it; undefined when it has no member list there. */
  batch: { members: number; finished: number } | undefined;
}

export type HedgeRefusal = 'disabled' | 'no-threshold' | 'too-early' | 'waiters' | 'no-free-slot' | 'batch-unknown' | 'members-not-in-flight' | 'budget';
/** `budget`: the batch's hedge cap, to be taken atomically from the shared count (HedgeBudgetStore.take). */
export type HedgeDecision = { hedge: true; budget: number } | { hedge: false; reason: HedgeRefusal };

/**
 * Whether an in-flight call should get its duplicate now. Checks in the order the caller can gather facts (local
 * threshold, then the pool, then the batch), so `batch: undefined` with good pool facts yields 'batch-unknown'.
 */
export function decideHedge(s: HedgeSituation, config: Pick<HedgeConfig, 'enabled' | 'freeSlotsKept' | 'maxFraction'>): HedgeDecision {
  if (!config.enabled) return { hedge: false, reason: 'disabled' };
  if (s.thresholdMs === undefined) return { hedge: false, reason: 'no-threshold' };
  if (s.elapsedMs < s.thresholdMs) return { hedge: false, reason: 'too-early' };
  if (s.pool.waiting > 0) return { hedge: false, reason: 'waiters' };
  const free = s.pool.limit - s.pool.interactiveInUse - s.pool.batchInUse;
  if (free <= config.freeSlotsKept) return { hedge: false, reason: 'no-free-slot' };
  if (!s.batch) return { hedge: false, reason: 'batch-unknown' };
  // Members not finished yet: each is either in flight (holding a batch slot) or not started / between retries.
  if (s.batch.members - s.batch.finished > s.pool.batchInUse) return { hedge: false, reason: 'members-not-in-flight' };
  const budget = hedgeBudget(s.batch.members, config.maxFraction);
  if (budget < 1) return { hedge: false, reason: 'budget' };
  return { hedge: true, budget };
}

/** What a hedged call ended with: the first good answer, or (both failed) the primary's error. */
export type HedgeRace<T> = { value: T; winner: 'primary' | 'hedge' };

/**
 * The first of two calls to answer well. A call that fails leaves the other to answer; when both fail, the primary's
 * error is thrown (it is the call the member would have had without hedging). The loser is not cancelled here.
 */
export function firstGood<T>(primary: Promise<T>, hedge: Promise<T>): Promise<HedgeRace<T>> {
  return new Promise((resolve, reject) => {
    let failed = 0;
    let primaryError: unknown;
    const fail = (which: 'primary' | 'hedge', err: unknown): void => {
      if (which === 'primary') primaryError = err;
      failed += 1;
      if (failed === 2) reject(primaryError);
    };
    primary.then((value) => resolve({ value, winner: 'primary' }), (err: unknown) => fail('primary', err));
    hedge.then((value) => resolve({ value, winner: 'hedge' }), (err: unknown) => fail('hedge', err));
  });
}
