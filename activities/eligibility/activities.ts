import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ErrorType, MEMBER_NOT_FOUND_MESSAGE } from '../../lib/errors';
import { isInfrastructureError, withInfraRetry } from '../../lib/infra-retry';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecordSource } from '../../lib/member-record';
import type { CachePutResult, EligibilityCache, EligibilityCacheEntry } from '../cache';
import type { EligibilityRefreshInput, EligibilityRefreshResult, RefreshActivityInput, RefreshSource } from '../../workflows/eligibility-refresh.defs';
import { REVALIDATE_CLIENT_SERVICE } from '../../lib/operations';
import type { BatchOutcomeStore, MemberListStore } from '../batch/ports';
import { memberFailureText, PAYER_ERROR, payerErrorDetail } from '../../lib/batch/member-failure';
import { payerErrorReason } from '../../lib/warming/reasons';
import type { StediGateway } from '../stedi/gateway';
import { checkEligibilityToVerdict, type EligibilityVerdict } from '../stedi/eligibility';
import { buildEligibilityRequest, InvalidMemberRecordError, type StediProviderConfig } from '../stedi/request-builder';
import { SlotPoolDrainingError, type AcquireOptions, type SlotLease, type SlotPool, type SlotRequest } from '../slot-pool';
import type { WarmRecordStore } from '../warming/ports';
import type { BatchDurableProgressReader } from '../batch/ports';
import type { HedgeBudgetStore } from './hedge-budget';
import { decideHedge, firstGood, hedgeThresholdMs, LatencyWindow, type HedgeConfig, type HedgeDecision } from './hedge-policy';

export interface StediCallMetrics {
  /** One real-time Stedi call; `source` says who it was for (interactive refresh, warming, a batch). */
  onStediCall(api: 'realtime', outcome: string, seconds: number, source: RefreshSource): void;
}

/** Hedged Stedi calls (hedge-policy.ts): started (a duplicate took a slot), won (it answered first), lost. */
export interface HedgeMetrics {
  onHedge(event: 'started' | 'won' | 'lost'): void;
}

/** Hedging of a finite batch's last-wave stragglers (issue 14; hedge-policy.ts). */
export interface HedgeDeps {
  config: HedgeConfig;
  budget: HedgeBudgetStore;
  /** The batch's size and finished members (PostgreSQL), read only when the pool is idle enough to hedge. */
  batches: Pick<BatchDurableProgressReader, 'read'>;
  metrics?: HedgeMetrics;
}

export interface EligibilityActivityDeps {
  members: MemberRecordSource;
  stedi: StediGateway;
  slots: SlotPool;
  cache: Pick<EligibilityCache, 'get' | 'put' | 'putMany' | 'isRefreshPromoted'>;
  provider: StediProviderConfig;
  memberHashSecret: string;
  logger: Logger;
  metrics?: StediCallMetrics;
  /** Where batch members' outcomes go (WatchBatchStatus MEMBER_COMPLETED); absent: not recorded. */
  batchOutcomes?: Pick<BatchOutcomeStore, 'record'>;
  /** Batch member lists: a batch member's refresh names its list and index instead of the id (patch batch-member-refs-v1). */
  lists?: Pick<MemberListStore, 'read'>;
  /** Where warming jobs' real-time warms are recorded (cache_warms); absent: not recorded. */
  warms?: Pick<WarmRecordStore, 'complete'>;
  now?: () => number;
  /** Waits (Retry-After, infrastructure backoff); injected by tests. Must reject when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Hedging of last-wave stragglers of batches; absent or `config.enabled` false: never hedges. */
  hedge?: HedgeDeps;
}

/** How long a hedge waits for its slot before giving up (the pool was idle a moment ago). */
const HEDGE_ACQUIRE_TIMEOUT_MS = 2_000;

/** Time an attempt keeps for its last Stedi call (Stedi's own ~90 s limit) and the cache write after it. */
const FINAL_CALL_RESERVE_MS = 100_000;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function isThrottled(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === ErrorType.StediThrottled;
}

/**
 * What leaves the activity: ApplicationFailures as they are; an infrastructure fault that outlived the in-activity
 * retries as a retryable InfrastructureUnavailable; anything else as PlatformInternalError (retryable). A library's
 * class name (ioredis' MaxRetriesPerRequestError, ...) never becomes an error type callers see.
 */
function platformFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'CancelledFailure')) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof SlotPoolDrainingError) return ApplicationFailure.create({ type: ErrorType.WorkerShuttingDown, message, nonRetryable: false });
  if (isInfrastructureError(err)) {
    return ApplicationFailure.create({ type: ErrorType.InfrastructureUnavailable, message: `infrastructure unavailable: ${message}`.slice(0, 500), nonRetryable: false });
  }
  return ApplicationFailure.create({ type: ErrorType.Internal, message: `internal error: ${message}`.slice(0, 500), nonRetryable: false });
}

/** How often a waiting revalidation reads its "a person joined" mark (one Redis EXISTS). */
const PROMOTION_POLL_MS = 250;

function isRevalidation(input: EligibilityRefreshInput): boolean {
  return input.requester.kind === 'batch' && input.requester.clientService === REVALIDATE_CLIENT_SERVICE && input.batchMember === undefined;
}

function slotRequestFor(input: EligibilityRefreshInput): SlotRequest {
  const r = input.requester;
  if (r.kind === 'interactive') return { kind: 'interactive' };
  if (r.kind === 'warming') return { kind: 'warming', priority: r.priority };
  return { kind: 'batch', clientService: r.clientService, priority: r.priority };
}

/**
 * A signal that aborts when `a` or `b` does, until `dispose()`. Not `AbortSignal.any`: in a chunk every member's
 * Stedi call has the chunk's one cancellation signal as a source, and each `any` hangs a weakly held dependant on it
 * (a WeakRef and a finalization-registry entry per call, left for GC to clear); two listeners that the call removes
 * when it ends cost less (≈ 10 µs a call in a micro-benchmark, issue 14).
 */
function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (a.aborted) return { signal: a, dispose: () => undefined };
  if (b.aborted) return { signal: b, dispose: () => undefined };
  const c = new AbortController();
  const onA = (): void => c.abort(a.reason);
  const onB = (): void => c.abort(b.reason);
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return {
    signal: c.signal,
    dispose: () => {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}

/** Stedi calls an attempt made beyond its one: hedges that reached Stedi. */
interface CallTally {
  extra: number;
  /** When the Stedi call whose answer is used started (the slot was granted): a warm's started_at. */
  startedAt?: number;
}

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function resultOf(entry: EligibilityCacheEntry): EligibilityRefreshResult {
  const payerError = entry.outcome === 'error' ? payerErrorDetail(entry.summary.errors ?? []) : undefined;
  return {
    outcome: entry.outcome,
    fetchedAt: entry.fetchedAt,
    expiresAt: entry.expiresAt,
    ...(entry.stediCheckId ? { stediCheckId: entry.stediCheckId } : {}),
    ...(payerError ? { payerError } : {}),
  };
}

/**
 * One latency window per hedging setup (a worker's `HedgeDeps`), shared by every activity set built on it: the worker's
 * own refreshEligibility and each real-time chunk's (a chunk builds its own set over `chunkPorts`, which keeps the
 * same `hedge`). A window per set would start empty in every chunk, and a chunk rarely sees `minSamples` answers of
 * its own before its last member is the straggler (a 40-member batch runs as two chunks of 20), so chunked members
 * were never hedged.
 */
const latencyWindows = new WeakMap<HedgeDeps, LatencyWindow>();

function latencyWindowOf(hedge: HedgeDeps | undefined): LatencyWindow {
  if (!hedge) return new LatencyWindow(1);
  let w = latencyWindows.get(hedge);
  if (!w) {
    w = new LatencyWindow(hedge.config.window);
    latencyWindows.set(hedge, w);
  }
  return w;
}

/** Hedge losers still at Stedi, per hedging setup: each holds its slot until Stedi answers it (or the gateway times out). */
const hedgeLosers = new WeakMap<HedgeDeps, Set<Promise<void>>>();

function trackHedgeLoser(hedge: HedgeDeps, loser: Promise<unknown>): void {
  let running = hedgeLosers.get(hedge);
  if (!running) {
    running = new Set();
    hedgeLosers.set(hedge, running);
  }
  const done = loser.then(
    () => undefined,
    () => undefined,
  );
  running.add(done);
  void done.then(() => running.delete(done));
}

/**
 * Waits up to `timeoutMs` for the hedge losers of `hedge` still at Stedi to be answered and their slots released;
 * resolves with how many still run then. A worker shutting down awaits this before closing its slot pool, which
 * releases every slot still held: a loser's slot released early would let one more call than the limit reach Stedi.
 */
export async function hedgeLosersSettled(hedge: HedgeDeps | undefined, timeoutMs: number): Promise<number> {
  const running = hedge ? hedgeLosers.get(hedge) : undefined;
  if (!running || running.size === 0) return 0;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all([...running]), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))))]);
  clearTimeout(timer);
  // A settled loser leaves the set one tick after it settles.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return running.size;
}

export function createEligibilityActivities(deps: EligibilityActivityDeps) {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;
  /** Recent Stedi latencies of this process (every activity set on the same hedge deps): the hedging threshold. */
  const latencies = latencyWindowOf(deps.hedge);

  /** This attempt's time budget: infrastructure retries and 429 waits stop where the last call must start. */
  function attemptDeadline(): number {
    const info = Context.current().info;
    return info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs - FINAL_CALL_RESERVE_MS;
  }

  function infra<T>(what: string, log: Logger, fn: () => Promise<T>): Promise<T> {
    const ctx = Context.current();
    return withInfraRetry(fn, {
      deadlineMs: attemptDeadline(),
      signal: ctx.cancellationSignal,
      sleep: (ms, signal) => sleep(ms, signal ?? ctx.cancellationSignal),
      onRetry: (err, attempt, delayMs) => {
        ctx.heartbeat();
        log.warn({ err: err instanceof Error ? err.message : String(err), attempt, delayMs: Math.round(delayMs) }, `${what}: infrastructure unavailable, retrying`);
      },
    });
  }

  /**
   * One Stedi call under a slot. A 429 never reached the payer, so it spends no attempt: the slot pool learns
   * the account is shared (lower effective limit), the slot is released, and after Retry-After the member
   * queues for a slot again, for as long as this attempt's budget allows.
   */
  async function callStediUntilAdmitted(input: EligibilityRefreshInput, memberHash: string, log: Logger, calls: CallTally): Promise<EligibilityVerdict> {
    const ctx = Context.current();
    for (let throttled = 0; ; throttled++) {
      try {
        return await infra('slot pool', log, () => callStedi(input, memberHash, log, calls));
      } catch (err) {
        if (!isThrottled(err)) throw err;
        const wait = (err.nextRetryDelay !== undefined && err.nextRetryDelay !== null ? Number(err.nextRetryDelay) : 1_000) * (1 + Math.random() / 2);
        if (now() + wait > attemptDeadline()) throw err;
        ctx.heartbeat();
        log.info({ throttled: throttled + 1, waitMs: Math.round(wait) }, 'Stedi 429: slot returned, queueing again after Retry-After');
        await sleep(wait, ctx.cancellationSignal);
      }
    }
  }

  /** One Stedi call under `lease`; feeds the latency window and the metrics. */
  async function stediCall(lease: SlotLease, request: ReturnType<typeof buildEligibilityRequest>, input: EligibilityRefreshInput, signal: AbortSignal, onStart?: (atMs: number) => void): Promise<EligibilityVerdict> {
    const started = now();
    onStart?.(started);
    const link = linkSignals(lease.signal, signal);
    try {
      const verdict = await checkEligibilityToVerdict(deps.stedi, request, { signal: link.signal });
      latencies.push(now() - started);
      deps.metrics?.onStediCall('realtime', verdict.classification.kind, (now() - started) / 1000, input.source);
      return verdict;
    } catch (err) {
      const kind = err instanceof ApplicationFailure && err.type ? err.type : 'exception';
      // A payer 5xx took its full latency; a 429 or an abort says nothing about Stedi's latency.
      if (err instanceof ApplicationFailure && !isThrottled(err) && !lease.signal.aborted && !signal.aborted) latencies.push(now() - started);
      deps.metrics?.onStediCall('realtime', kind, (now() - started) / 1000, input.source);
      if (isThrottled(err)) await deps.slots.reportThrottled?.(lease);
      throw err;
    } finally {
      link.dispose();
    }
  }

  async function callStedi(input: EligibilityRefreshInput, memberHash: string, log: Logger, calls: CallTally): Promise<EligibilityVerdict> {
    const found = await infra('member directory', log, () => deps.members.getMemberRecords([input.memberId]));
    const member = found.get(input.memberId);
    if (!member) {
      // No per-member text in the message: it becomes the member's error in its batch (which names the member) and a
      // warm's failure reason, which GetWarmingJob groups by text (as the batch-API path's). The log line has the hash.
      log.info('member is not in the directory');
      throw ApplicationFailure.create({ type: ErrorType.MemberNotFound, message: MEMBER_NOT_FOUND_MESSAGE, nonRetryable: true });
    }
    const ctx = Context.current();
    let request: ReturnType<typeof buildEligibilityRequest>;
    try {
      request = buildEligibilityRequest({
        member: input.payerId ? { ...member, payerId: input.payerId } : member,
        provider: input.providerNpi ? { ...deps.provider, npi: input.providerNpi } : deps.provider,
        serviceTypeCodes: input.serviceTypeCodes,
        // Same seed on every retry of this refresh, so Stedi sees the same control number.
        controlNumberSeed: `${ctx.info.workflowExecution?.workflowId ?? memberHash}:${input.operation}`,
      });
    } catch (err) {
      // A record no retry can fix: not retried, and the same code as the Stedi batch-API path (it used to be retried,
      // then reported as PlatformInternalError).
      if (!(err instanceof InvalidMemberRecordError)) throw err;
      log.info({ problem: err.message }, 'member record cannot form a Stedi request');
      throw ApplicationFailure.create({ type: ErrorType.InvalidMemberRecord, message: err.message, nonRetryable: true });
    }
    const slotRequest = slotRequestFor(input);
    // A retry (the member's earlier attempt already had its turn at the pool, and usually reached Stedi) waits
    // ahead of its queue's first-time callers: a finite batch's retries take the next free slot instead of
    // queueing behind its look-ahead and ending last (issue 14, finite-batch tail).
    const acquire = { signal: ctx.cancellationSignal, ...(ctx.info.attempt > 1 ? { ahead: true } : {}) };
    const hedge = deps.hedge;
    const batchId = input.batchMember?.batchId;
    if (!hedge?.config.enabled || batchId === undefined) {
      const call = (lease: SlotLease): Promise<EligibilityVerdict> => stediCall(lease, request, input, ctx.cancellationSignal, (t) => (calls.startedAt = t));
      if (isRevalidation(input) && deps.cache.isRefreshPromoted) return withPromotableSlot(input, slotRequest, call, acquire, log);
      return deps.slots.withSlot(slotRequest, call, acquire);
    }

    // Hedged: each call gets its own abort, tied to the activity's cancellation only until this function returns.
    // The loser then runs to its answer (or the gateway's timeout) and keeps its slot until then: Stedi keeps
    // working on an abandoned call, so releasing its slot early would let more than the limit run at Stedi.
    const detach: Array<() => void> = [];
    const callSignal = (): AbortSignal => {
      const c = new AbortController();
      const cancel = ctx.cancellationSignal;
      const onAbort = (): void => c.abort(cancel.reason);
      if (cancel.aborted) onAbort();
      else {
        cancel.addEventListener('abort', onAbort, { once: true });
        detach.push(() => cancel.removeEventListener('abort', onAbort));
      }
      return c.signal;
    };
    let primaryStartedAt: number | undefined;
    const primary = deps.slots.withSlot(slotRequest, (lease) => stediCall(lease, request, input, callSignal(), (t) => (primaryStartedAt = calls.startedAt = t)), acquire);
    let settled = false;
    const primaryDone = primary.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    try {
      while (!settled) {
        await Promise.race([primaryDone, waitMs(hedge.config.checkEveryMs)]);
        if (settled || primaryStartedAt === undefined) continue;
        const elapsedMs = now() - primaryStartedAt;
        const thresholdMs = hedgeThresholdMs(latencies, hedge.config);
        if (thresholdMs === undefined || elapsedMs < thresholdMs) continue;
        let decision: HedgeDecision;
        let taken = false;
        try {
          decision = await decideHedgeNow(hedge, batchId, elapsedMs, thresholdMs);
          if (!settled && decision.hedge) taken = await hedge.budget.take(batchId, decision.budget);
        } catch (err) {
          // Never fails the member: without the facts (Redis, PostgreSQL) there is simply no hedge now.
          log.debug({ err: err instanceof Error ? err.message : String(err) }, 'hedge check failed; not hedging now');
          continue;
        }
        if (!decision.hedge) continue;
        // Answered meanwhile, or the batch's hedges are used up: the original's answer, without asking again.
        if (!taken) return await primary;
        if (settled) {
          await hedge.budget.giveBack(batchId);
          continue;
        }
        let hedgeStarted = false;
        let decided = false;
        const second = deps.slots.withSlot(
          slotRequest,
          (lease) =>
            // The original answered while the duplicate waited for its slot: no call (and its slot goes back).
            decided ? Promise.reject(new Error('hedge not needed')) : stediCall(lease, request, input, callSignal(), () => {
              hedgeStarted = true;
              calls.extra += 1;
              hedge.metrics?.onHedge('started');
              log.info({ elapsedMs: Math.round(elapsedMs), thresholdMs: Math.round(thresholdMs) }, 'Stedi call running long: hedged with a duplicate call on an idle slot');
            }),
          { signal: ctx.cancellationSignal, timeoutMs: HEDGE_ACQUIRE_TIMEOUT_MS, ahead: true },
        );
        second.catch(() => (hedgeStarted ? undefined : hedge.budget.giveBack(batchId)));
        const race = await firstGood(primary, second).finally(() => (decided = true));
        // The other call runs on (holding its slot) until Stedi answers it; a worker shutting down waits for it.
        trackHedgeLoser(hedge, race.winner === 'hedge' ? primary : second);
        if (hedgeStarted) hedge.metrics?.onHedge(race.winner === 'hedge' ? 'won' : 'lost');
        if (race.winner === 'hedge') log.info('hedge answered first; the original call keeps its slot until Stedi answers it');
        return race.value;
      }
      return await primary;
    } finally {
      for (const d of detach) d();
    }
  }

  /**
   * A background revalidation waits for a batch-class slot; a person's live check that joins it (same workflow id)
   * marks it promoted (EligibilityCache.promoteRefresh). While it waits, the mark is read every
   * PROMOTION_POLL_MS; once set, the batch request is withdrawn and the slot is asked for in the interactive class
   * (reservation and precedence), as the person's own check would have. Once a slot is granted nothing changes.
   */
  async function withPromotableSlot<T>(input: EligibilityRefreshInput, slotRequest: SlotRequest, fn: (lease: SlotLease) => Promise<T>, acquire: AcquireOptions & { signal: AbortSignal }, log: Logger): Promise<T> {
    const promoted = async (): Promise<boolean> => {
      try {
        return (await deps.cache.isRefreshPromoted?.(input.memberId, input.operation)) === true;
      } catch (err) {
        // Never fails the refresh: without the mark it keeps the batch class.
        log.debug({ err: err instanceof Error ? err.message : String(err) }, 'promotion mark unreadable; keeping the batch class');
        return false;
      }
    };
    const interactive: SlotRequest = { kind: 'interactive' };
    if (await promoted()) return deps.slots.withSlot(interactive, fn, acquire);
    const withdraw = new AbortController();
    const link = linkSignals(acquire.signal, withdraw.signal);
    let granted = false;
    let moved = false;
    let polling = true;
    const poll = (async () => {
      while (polling && !granted) {
        await waitMs(PROMOTION_POLL_MS);
        if (polling && !granted && (await promoted())) {
          moved = true;
          withdraw.abort(new Error('promoted to interactive'));
          return;
        }
      }
    })();
    try {
      return await deps.slots.withSlot(
        slotRequest,
        (lease) => {
          granted = true;
          return fn(lease);
        },
        { ...acquire, signal: link.signal },
      );
    } catch (err) {
      if (!moved || granted || acquire.signal.aborted) throw err;
      log.info('a live check joined this revalidation: asking for an interactive slot');
      return deps.slots.withSlot(interactive, fn, acquire);
    } finally {
      polling = false;
      link.dispose();
      await poll;
    }
  }

  async function decideHedgeNow(hedge: HedgeDeps, batchId: string, elapsedMs: number, thresholdMs: number): Promise<HedgeDecision> {
    const stats = await deps.slots.stats();
    const pool = {
      limit: stats.effectiveLimit ?? stats.limit,
      interactiveInUse: stats.interactiveInUse,
      batchInUse: stats.batchInUse,
      waiting: Object.values(stats.waiting).reduce((a, b) => a + b, 0),
    };
    const first = decideHedge({ elapsedMs, thresholdMs, pool, batch: undefined }, hedge.config);
    if (first.hedge || first.reason !== 'batch-unknown') return first;
    const progress = await hedge.batches.read(batchId);
    const batch = progress?.listed !== undefined ? { members: progress.listed, finished: progress.completed + progress.failed } : undefined;
    return decideHedge({ elapsedMs, thresholdMs, pool, batch }, hedge.config);
  }

  /** The input with its member id: given (interactive, older batches) or read from the batch's list by index. */
  async function resolveMember(given: RefreshActivityInput): Promise<EligibilityRefreshInput> {
    if (typeof given.memberId === 'string' && given.memberId !== '') return { ...given, memberId: given.memberId };
    const ref = given.batchMember;
    if (!ref?.listRef || !deps.lists) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidArgument, message: 'refresh input has neither memberId nor batchMember.listRef', nonRetryable: true });
    }
    const lists = deps.lists;
    const listRef = ref.listRef;
    const [memberId] = await infra('member list', deps.logger, () => lists.read(listRef, ref.index, 1));
    if (!memberId) {
      throw ApplicationFailure.create({ type: ErrorType.BatchMemberListIncomplete, message: `member list has no id at ${ref.index}`, nonRetryable: true });
    }
    return { ...given, memberId, batchMember: { batchId: ref.batchId, index: ref.index } };
  }

  return {
    /**
     * Waits for a fair share of the global real-time slots, makes one Stedi check, writes the normalized
     * result to the cache. Payer verdicts (active, inactive, "do not resubmit" AAA errors, and payer
     * connectivity "retry later" AAA 42/79/80 answers, with the error TTL) are cached; transient failures
     * (429, HTTP 5xx, network) are thrown for Temporal to retry with backoff.
     */
    async refreshEligibility(given: RefreshActivityInput): Promise<EligibilityRefreshResult> {
      const input = await resolveMember(given);
      const memberHash = hashMemberId(deps.memberHashSecret, input.memberId);
      const log = deps.logger.child({ memberHash, operation: input.operation, requester: input.requester.kind });
      const ctx = Context.current();
      const startedAt = now();
      // Heartbeat while we queue for a slot and while Stedi answers (up to 90 s), so a dead worker is noticed.
      const beat = setInterval(() => ctx.heartbeat(), 5_000);
      const recordBatchOutcome = async (entry: EligibilityCacheEntry): Promise<void> => {
        if (!input.batchMember || !deps.batchOutcomes) return;
        const outcomes = deps.batchOutcomes;
        const batchMember = input.batchMember;
        await infra('batch outcome store', log, () =>
          outcomes.record(batchMember.batchId, [
            {
              memberIndex: batchMember.index,
              memberId: input.memberId,
              success: entry.outcome === 'success',
              durationMs: now() - startedAt,
              ...(entry.outcome === 'error' ? { errorMessage: memberFailureText(PAYER_ERROR.code, PAYER_ERROR.message) } : {}),
            },
          ]),
        );
      };
      // startedAtMs: when the Stedi call that wrote the entry started (after the slot queue); unknown for an answer an
      // earlier attempt stored, whose warm then keeps its decision time as started_at.
      const recordWarm = async (put: CachePutResult, startedAtMs?: number): Promise<void> => {
        if (input.requester.kind !== 'warming' || !deps.warms) return;
        const warms = deps.warms;
        const jobId = input.requester.jobId;
        // The exact fetchedAt of the entry this warm wrote; a kept newer entry / kept fresh success says why not.
        await infra('warm record store', log, () =>
          warms.complete(jobId, [
            put.written
              ? {
                  memberId: input.memberId,
                  operation: input.operation,
                  fetchedAt: put.entry.fetchedAt,
                  outcome: put.entry.outcome === 'success' ? 'warmed' : 'failed',
                  // The AAA code and its description: a retryable connectivity answer (42, 80) and a permanent one
                  // (75, member not found at the payer) must read differently in GetWarmingJob's failure reasons.
                  ...(put.entry.outcome === 'error' ? { reason: payerErrorReason(put.entry.summary.errors) } : {}),
                  ...(startedAtMs !== undefined ? { startedAtMs } : {}),
                }
              : put.reason === 'newer-entry'
                ? { memberId: input.memberId, operation: input.operation, fetchedAt: null, outcome: 'skipped_fresh', reason: 'a newer entry was written meanwhile' }
                : { memberId: input.memberId, operation: input.operation, fetchedAt: null, outcome: 'failed', reason: memberFailureText(PAYER_ERROR.code, 'payer error not cached over a fresh success') },
          ]),
        );
      };
      try {
        if (input.satisfiedByFetchAfter !== undefined) {
          const current = await infra('cache', log, () => deps.cache.get(input.memberId, input.operation));
          if (current && current.fetchedAt >= input.satisfiedByFetchAfter) {
            log.debug('answered by a refresh that finished after the request; no Stedi call');
            return { ...resultOf(current), stediCalls: 0 };
          }
        }
        // A retried attempt (worker crash, Temporal outage, a failed write after the call) reuses the answer an
        // earlier attempt of this same activity already stored, instead of calling Stedi again.
        if (ctx.info.attempt > 1) {
          const stored = await infra('cache', log, () => deps.cache.get(input.memberId, input.operation));
          if (stored && stored.fetchedAt >= ctx.info.scheduledTimestampMs) {
            log.info({ attempt: ctx.info.attempt, stediCheckId: stored.stediCheckId }, 'earlier attempt already stored the answer; no Stedi call');
            await recordBatchOutcome(stored);
            await recordWarm({ written: true, entry: stored });
            // The call did reach Stedi, in the earlier attempt of this same activity that could not report it.
            return { ...resultOf(stored), stediCalls: 1 };
          }
        }
        let verdict: EligibilityVerdict;
        const calls: CallTally = { extra: 0 };
        try {
          verdict = await callStediUntilAdmitted(input, memberHash, log, calls);
        } catch (err) {
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'eligibility refresh attempt failed');
          throw platformFailure(err);
        }
        const { summary, classification: c } = verdict;
        const result: 'success' | 'error' = verdict.coverageAnswer ? 'success' : 'error';
        const fetchedAt = now();
        const put = await infra('cache', log, () => deps.cache.put({
          memberId: input.memberId,
          operation: input.operation,
          summary,
          outcome: result,
          source: input.source,
          ...(summary.stediCheckId ? { stediCheckId: summary.stediCheckId } : {}),
          fetchedAt,
          // "Retry later" is kept beside an expired good answer instead of replacing it (finding 13.1).
          ...(result === 'error' && verdict.retryLater ? { retryLater: true } : {}),
        }));
        // A kept entry (newer answer, or a fresh success that an error must not replace) is what callers see.
        // A payer connectivity answer (AAA 42/79/80) is cached like any payer error (error TTL, 5 min by default) and
        // not retried here: the next request inside the TTL is answered from the cache instead of 5 more Stedi calls.
        log.info({ outcome: result, status: summary.status, aaaCodes: c.aaaCodes, retryLater: verdict.retryLater, written: put.written }, 'eligibility refreshed');
        await recordBatchOutcome(put.entry);
        await recordWarm(put, calls.startedAt);
        return { ...resultOf(put.entry), stediCalls: 1 + calls.extra };
      } catch (err) {
        throw platformFailure(err);
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type EligibilityActivities = ReturnType<typeof createEligibilityActivities>;
