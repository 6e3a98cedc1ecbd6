import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Cluster, Redis } from 'ioredis';
import { createGroupCommit, type GroupCommit } from '../../lib/group-commit';
import { adaptiveBatchCapTable, DEFAULT_ADAPTIVE_BATCH_CONFIG, defaultReservedInteractive, type AdaptiveBatchConfig } from '../../lib/adaptive-rate';
import { silentLogger, type Logger } from '../../lib/logger';
import { DEFAULT_PRIORITY_WEIGHTS, quantumForWeight, type BatchPriority } from '../../lib/wdrr';
import {
  EPOCH_SCRIPT,
  INTERACTIVE_QUEUE,
  KEY_NAMES,
  OPS_SCRIPT,
  POLL_SCRIPT,
  RENEW_SCRIPT,
  STATS_SCRIPT,
  THROTTLED_SCRIPT,
} from './lua';
import {
  SlotAcquireTimeoutError,
  SlotLeaseLostError,
  SlotPoolClosedError,
  SlotPoolDrainingError,
  type AcquireOptions,
  type SlotKind,
  type SlotLease,
  type SlotPool,
  type SlotPoolMetrics,
  type SlotPoolStats,
  type SlotRequest,
} from './types';

type RedisClient = Redis | Cluster;

export interface RedisSlotPoolOptions {
  /** Command connection (shared is fine). Must not use ioredis' `keyPrefix` option: scripts build keys. */
  readonly redis: RedisClient;
  /** Connection for pub/sub; by default the pool duplicates `redis` and closes the copy on close(). */
  readonly subscriber?: RedisClient;
  /** Prepended to the `{rte-slots}` hash tag; tests use a random prefix. Default 'rte:'. */
  readonly keyPrefix?: string;
  /** Real-time calls in flight across all workers (Stedi's per-account limit). Default 15. */
  readonly limit?: number;
  /** Slots batch work may never take. Default 3 for 15 slots (a fifth of the pool, at most 3). */
  readonly reservedInteractive?: number;
  /** Lease lifetime without renewal: a crashed worker's slots return within this. Default 30 s. */
  readonly leaseTtlMs?: number;
  /** Default leaseTtlMs / 3. */
  readonly renewIntervalMs?: number;
  /** Waiting tickets die this long after their last heartbeat. Default 5 s. */
  readonly ticketTtlMs?: number;
  /** A granted slot not picked up by its waiter within this returns to the pool. Default ticketTtlMs. */
  readonly grantPickupMs?: number;
  /** Poll fallback interval (jittered between min and max) next to pub/sub wake-ups. Default 100–250 ms. */
  readonly pollMinMs?: number;
  readonly pollMaxMs?: number;
  /** Default 120 s. */
  readonly acquireTimeoutMs?: number;
  /** Weight per client service name; others get defaultClientWeight (1). */
  readonly clientWeights?: Readonly<Record<string, number>>;
  readonly defaultClientWeight?: number;
  /** Default HIGH 4, NORMAL 2, LOW 1. */
  readonly priorityWeights?: Readonly<Record<BatchPriority, number>>;
  /** WDRR weight of the cache-warming class (queue `warming:<priority>`) next to batch queues. Default 4 (= a HIGH batch). */
  readonly warmingWeight?: number;
  /** Adaptive batch cap (lib/adaptive-rate.ts); `false` leaves batch limited only by the reservation. */
  readonly adaptive?: AdaptiveBatchConfig | false;
  readonly metrics?: SlotPoolMetrics;
  readonly logger?: Logger;
  /**
   * After a Stedi 429 lowered the effective limit, it grows back one slot per this many ms without another 429.
   * Default 5 s.
   */
  readonly throttleRecoveryMs?: number;
  /**
   * Nothing is granted for this long after Redis lost the pool's state, so live holders re-register their
   * leases first (docs/reliability.md). Default 1.5 × renewIntervalMs (15 s with the 30 s lease): at least one
   * renewal of every live holder, and about one mean Stedi latency.
   */
  readonly stateLossQuarantineMs?: number;
  /** A lease renewal that failed (Redis unreachable) is retried this often until it succeeds. Default 500 ms. */
  readonly renewRetryMs?: number;
  /** A waiter whose enqueue failed (Redis unreachable) retries it after this, until its acquire timeout. Default 500 ms. */
  readonly enqueueRetryMs?: number;
}

class Script {
  readonly sha: string;
  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.includes('NOSCRIPT')) return redis.eval(this.lua, keys.length, ...keys, ...args);
      throw err;
    }
  }
}

const SCRIPTS = {
  poll: new Script(POLL_SCRIPT),
  renew: new Script(RENEW_SCRIPT),
  stats: new Script(STATS_SCRIPT),
  epoch: new Script(EPOCH_SCRIPT),
  throttled: new Script(THROTTLED_SCRIPT),
  ops: new Script(OPS_SCRIPT),
};

/** One operation of OPS_SCRIPT: enqueue a waiter's ticket, release a lease, cancel a ticket. */
type SlotOp =
  | { readonly op: 'e'; readonly ticket: string; readonly route: Route; readonly ahead: boolean }
  | { readonly op: 'r' | 'c'; readonly id: string };

/** Most operations in one OPS_SCRIPT call. */
const OPS_MAX = 200;

interface Route {
  readonly queue: string;
  readonly kind: SlotKind;
  readonly quantum: number;
}

interface Waiter {
  ticket: string;
  readonly route: Route;
  readonly startedAt: number;
  /** AcquireOptions.ahead: waits ahead of its queue's first-time tickets. */
  readonly ahead: boolean;
  /**
   * Redis has the ticket (its enqueue's reply is in). Only such tickets are polled: a ticket whose enqueue is still
   * gathering with other operations would be reported gone and queued twice.
   */
  queued: boolean;
  settled: boolean;
  resolve(lease: SlotLease): void;
  reject(err: unknown): void;
  cleanup(): void;
}

/** Key names for a prefix; exported for tests that inspect or clean up Redis. */
export function slotPoolKeys(keyPrefix: string): { prefix: string; keys: string[]; channel: string } {
  const prefix = `${keyPrefix}{rte-slots}:`;
  return { prefix, keys: KEY_NAMES.map((k) => prefix + k), channel: `${prefix}ev` };
}

export function slotQueueId(request: SlotRequest): string {
  if (request.kind === 'interactive') return INTERACTIVE_QUEUE;
  if (request.kind === 'warming') return `warming:${encodeURIComponent(request.priority)}`;
  if (request.clientService.length === 0) throw new RangeError('clientService must not be empty');
  // encodeURIComponent keeps ids ASCII, so byte order (Redis) and JS string order agree.
  return `batch:${encodeURIComponent(request.clientService)}:${request.priority ?? 'NORMAL'}`;
}

export function createRedisSlotPool(options: RedisSlotPoolOptions): SlotPool {
  return new RedisSlotPool(options);
}

class RedisSlotPool implements SlotPool {
  private readonly redis: RedisClient;
  private subscriber: RedisClient | undefined;
  private readonly ownsSubscriber: boolean;
  private subscribed: Promise<void> | undefined;
  private readonly prefix: string;
  private readonly keys: string[];
  private readonly channel: string;
  private readonly limit: number;
  private readonly commonArgs: (string | number)[];
  private readonly leaseTtlMs: number;
  private readonly renewIntervalMs: number;
  private readonly ticketTtlMs: number;
  private readonly pickupMs: number;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;
  private readonly acquireTimeoutMs: number;
  private readonly clientWeights: Readonly<Record<string, number>>;
  private readonly defaultClientWeight: number;
  private readonly priorityWeights: Readonly<Record<BatchPriority, number>>;
  private readonly warmingWeight: number;
  private readonly metrics: SlotPoolMetrics;
  private readonly log: Logger;
  private readonly pending = new Map<string, Waiter>();
  private readonly held = new Set<RedisSlotLease>();
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private draining = false;
  /** The pool epoch this process last saw in Redis ('' until the first check). */
  private epoch = '';
  private readonly throttleRecoveryMs: number;
  private readonly quarantineMs: number;
  readonly renewRetryMs: number;
  private readonly enqueueRetryMs: number;
  /**
   * This process's ticket ids start with it, so OPS_SCRIPT knows which grants are the caller's own (returned at once
   * with the full lease TTL) and which belong to other processes (published with the pickup window).
   */
  private readonly owner = `${randomBytes(8).toString('hex')}.`;
  private ticketSeq = 0;
  /**
   * Enqueues, releases and cancels of this process go to Redis together (issue 14, multi-ticket grants): an idle pool
   * sends at once, a busy one gathers what its waiters and holders ask for while its previous call is out (group commit,
   * no timer), so a call grants and frees several slots at a time, with one scheduling pass.
   */
  private readonly ops: GroupCommit<SlotOp, void> = createGroupCommit((items) => this.runOps(items), { maxItems: OPS_MAX });

  constructor(o: RedisSlotPoolOptions) {
    this.redis = o.redis;
    this.subscriber = o.subscriber;
    this.ownsSubscriber = o.subscriber === undefined;
    const { prefix, keys, channel } = slotPoolKeys(o.keyPrefix ?? 'rte:');
    this.prefix = prefix;
    this.keys = keys;
    this.channel = channel;
    this.limit = o.limit ?? 15;
    const reserved = o.reservedInteractive ?? defaultReservedInteractive(this.limit);
    const capTable =
      o.adaptive === false
        ? Array.from({ length: this.limit + 1 }, () => this.limit - reserved)
        : adaptiveBatchCapTable(this.limit, reserved, o.adaptive ?? DEFAULT_ADAPTIVE_BATCH_CONFIG);
    this.leaseTtlMs = o.leaseTtlMs ?? 30_000;
    this.renewIntervalMs = o.renewIntervalMs ?? Math.max(1, Math.floor(this.leaseTtlMs / 3));
    this.ticketTtlMs = o.ticketTtlMs ?? 5_000;
    this.pickupMs = o.grantPickupMs ?? this.ticketTtlMs;
    this.pollMinMs = o.pollMinMs ?? 100;
    this.pollMaxMs = Math.max(this.pollMinMs, o.pollMaxMs ?? 250);
    this.acquireTimeoutMs = o.acquireTimeoutMs ?? 120_000;
    this.clientWeights = o.clientWeights ?? {};
    this.defaultClientWeight = o.defaultClientWeight ?? 1;
    this.priorityWeights = o.priorityWeights ?? DEFAULT_PRIORITY_WEIGHTS;
    this.warmingWeight = o.warmingWeight ?? DEFAULT_PRIORITY_WEIGHTS.HIGH;
    this.metrics = o.metrics ?? {};
    this.log = o.logger ?? silentLogger();
    this.throttleRecoveryMs = o.throttleRecoveryMs ?? 5_000;
    this.quarantineMs = o.stateLossQuarantineMs ?? Math.round(this.renewIntervalMs * 1.5);
    this.renewRetryMs = o.renewRetryMs ?? 500;
    this.enqueueRetryMs = o.enqueueRetryMs ?? 500;
    if (this.ticketTtlMs <= this.pollMaxMs * 2) throw new RangeError('ticketTtlMs must exceed twice the poll interval');
    if (this.renewIntervalMs >= this.leaseTtlMs) throw new RangeError('renewIntervalMs must be below leaseTtlMs');
    this.commonArgs = [this.prefix, this.limit, reserved, capTable.join(','), this.pickupMs];
  }

  private route(request: SlotRequest): Route {
    const queue = slotQueueId(request);
    if (request.kind === 'interactive') return { queue, kind: 'interactive', quantum: quantumForWeight(1) };
    // Non-interactive in the scheduler ('b'): below interactive, within the reservation and the adaptive cap.
    if (request.kind === 'warming') return { queue, kind: 'warming', quantum: quantumForWeight(this.warmingWeight) };
    const priority = request.priority ?? 'NORMAL';
    const clientWeight = this.clientWeights[request.clientService] ?? this.defaultClientWeight;
    return { queue, kind: 'batch', quantum: quantumForWeight(clientWeight * this.priorityWeights[priority]) };
  }

  async withSlot<T>(request: SlotRequest, fn: (lease: SlotLease) => Promise<T>, options?: AcquireOptions): Promise<T> {
    const lease = await this.acquire(request, options);
    try {
      // Never start a call on a grant Redis has already taken back (picked up after the pickup window,
      // e.g. during an event-loop stall): the slot may be someone else's by now, and Stedi would see 16.
      if (lease instanceof RedisSlotLease && !(await lease.confirmed())) throw new SlotLeaseLostError(lease.id);
      return await fn(lease);
    } finally {
      await lease.release();
    }
  }

  acquire(request: SlotRequest, options: AcquireOptions = {}): Promise<SlotLease> {
    if (this.closed) return Promise.reject(new SlotPoolClosedError());
    const route = this.route(request);
    if (this.draining) return Promise.reject(new SlotPoolDrainingError(route.queue));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeoutMs = options.timeoutMs ?? this.acquireTimeoutMs;
    return new Promise<SlotLease>((resolve, reject) => {
      const startedAt = performance.now();
      const onAbort = (): void => this.giveUp(waiter, signal?.reason);
      const timer = setTimeout(() => {
        this.metrics.onAcquireTimeout?.(route.queue, route.kind, performance.now() - startedAt);
        this.giveUp(waiter, new SlotAcquireTimeoutError(route.queue, performance.now() - startedAt));
      }, timeoutMs);
      const waiter: Waiter = {
        ticket: '',
        route,
        startedAt,
        ahead: options.ahead === true,
        queued: false,
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.enqueue(waiter);
    });
  }

  /**
   * Reads (and if missing creates) the pool epoch, telling Redis which epoch this process saw, so a state loss
   * starts a quarantine (EPOCH_SCRIPT). Runs before this process's first enqueue and on every poll.
   */
  async checkEpoch(): Promise<void> {
    const res = (await SCRIPTS.epoch.run(this.redis, this.keys, [...this.commonArgs, this.epoch, this.quarantineMs])) as [number, number, string, number];
    this.gauge(res);
    if (this.epoch !== '' && res[2] !== this.epoch) {
      this.log.warn({ quarantineMs: res[3] }, 'slot pool: Redis lost the pool state (new epoch); holders re-register, no grants during the quarantine');
      this.metrics.onStateLoss?.();
    }
    this.epoch = res[2];
  }

  private async enqueue(w: Waiter): Promise<void> {
    try {
      await this.ensureSubscribed();
      if (w.settled) return;
      if (this.epoch === '') await this.checkEpoch();
      if (w.settled) return;
      // drain() began while this waiter was not in `pending` yet.
      if (this.draining) return this.giveUp(w, new SlotPoolDrainingError(w.route.queue));
      w.ticket = `${this.owner}${(this.ticketSeq++).toString(36)}`;
      w.queued = false;
      this.pending.set(w.ticket, w);
      // A grant in the reply settled the waiter already (runOps); otherwise it waits for a grant by pub/sub or poll.
      await this.ops.add({ op: 'e', ticket: w.ticket, route: w.route, ahead: w.ahead });
      w.queued = true;
      if (!w.settled) this.schedulePoll();
    } catch (err) {
      if (w.ticket !== '' && this.pending.delete(w.ticket)) {
        // The call may have run with its reply lost, leaving the ticket queued or granted as our own (full TTL):
        // withdraw it (best effort; a queued ticket also expires by itself, a lease at its TTL).
        this.sendCancel(w.ticket, w.route.queue);
      }
      if (w.settled || this.closed) return this.giveUp(w, err);
      // Redis unreachable: an infrastructure fault is transient. Try again until the waiter's own timeout; a
      // ticket the failed call may have created expires by itself (no heartbeat).
      this.log.warn({ err, queue: w.route.queue }, 'slot pool: enqueue failed, retrying');
      setTimeout(() => {
        if (!w.settled && !this.closed) void this.enqueue(w);
      }, this.enqueueRetryMs * (0.5 + Math.random()));
    }
  }

  private giveUp(w: Waiter, err: unknown): void {
    if (w.settled) return;
    w.settled = true;
    w.cleanup();
    if (this.pending.delete(w.ticket)) this.sendCancel(w.ticket, w.route.queue);
    // A grant racing with this cancel is undone by the cancel script (it removes the lease too).
    w.reject(err);
  }

  private sendCancel(ticket: string, queue: string): void {
    this.ops.add({ op: 'c', id: ticket }).catch((e: unknown) => this.log.warn({ err: e, queue }, 'slot pool: cancel failed; ticket expires by itself'));
  }

  /** One OPS_SCRIPT call for a group of operations; grants to this process's waiters in its reply settle them. */
  private async runOps(items: SlotOp[]): Promise<PromiseSettledResult<void>[]> {
    const args: (string | number)[] = [...this.commonArgs, this.owner, this.leaseTtlMs, this.ticketTtlMs];
    for (const o of items) {
      if (o.op === 'e') args.push('e', o.ticket, o.route.queue, o.route.kind === 'interactive' ? 'i' : 'b', o.route.quantum, o.ahead ? '1' : '0');
      else args.push(o.op, o.id);
    }
    const sentAt = performance.now();
    const res = (await SCRIPTS.ops.run(this.redis, this.keys, args)) as (number | string)[];
    this.gauge(res);
    for (let k = 2; k < res.length; k++) {
      const ticket = String(res[k]);
      // Granted to a ticket nobody here waits for any more (given up meanwhile): nobody holds it, so free it now
      // rather than at the end of its TTL (a cancel already queued frees it too; the second free changes nothing).
      if (!this.onGranted(ticket, sentAt)) void this.releaseLease(ticket).catch((e: unknown) => this.log.warn({ err: e }, 'slot pool: release failed; lease expires by itself'));
    }
    return items.map(() => ({ status: 'fulfilled', value: undefined }));
  }

  /**
   * `confirmedSentAt`: the grant came in the reply of this process's own OPS_SCRIPT call sent then, as a lease of the
   * full TTL that Redis has thereby confirmed (valid at least until sentAt + TTL). Otherwise (pub/sub, poll) it has
   * the pickup window and is confirmed by its first renewal.
   */
  private onGranted(ticket: string, confirmedSentAt?: number): boolean {
    const w = this.pending.get(ticket);
    // Not waiting here any more: given up (its cancel, queued after the enqueue, frees the slot) or already settled.
    if (!w || w.settled) return false;
    this.pending.delete(ticket);
    w.settled = true;
    w.cleanup();
    const lease = new RedisSlotLease(this, ticket, w.route, this.leaseTtlMs, this.pickupMs, confirmedSentAt);
    this.held.add(lease);
    // A confirmed grant renews on the interval. A published one is committed in Redis with a short pickup expiry;
    // extend it to the full lease TTL without making the caller wait a round trip (it would cost ~3 % utilisation at
    // 100 ms calls). If even the pickup window has passed, the lease's signal aborts.
    lease.startRenewing(this.renewIntervalMs, confirmedSentAt === undefined);
    this.metrics.onAcquire?.(w.route.queue, w.route.kind, performance.now() - w.startedAt);
    w.resolve(lease);
    return true;
  }

  private ensureSubscribed(): Promise<void> {
    if (!this.subscribed) {
      const sub = (this.subscriber ??= this.redis.duplicate());
      sub.on('message', (channel: string, message: string) => {
        if (channel !== this.channel) return;
        let granted: unknown;
        try {
          granted = JSON.parse(message);
        } catch {
          return;
        }
        if (!Array.isArray(granted)) return;
        for (const t of granted) if (typeof t === 'string') this.onGranted(t);
      });
      this.subscribed = sub.subscribe(this.channel).then(
        () => undefined,
        (err: unknown) => {
          // Pub/sub is only a latency optimisation; polling still delivers grants.
          this.log.warn({ err }, 'slot pool: subscribe failed, relying on polling');
        },
      );
    }
    return this.subscribed;
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.closed || this.pending.size === 0) return;
    const delay = this.pollMinMs + Math.random() * (this.pollMaxMs - this.pollMinMs);
    this.pollTimer = setTimeout(() => {
      void this.pollOnce().finally(() => {
        this.pollTimer = undefined;
        this.schedulePoll();
      });
    }, delay);
  }

  private async pollOnce(): Promise<void> {
    try {
      await this.checkEpoch();
    } catch (err) {
      this.log.warn({ err }, 'slot pool: epoch check failed');
      return;
    }
    const tickets = [...this.pending].filter(([, w]) => w.queued).map(([t]) => t);
    for (let i = 0; i < tickets.length; i += 500) {
      const chunk = tickets.slice(i, i + 500);
      let res: (number | string)[];
      try {
        res = (await SCRIPTS.poll.run(this.redis, this.keys, [...this.commonArgs, this.ticketTtlMs, ...chunk])) as (number | string)[];
      } catch (err) {
        this.log.warn({ err }, 'slot pool: poll failed');
        return;
      }
      this.gauge(res as number[]);
      chunk.forEach((t, j) => {
        const status = res[j + 2];
        if (status === 'g') this.onGranted(t);
        else if (status === 'x') {
          const w = this.pending.get(t);
          if (w) {
            this.pending.delete(t);
            this.log.warn({ queue: w.route.queue }, 'slot pool: waiting ticket expired, re-queueing');
            void this.enqueue(w);
          }
        }
      });
    }
  }

  async reportThrottled(lease: SlotLease): Promise<void> {
    try {
      const res = (await SCRIPTS.throttled.run(this.redis, this.keys, [...this.commonArgs, this.throttleRecoveryMs])) as number[];
      this.gauge(res);
      this.metrics.onThrottled?.(lease.queue, lease.kind, Number(res[2]));
      this.log.info({ queue: lease.queue, effectiveLimit: Number(res[2]) }, 'slot pool: Stedi 429, effective limit lowered');
    } catch (err) {
      this.log.warn({ err }, 'slot pool: could not record a Stedi 429');
    }
  }

  /** Renews a lease (RENEW_SCRIPT); returns 1 renewed, 2 re-registered, 0 lost. */
  renew(args: readonly (string | number)[]): Promise<unknown> {
    return SCRIPTS.renew.run(this.redis, this.keys.slice(0, 2), args);
  }

  /** Frees a lease's slot, in the next OPS_SCRIPT call (with the other operations of this process meanwhile). */
  releaseLease(id: string): Promise<void> {
    return this.ops.add({ op: 'r', id });
  }

  gauge(res: readonly unknown[]): void {
    const interactive = Number(res[0]);
    const batch = Number(res[1]);
    if (Number.isFinite(interactive) && Number.isFinite(batch)) this.metrics.slotsInUse?.({ interactive, batch, total: interactive + batch });
  }

  metrics_onLeaseReRegistered(lease: RedisSlotLease): void {
    this.metrics.onLeaseReRegistered?.(lease.queue, lease.kind);
  }

  onLeaseEnded(lease: RedisSlotLease, heldMs: number, lost: boolean): void {
    this.held.delete(lease);
    if (lost) {
      this.metrics.onLeaseLost?.(lease.queue, lease.kind);
      this.log.warn({ queue: lease.queue }, 'slot pool: lease lost while held');
    } else this.metrics.onRelease?.(lease.queue, lease.kind, heldMs);
  }

  get logger(): Logger {
    return this.log;
  }

  async stats(): Promise<SlotPoolStats> {
    const raw = (await SCRIPTS.stats.run(this.redis, this.keys, [this.prefix, this.limit])) as string;
    const parsed = JSON.parse(raw) as {
      interactiveInUse: number;
      batchInUse: number;
      waiting: Record<string, number> | unknown[];
      effectiveLimit: number;
      quarantineMs: number;
    };
    const waiting = Array.isArray(parsed.waiting) ? {} : parsed.waiting;
    return {
      limit: this.limit,
      interactiveInUse: parsed.interactiveInUse,
      batchInUse: parsed.batchInUse,
      waiting,
      effectiveLimit: parsed.effectiveLimit,
      quarantineMs: parsed.quarantineMs,
    };
  }

  drain(): void {
    if (this.draining || this.closed) return;
    this.draining = true;
    const waiting = [...this.pending.values()];
    // A grant racing with these cancels is undone by the cancel script, as for any waiter that gives up.
    for (const w of waiting) this.giveUp(w, new SlotPoolDrainingError(w.route.queue));
    this.log.info({ refused: waiting.length, held: this.held.size }, 'slot pool: draining; waiting and new acquires are refused, held slots run on');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    for (const w of [...this.pending.values()]) this.giveUp(w, new SlotPoolClosedError());
    await Promise.all([...this.held].map((l) => l.release()));
    if (this.subscriber && this.ownsSubscriber) {
      const sub = this.subscriber;
      await sub.quit().then(
        () => undefined,
        () => sub.disconnect(),
      );
    }
  }
}

class RedisSlotLease implements SlotLease {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Local view of when Redis drops the lease unless renewed (grant pickup window at first). */
  private validUntil: number;
  private readonly acquiredAt = performance.now();
  private ended = false;
  private releaseCalled = false;
  readonly queue: string;
  readonly kind: SlotKind;

  constructor(
    private readonly pool: RedisSlotPool,
    readonly id: string,
    route: Route,
    private readonly ttlMs: number,
    pickupMs: number,
    confirmedSentAt?: number,
  ) {
    this.validUntil = confirmedSentAt === undefined ? performance.now() + pickupMs : confirmedSentAt + ttlMs;
    // Redis confirmed the grant in the reply (full TTL): a call may run on it, so a lost lease is re-registered.
    this.callMayRun = confirmedSentAt !== undefined;
    this.queue = route.queue;
    this.kind = route.kind;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Once the grant is confirmed a call may be running on it: a lease Redis lost is re-registered, not given up. */
  private callMayRun = false;

  async renewOnce(): Promise<boolean> {
    const sentAt = performance.now();
    const mode = this.callMayRun ? (this.kind === 'interactive' ? 'i' : 'b') : '';
    const res = Number(await this.pool.renew([this.id, this.ttlMs, mode]));
    if (res === 2) {
      // Redis lost or expired the lease while the call runs: Stedi still counts it, so count it again (the pool
      // may now be over its limit and grants nothing until it drains), and check the epoch (state loss).
      this.pool.logger.warn({ queue: this.queue }, 'slot pool: lease was missing in Redis; re-registered');
      this.pool.metrics_onLeaseReRegistered(this);
      void this.pool.checkEpoch().catch(() => undefined);
    }
    const ok = res === 1 || res === 2;
    if (ok) this.validUntil = sentAt + this.ttlMs;
    if (ok) this.callMayRun = true;
    return ok;
  }

  private firstRenewal: Promise<boolean> | undefined;
  private retrying = false;

  /** Resolves true once Redis confirmed the grant (the first renewal), false if it was already lost. */
  confirmed(): Promise<boolean> {
    return this.firstRenewal ?? Promise.resolve(!this.ended);
  }

  startRenewing(intervalMs: number, immediately = false): void {
    const tick = (): Promise<boolean> =>
      this.renewOnce().then(
        (ok) => {
          if (!ok) this.lose();
          return ok;
        },
        (err: unknown) => {
          this.pool.logger.warn({ err, queue: this.queue }, 'slot pool: lease renewal failed');
          if (performance.now() >= this.validUntil) this.lose();
          // Retry soon rather than a whole interval later, so the lease is back in Redis right after an outage.
          else if (!this.ended && !this.retrying) {
            this.retrying = true;
            setTimeout(() => {
              this.retrying = false;
              if (!this.ended) void tick();
            }, this.pool.renewRetryMs);
          }
          return !this.ended;
        },
      );
    this.timer = setInterval(() => void tick(), intervalMs);
    if (immediately) this.firstRenewal = tick();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private lose(): void {
    if (this.ended) return;
    this.ended = true;
    this.stop();
    this.pool.onLeaseEnded(this, performance.now() - this.acquiredAt, true);
    this.controller.abort(new SlotLeaseLostError(this.id));
  }

  async release(report = true): Promise<void> {
    if (this.releaseCalled) return;
    this.releaseCalled = true;
    const wasEnded = this.ended;
    this.ended = true;
    this.stop();
    try {
      await this.pool.releaseLease(this.id);
    } catch (err) {
      this.pool.logger.warn({ err, queue: this.queue }, 'slot pool: release failed; lease expires by itself');
    }
    if (!wasEnded && report) this.pool.onLeaseEnded(this, performance.now() - this.acquiredAt, false);
  }
}
