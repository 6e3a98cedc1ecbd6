import type { BatchPriority } from '../../lib/wdrr';

/** Who is asking for a real-time Stedi slot. */
export type SlotRequest =
  | { readonly kind: 'interactive' }
  | { readonly kind: 'batch'; readonly clientService: string; readonly priority?: BatchPriority }
  /**
   * Cache warming (URGENT real-time warms): its own weighted class among the non-interactive queues, so it
   * shares batch capacity by weight and never touches the interactive reservation or interactive's precedence.
   */
  | { readonly kind: 'warming'; readonly priority: string };

export type SlotKind = SlotRequest['kind'];

export interface AcquireOptions {
  /** Give up waiting when this fires (the slot is never granted afterwards). */
  readonly signal?: AbortSignal;
  /** Overrides the pool's acquire timeout for this call. */
  readonly timeoutMs?: number;
  /**
   * Wait ahead of the first-time callers of the same queue (FIFO among those that wait ahead): a retry of a member
   * that already had its turn, so a finite batch's retries do not queue behind its look-ahead and end last. Only
   * the order inside the caller's own queue changes; interactive precedence, the reservation, the adaptive cap and
   * the WDRR shares between queues are unchanged.
   */
  readonly ahead?: boolean;
}

/** A held slot. Renewed in the background until released. */
export interface SlotLease {
  readonly id: string;
  /** Queue the grant came from: 'interactive' or 'batch:<client service>:<priority>'. */
  readonly queue: string;
  readonly kind: SlotKind;
  /**
   * Aborted if the lease is lost (renewal failed past the lease TTL, e.g. Redis unreachable or the event
   * loop stalled), meaning another caller may now hold the slot. Pass it to the Stedi call.
   */
  readonly signal: AbortSignal;
  /** Frees the slot. Never throws: a release that cannot reach Redis is logged and the lease expires. */
  release(): Promise<void>;
}

export interface SlotPoolStats {
  readonly limit: number;
  readonly interactiveInUse: number;
  readonly batchInUse: number;
  /** Waiters per queue ('interactive', 'batch:<client>:<priority>'). */
  readonly waiting: Readonly<Record<string, number>>;
  /** The limit after Stedi 429s lowered it (recovering to `limit`); absent where the pool does not adapt. */
  readonly effectiveLimit?: number;
  /** Time left of a quarantine after Redis lost the pool's state (nothing is granted meanwhile). */
  readonly quarantineMs?: number;
}

/** Port used by the Stedi activities: at most `limit` real-time calls in flight across all workers. */
export interface SlotPool {
  acquire(request: SlotRequest, options?: AcquireOptions): Promise<SlotLease>;
  /** Acquire, run `fn` while renewing the lease, release in `finally`. */
  withSlot<T>(request: SlotRequest, fn: (lease: SlotLease) => Promise<T>, options?: AcquireOptions): Promise<T>;
  stats(): Promise<SlotPoolStats>;
  /**
   * Stedi answered 429 on a call made under `lease`: other users of the account hold slots. Lowers the pool's
   * effective limit (recovering without further 429s). Never throws. Call it before releasing the lease.
   */
  reportThrottled?(lease: SlotLease): Promise<void>;
  /**
   * This process is shutting down (probe p17 #1): every waiting acquire and every later one is refused with
   * SlotPoolDrainingError, so no new Stedi call starts during the drain only to be cut at the grace end and made
   * again by the retry on another worker. Held leases are untouched: their calls run on. Idempotent.
   */
  drain?(): void;
  /** Stops timers and the subscriber, cancels waiting tickets and releases held leases (best effort). */
  close(): Promise<void>;
}

/** Optional metrics sink; the composition root adapts it to prom-client. */
export interface SlotPoolMetrics {
  onAcquire?(queue: string, kind: SlotKind, waitMs: number): void;
  onRelease?(queue: string, kind: SlotKind, heldMs: number): void;
  onAcquireTimeout?(queue: string, kind: SlotKind, waitMs: number): void;
  onLeaseLost?(queue: string, kind: SlotKind): void;
  /** A Stedi 429 lowered the effective limit to `effectiveLimit`. */
  onThrottled?(queue: string, kind: SlotKind, effectiveLimit: number): void;
  /** A running call's lease was missing in Redis and was re-registered. */
  onLeaseReRegistered?(queue: string, kind: SlotKind): void;
  /** This process saw a new pool epoch: Redis lost the pool state. */
  onStateLoss?(): void;
  /** Gauge: slots in use across all workers, as last seen by this process. */
  slotsInUse?(inUse: { readonly interactive: number; readonly batch: number; readonly total: number }): void;
}

/** Thrown when no slot was granted within the acquire timeout. Retryable. */
export class SlotAcquireTimeoutError extends Error {
  constructor(
    readonly queue: string,
    readonly waitedMs: number,
  ) {
    super(`no real-time slot granted within ${Math.round(waitedMs)} ms (queue ${queue})`);
    this.name = 'SlotAcquireTimeoutError';
  }
}

/** Reason given to a lease's signal when the lease was lost. */
export class SlotLeaseLostError extends Error {
  constructor(readonly leaseId: string) {
    super(`real-time slot lease ${leaseId} was lost`);
    this.name = 'SlotLeaseLostError';
  }
}

/** Refused because this worker process is shutting down (`drain`): no Stedi call was made. Retryable elsewhere. */
export class SlotPoolDrainingError extends Error {
  constructor(readonly queue: string) {
    super(`worker is shutting down: no new real-time call starts here (queue ${queue})`);
    this.name = 'SlotPoolDrainingError';
  }
}

export class SlotPoolClosedError extends Error {
  constructor() {
    super('slot pool is closed');
    this.name = 'SlotPoolClosedError';
  }
}
