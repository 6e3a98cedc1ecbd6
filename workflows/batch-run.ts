import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  startChild,
  allHandlersFinished,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities, RefreshItem } from '../activities/batch/activities';
import type { EligibilityActivities } from '../activities/eligibility/activities';
import type { ChunkMemberOutcome, RealtimeChunkActivities } from '../activities/eligibility/realtime-chunk';
import { chunkMembersSlow, medianMemberMs } from './chunk-latency';
import { Bitmap } from '../lib/batch/bitmap';
import { batchEventId, batchEventIdV2, eventPassesFilter, webhookBody, type BatchEventPayload, type BatchEventsSoFar } from '../lib/batch/events';
import { nextPollDelayMs } from '../lib/batch/polling';
import { averageDurationMs, estimateCompletionMs, pendingOf, percentDone, progressMilestone, terminalStatus, type EndReason } from '../lib/batch/progress';
import {
  checkAnswered,
  checkCancelled,
  checkFailed,
  chunkPolled,
  chunkSubmitted,
  errorRecorded,
  membersResolved,
  pagePlanned,
  restAbandoned,
  type BatchTally,
  type PlannedPage,
} from '../lib/batch/reducers';
import { decideStrategy } from '../lib/batch/strategy';
import { emptyCounters, isTerminalStatus, type BatchCounters, type BatchErrorRecord, type BatchEventName, type BatchStatusName } from '../lib/batch/types';
import { anyWindowLoadBand, MULTI_WINDOW_THRESHOLD } from '../lib/batch/windows';
import { batchDetails } from '../lib/batch/details';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES, STEDI_ANSWERED_FAILURE_TYPES, platformErrorCode } from '../lib/errors';
import { payerErrorMessage } from '../lib/batch/member-failure';
import { webhookDeliveryWorkflow } from './batch-webhook-delivery';
import {
  BATCH_JOB_TYPE,
  DEFAULT_BATCH_OPERATION,
  DEFAULT_BATCH_TUNING,
  PAYER_ERROR,
  webhookDeliveryWorkflowId,
  type BatchCarryState,
  type BatchDispatchGate,
  type BatchFailureInfo,
  type BatchStatusView,
  type BatchTuning,
  type BatchWorkflowInput,
  type BatchWorkflowResult,
} from './batch.defs';
import { warmingChildStatusSignal, type WarmingChildStatus } from './warming.defs';
import { RteBatchProgress, RteBatchStartedAt, RteBatchStatus, RteClientJobId, RteClientService, RteJobType, RtePriority, RteStrategy } from './search-attributes';

const MAX_MEMBERS = 100_000;
/** Stedi's real-time slots (the global pool's limit and the largest max_concurrent_requests a batch may ask for). */
const POOL_SLOTS = 15;
/** An idle wait for the next member longer than this shows the batch as WAITING (for its window). */
const IDLE_WAIT_IS_WAITING_MS = 60_000;
/** Checks a full-width batch keeps waiting at the slot pool beyond its in-flight cap. */
const REALTIME_LOOKAHEAD = 5;
/** A chunk of real-time members not yet back when the batch stops gets this long to return what it did. */
const CHUNK_STOP_GRACE_MS = 10_000;
/** Lanes (= members) of the chunks a run starts before its first chunk is back (their members' latency unknown). */
const PROBE_CHUNK_LANES = 3;
/** The longest SubmitBatch's answer (the batchAccepted update) waits for the member count and the first page's plan. */
const ACCEPTED_WAIT_MS = 15_000;

const batchRetry = { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] };
// Store and planning activities do not heartbeat, so they carry no heartbeat timeout (it would only be a hidden
// limit on planning a large batch); start-to-close bounds them.
const batchActs = proxyActivities<BatchActivities>({ startToCloseTimeout: '10 minutes', retry: batchRetry });
// The Stedi batch-API activities heartbeat (every 10 s while submitting, per results page while polling).
const stediBatchActs = proxyActivities<BatchActivities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '2 minutes', retry: batchRetry });
// Kafka can be down for a while: retry for ~15 min, then carry on (the batch must not stall on notifications).
const eventActs = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

function initialState(input: BatchWorkflowInput): BatchCarryState {
  const list = input.selector.kind === 'list' ? input.selector : undefined;
  return {
    phase: list ? 'WAITING_FOR_WINDOW' : 'RESOLVING',
    status: 'PENDING',
    counters: emptyCounters(list?.total ?? 0),
    ...(list ? { listRef: list.listRef } : { listRef: `${input.batchId}#query` }),
    nextIndex: 0,
    chunks: [],
    chunkSeq: 0,
    lastMilestone: 0,
    eventSeq: 0,
    paused: false,
    recentErrors: [],
    totalErrors: 0,
    runs: 0,
  };
}

/**
 * Load the ANY window sees. A HIGH-priority batch starts now whatever the load: the global slot pool's WDRR
 * already shares capacity fairly between batches and protects interactive traffic, and deferring urgent
 * work to the 2 AM window because another batch is busy would defeat the priority.
 */
function windowLoad(priority: string, load: number | undefined): number {
  return priority === 'HIGH' ? 0 : (load ?? 0);
}

/**
 * One batch's state and the steps of its life (design doc Component 3), in the shape of samples-typescript's
 * safe-message-handlers: the workflow function (workflows/batch.ts) registers the message handlers against this
 * object and runs its phases; every count changes through a pure reducer (lib/batch/reducers.ts).
 *
 * Deterministic orchestration only: member ids stay in PostgreSQL (activities read them by index), a real-time
 * page's ids are the only ones in history at a time, and the run continues as new with compact state (counters,
 * cursors, chunk bitmaps) before history grows large. The order of Temporal commands is the contract with
 * histories already recorded: any change to it is versioned with patched().
 */
export class BatchRun {
  readonly input: BatchWorkflowInput;
  readonly tuning: BatchTuning;
  readonly opts: BatchWorkflowInput['options'];
  readonly operation: string;
  /** Everything carried across continue-as-new. */
  readonly s: BatchCarryState;
  /** Set once the batch is final: queries and the cancel update answer from it. */
  private finalView: BatchStatusView | undefined;
  private failure: BatchFailureInfo | undefined;
  private timedOut = false;
  /** The id of the last event this run emitted (its form, evt2_ or evt_, tells the terminal sweep which to use). */
  private lastEventId: string | undefined;
  /** Bumped by every signal that should cut a wait short. */
  private wake = 0;
  /** Errors recorded since the last store (cleared only once stored). */
  private readonly errorBuffer: BatchErrorRecord[] = [];
  /** Batch events in order: each waits for the previous one. */
  private eventChain: Promise<void> = Promise.resolve();
  /**
   * Batches that explain themselves: WAITING / PAUSED statuses (search attribute, query, events), Web UI current
   * details and timer summaries. Versioned: runs started before this change replay their old commands.
   */
  private readonly explains: boolean;
  /** Set while the workflow sleeps until a scheduling window opens for its next members. */
  private waitingUntilMs: number | undefined;
  /** The planned start a load-deferred page is re-checking against (see waitForPlannedStart). */
  private recheckingUntilMs: number | undefined;
  private shownStatus: BatchStatusName;
  /** What a warming job's child last told its parent job (status + window), so it reports changes only. */
  private reportedToParent = '';
  /** Set at the first plan of a warming job's batch-API child: true when it plans without the slot-load rule. */
  private warmingBatchApiIgnoresLoad: boolean | undefined;
  private readonly eligibility: EligibilityActivities;
  /** A chunk member's retry: the batch's policy less the attempt the chunk made. */
  private readonly eligibilityRetry: EligibilityActivities | undefined;
  private readonly chunkActs: RealtimeChunkActivities;
  /** A chunk's members were slow (CHUNK_SLOW_MEMBER_MS): this run dispatches its remaining members one by one. */
  private chunksSlow = false;
  /** Chunks back in this run (their members' latency is known once one is). */
  private chunksBack = 0;

  constructor(input: BatchWorkflowInput) {
    this.input = input;
    this.tuning = { ...DEFAULT_BATCH_TUNING, ...input.tuning };
    this.opts = input.options;
    this.operation = input.operation ?? DEFAULT_BATCH_OPERATION;
    this.s = input.carry ?? initialState(input);
    this.s.runs += 1;
    this.explains = patched('batch-explains-itself-v1');
    this.shownStatus = (workflowInfo().typedSearchAttributes.get(RteBatchStatus) as BatchStatusName | undefined) ?? this.s.status;
    const retry = this.opts.retry;
    this.eligibility = proxyActivities<EligibilityActivities>({
      // Waits for a fair share of the global slots, then one Stedi call (≤ 90 s); heartbeats every 5 s.
      startToCloseTimeout: '15 minutes',
      heartbeatTimeout: '1 minute',
      retry: {
        maximumAttempts: retry.maxAttempts,
        initialInterval: retry.initialIntervalMs,
        maximumInterval: retry.maxIntervalMs,
        backoffCoefficient: retry.backoffMultiplier,
        nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
      },
    });
    this.eligibilityRetry =
      retry.maxAttempts === 1
        ? undefined
        : proxyActivities<EligibilityActivities>({
            startToCloseTimeout: '15 minutes',
            heartbeatTimeout: '1 minute',
            retry: {
              maximumAttempts: retry.maxAttempts > 1 ? retry.maxAttempts - 1 : retry.maxAttempts,
              initialInterval: Math.min(retry.maxIntervalMs, retry.initialIntervalMs * retry.backoffMultiplier),
              maximumInterval: retry.maxIntervalMs,
              backoffCoefficient: retry.backoffMultiplier,
              nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
            },
          });
    // A chunk heartbeats every second with its members' outcomes; a retry (worker lost) resumes from them.
    this.chunkActs = proxyActivities<RealtimeChunkActivities>({
      startToCloseTimeout: '15 minutes',
      heartbeatTimeout: '1 minute',
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
    });
  }

  private get c(): BatchCounters {
    return this.s.counters;
  }

  /** Applies a pure reducer to the counters and error totals. */
  private tally(step: (t: BatchTally) => BatchTally): void {
    const t = step({ counters: this.s.counters, totalErrors: this.s.totalErrors, recentErrors: this.s.recentErrors });
    this.s.counters = t.counters;
    this.s.totalErrors = t.totalErrors;
    this.s.recentErrors = t.recentErrors;
  }

  // ---- messages (handlers registered in workflows/batch.ts) ---------------------------------------------------

  /** batchStatus query: the final view once there is one. */
  status(): BatchStatusView {
    return this.finalView ?? this.view();
  }

  /** batchDispatchGate query: what running chunks of real-time members poll. */
  dispatchGate(): BatchDispatchGate {
    const stop = this.stopRequested() || this.finalView !== undefined;
    return { hold: stop || this.s.paused, stop };
  }

  /** `by`: who pauses (kept while paused; state only, no command, so older histories replay unchanged). */
  pause(by?: unknown): void {
    this.s.paused = true;
    if (typeof by === 'string' && by.trim()) this.s.pausedBy = by.trim().slice(0, 100);
    this.wake++;
    this.explain();
  }

  resume(): void {
    this.s.paused = false;
    delete this.s.pausedBy;
    this.wake++;
    this.explain();
  }

  requestCancel(reason: string | undefined): void {
    if (this.s.cancel || this.finalView) return;
    this.s.cancel = { reason: reason && reason.length > 0 ? reason.slice(0, 500) : 'cancelled by client', atMs: Date.now() };
    this.wake++;
  }

  /** cancelBatchAndWait: cancel, then answer with the final view. */
  async cancelAndWait(reason: string | undefined): Promise<BatchStatusView> {
    this.requestCancel(reason);
    await condition(() => this.finalView !== undefined);
    return this.finalView!;
  }

  /**
   * batchAccepted: answers once the member count is known and the first page is planned, or after ACCEPTED_WAIT_MS
   * with what is known by then (a member_query still resolving: `totalKnown` false, the members resolved so far).
   */
  async accepted(): Promise<BatchStatusView> {
    // SubmitBatch's answer is bounded as documented (probe batch #12: a member_query's resolution on a loaded machine
    // held it 32 s and 44 s). Versioned: older runs wait for the whole resolution, then (briefly) the first plan.
    if (patched('batch-accepted-bounded-v1')) {
      const until = Date.now() + ACCEPTED_WAIT_MS;
      if (!this.totalKnown() && this.finalView === undefined) await condition(() => this.totalKnown() || this.finalView !== undefined, ACCEPTED_WAIT_MS);
      const left = until - Date.now();
      if (this.totalKnown() && !this.firstPagePlanned() && left > 0) await condition(() => this.firstPagePlanned(), left);
      return this.finalView ?? this.view();
    }
    await condition(() => this.totalKnown() || this.finalView !== undefined);
    // SubmitBatch answers with an estimate: wait (briefly) until the first page is planned, so a batch that
    // waits for its window reports its scheduled start instead of "now". Versioned: older runs answer at once.
    if (this.finalView === undefined && patched('accepted-after-first-plan-v1')) {
      await condition(() => this.firstPagePlanned(), '15 seconds');
    }
    return this.finalView ?? this.view();
  }

  /** The first page is planned (a scheduled or actual start), the batch is final, or there is nothing to plan. */
  private firstPagePlanned(): boolean {
    return this.s.scheduledStartMs !== undefined || this.s.startedAtMs !== undefined || this.finalView !== undefined || this.c.total === 0;
  }

  // ---- the life of a batch ------------------------------------------------------------------------------------

  /** First steps of every run: the timeout timer, the status and identity search attributes, the Web UI details. */
  announce(): void {
    const input = this.input;
    if (this.s.deadlineMs !== undefined) this.armDeadline();
    if (this.s.status === 'PENDING' && input.carry === undefined) upsertSearchAttributes([{ key: RteBatchStatus, value: 'PENDING' }]);
    // A batchWorkflow started directly by another Temporal service (README contract) carries the same identity search
    // attributes as one started by SubmitBatch: set whichever the starter left out (issue 10).
    if (input.carry === undefined && patched('rte-batch-identity-search-attributes')) {
      const have = workflowInfo().typedSearchAttributes;
      const missing = [
        { key: RteClientService, value: input.clientService },
        { key: RteClientJobId, value: input.clientJobId },
        { key: RteJobType, value: BATCH_JOB_TYPE },
        { key: RtePriority, value: this.opts.priority },
      ].filter((u) => have.get(u.key) === undefined);
      if (missing.length > 0) upsertSearchAttributes(missing);
    }
    this.explain(input.carry === undefined);
  }

  get needsResolving(): boolean {
    return this.s.phase === 'RESOLVING';
  }

  get usesRealtime(): boolean {
    return this.s.path === 'REALTIME';
  }

  stopRequested(): boolean {
    return this.s.cancel !== undefined || this.timedOut;
  }

  /** A member_query is resolved page by page into the batch's member list in PostgreSQL. */
  async resolveMembers(): Promise<void> {
    const input = this.input;
    if (input.selector.kind !== 'query') return;
    while (!this.stopRequested()) {
      const r = await batchActs.resolveQueryPage({
        batchId: input.batchId,
        listRef: this.s.listRef!,
        query: input.selector.query,
        ...(this.s.resolveCursor ? { cursor: this.s.resolveCursor } : {}),
        start: this.c.total,
        pageSize: this.tuning.resolvePageSize,
        maxMembers: MAX_MEMBERS,
      });
      if (r.exceeded) {
        throw ApplicationFailure.create({ type: ErrorType.MemberLimitExceeded, message: `member_query matches more than ${MAX_MEMBERS} members`, nonRetryable: true });
      }
      this.tally((t) => membersResolved(t, r.count));
      if (!r.nextCursor) break;
      this.s.resolveCursor = r.nextCursor;
    }
    this.s.resolveCursor = undefined;
    this.s.phase = 'WAITING_FOR_WINDOW';
  }

  /** Strategy selection (design doc): real-time slots or Stedi's batch API, from size, priority and Stedi's load. */
  async chooseStrategy(): Promise<void> {
    const s = this.s;
    if (s.path) return;
    const load = await batchActs.getStediLoad();
    s.load = load.load;
    const d = decideStrategy({ requested: this.opts.strategy, size: this.c.total, priority: this.opts.priority, freeSlots: load.freeSlots, hour: new Date(Date.now()).getUTCHours() });
    s.path = d.path;
    s.strategyRule = d.rule;
    s.scheduleBaseMs = Date.now();
    upsertSearchAttributes([{ key: RteStrategy, value: d.path }]);
  }

  /** Real-time path: page by page, plan (cache lookup, schedule), then dispatch each page's checks to the slot pool. */
  async runRealtime(): Promise<EndReason> {
    const s = this.s;
    const total = this.c.total;
    while (s.nextIndex < total) {
      await this.waitWhilePaused();
      if (this.stopRequested()) break;
      const now = Date.now();
      if (s.nextPlanAtMs !== undefined && now < s.nextPlanAtMs) {
        await this.waitForPlannedStart();
        continue;
      }
      const count = Math.min(this.tuning.realtimePageSize, total - s.nextIndex);
      const plan = await this.planPage(count, total, 'realtime');
      if (plan.kind === 'wait') {
        s.nextPlanAtMs = plan.notBeforeMs;
        s.scheduledStartMs ??= plan.notBeforeMs;
        continue;
      }
      s.nextPlanAtMs = undefined;
      this.markRunning();
      this.countPlanned(plan);
      this.maybeProgress();
      await this.dispatchPage(plan.refresh ?? []);
      if (this.stopRequested()) break;
      s.nextIndex += count;
      await this.flushErrors();
      await this.continueIfLong();
    }
    return this.endReason();
  }

  /** Stedi batch-API path: submit every chunk that is due, poll outstanding chunks with backoff, count results as deltas. */
  async runBatchApi(): Promise<EndReason> {
    const s = this.s;
    const input = this.input;
    const tuning = this.tuning;
    const total = this.c.total;
    for (;;) {
      if (this.stopRequested()) break;
      // Submit every chunk that is due.
      while (!this.stopRequested() && !s.paused && s.nextIndex < total && s.chunks.length < tuning.maxOutstandingChunks) {
        if (s.nextPlanAtMs !== undefined && Date.now() < s.nextPlanAtMs) break;
        const size = Math.min(tuning.batchChunkSize, total - s.nextIndex);
        const plan = await this.planPage(size, total, 'batch');
        if (plan.kind === 'wait') {
          s.nextPlanAtMs = plan.notBeforeMs;
          s.scheduledStartMs ??= plan.notBeforeMs;
          break;
        }
        s.nextPlanAtMs = undefined;
        this.markRunning();
        this.countPlanned(plan);
        if (plan.refreshCount > 0) {
          const chunkNo = s.chunkSeq++;
          const sub = await stediBatchActs.submitStediChunk({
            batchId: input.batchId,
            chunkNo,
            listRef: s.listRef!,
            start: s.nextIndex,
            size,
            refreshBitmap: plan.refreshBitmap!,
            operation: this.operation,
            maxRetryHours: tuning.stediMaxRetryHours,
            firstAttemptAtMs: Date.now(),
          });
          this.tally((t) => chunkSubmitted(t, sub));
          if (sub.submittedCount > 0) {
            s.chunks.push({
              chunkNo,
              start: s.nextIndex,
              size,
              submitted: sub.submitted,
              submittedCount: sub.submittedCount,
              stediBatchId: sub.stediBatchId,
              submittedAtMs: Date.now(),
              seen: Bitmap.empty(size).encode(),
              seenCount: 0,
              pollAttempt: 0,
              nextPollAtMs: Date.now() + nextPollDelayMs(0, Date.now(), s.deadlineMs!, tuning.pollBackoff),
            });
          }
        }
        s.nextIndex += size;
        this.maybeProgress();
      }
      if (s.chunks.length === 0 && s.nextIndex >= total) break;

      // Sleep until the next poll or the next chunk's window (signals and the deadline wake us early).
      const wakeTimes = s.chunks.map((ch) => ch.nextPollAtMs);
      if (!s.paused && s.nextIndex < total && s.nextPlanAtMs !== undefined) wakeTimes.push(s.nextPlanAtMs);
      if (wakeTimes.length > 0) {
        const next = Math.min(...wakeTimes);
        if (s.chunks.length === 0 && next === s.nextPlanAtMs) await this.waitForPlannedStart();
        else await this.waitFor(next - Date.now(), 'next Stedi batch poll');
      } else await condition(() => this.stopRequested() || !s.paused);
      if (this.stopRequested()) break;

      for (const ch of [...s.chunks]) {
        if (ch.nextPollAtMs > Date.now()) continue;
        const r = await stediBatchActs.pollStediChunk({
          batchId: input.batchId,
          stediBatchId: ch.stediBatchId,
          listRef: s.listRef!,
          start: ch.start,
          size: ch.size,
          submitted: ch.submitted,
          seen: ch.seen,
          operation: this.operation,
          ...(input.warming ? { warmJobId: input.warming.jobId, ...(ch.submittedAtMs !== undefined ? { warmStartedAtMs: ch.submittedAtMs } : {}) } : {}),
        });
        this.tally((t) => chunkPolled(t, r));
        ch.seen = r.seen;
        ch.seenCount = r.seenCount;
        ch.pollAttempt += 1;
        ch.nextPollAtMs = Date.now() + nextPollDelayMs(ch.pollAttempt, Date.now(), s.deadlineMs!, tuning.pollBackoff);
        if (r.done) s.chunks.splice(s.chunks.indexOf(ch), 1);
        this.maybeProgress();
      }
      await this.continueIfLong();
    }
    return this.endReason();
  }

  endReason(): EndReason {
    if (this.s.cancel) return 'cancelled';
    if (this.timedOut) return 'timeout';
    return 'finished';
  }

  /** An error the run cannot continue past (not a cancellation): the batch fails and says why. */
  fail(err: unknown): EndReason {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    this.failure = {
      code: cause instanceof ApplicationFailure && cause.type ? cause.type : 'BATCH_ERROR',
      message: cause instanceof Error ? cause.message.slice(0, 500) : String(cause),
    };
    return 'error';
  }

  /** Temporal-level cancellation (e.g. `temporal workflow cancel`): same semantics as CancelBatch. */
  cancelledByTemporal(): EndReason {
    this.s.cancel ??= { reason: 'workflow cancelled', atMs: Date.now() };
    return 'cancelled';
  }

  /** The end: counts close, errors are stored, the final status and event go out, the member list is released. */
  async finish(reason: EndReason): Promise<BatchWorkflowResult> {
    const s = this.s;
    s.phase = 'FINISHING';
    // Whatever was not processed will not be: abandoned Stedi chunks' unseen members and undispatched members.
    this.tally(restAbandoned);
    s.chunks = [];
    if (reason === 'cancelled') this.failure ??= { code: 'CANCELLED', message: s.cancel?.reason ?? 'cancelled' };
    if (reason === 'timeout') this.failure ??= { code: 'TIMEOUT', message: `batch did not finish within its timeout of ${Math.round(this.opts.timeoutMs / 1000)} s` };
    // Errors (and the failed members' outcomes) are stored before the status turns final, so whoever sees
    // the final status also sees every error and every member outcome. Versioned: older runs flush after.
    const flushBeforeFinal = patched('flush-before-final-v1');
    if (flushBeforeFinal) await this.flushErrors();
    const status = terminalStatus(this.c, reason);
    this.setStatus(status);
    const finishedAtMs = Date.now();
    s.phase = 'DONE';
    const finalView: BatchStatusView = { ...this.view(), finishedAtMs };
    delete finalView.estimatedCompletionMs;
    this.finalView = finalView;
    this.emit(status === 'COMPLETED' ? 'COMPLETED' : status === 'PARTIALLY_COMPLETED' ? 'PARTIALLY_COMPLETED' : status === 'CANCELLED' ? 'CANCELLED' : 'FAILED');
    // The final view's events include the terminal one (state only).
    finalView.events = this.eventsSoFar();
    await this.eventChain;
    if (!flushBeforeFinal) await this.flushErrors();
    if (s.listRef) {
      try {
        await batchActs.releaseMemberList({ listRef: s.listRef });
      } catch (err) {
        log.warn('member list not released', { error: String(err) });
      }
    }
    await condition(allHandlersFinished);
    return finalView;
  }

  // ---- status ---------------------------------------------------------------------------------------------------

  /** Why and until when a PENDING or WAITING batch waits, for GetBatchStatus (the Web UI's details say the same). */
  private waitingFields(): { waitingUntilMs?: number; deferredByLoad?: boolean } {
    const s = this.s;
    if (this.finalView) return {};
    const until = this.waitingUntilMs ?? (s.status === 'PENDING' ? s.nextPlanAtMs : undefined);
    if (until === undefined) return {};
    return { waitingUntilMs: until, ...(this.deferredByLoad() ? { deferredByLoad: true } : {}) };
  }

  private totalKnown(): boolean {
    return this.s.phase !== 'RESOLVING';
  }

  private view(): BatchStatusView {
    const s = this.s;
    const c = this.c;
    const now = Date.now();
    const eta = s.startedAtMs !== undefined && !this.finalView ? estimateCompletionMs(c, s.startedAtMs, now) : undefined;
    const avg = averageDurationMs(c);
    const f = this.failure;
    return {
      batchId: this.input.batchId,
      clientService: this.input.clientService,
      clientJobId: this.input.clientJobId,
      status: this.currentStatus(),
      phase: s.phase,
      paused: s.paused,
      ...(s.paused && s.pausedBy ? { pausedBy: s.pausedBy } : {}),
      ...(s.path ? { path: s.path } : {}),
      ...(s.strategyRule ? { strategyRule: s.strategyRule } : {}),
      counters: { ...c },
      pending: pendingOf(c),
      percentDone: percentDone(c),
      submittedAtMs: this.input.submittedAtMs,
      ...(s.scheduledStartMs !== undefined ? { scheduledStartMs: s.scheduledStartMs } : {}),
      ...(s.startedAtMs !== undefined ? { startedAtMs: s.startedAtMs } : {}),
      ...(this.finalView?.finishedAtMs !== undefined ? { finishedAtMs: this.finalView.finishedAtMs } : {}),
      ...(eta !== undefined ? { estimatedCompletionMs: eta } : {}),
      ...(avg !== undefined ? { avgDurationMs: avg } : {}),
      options: this.opts,
      recentErrors: [...s.recentErrors],
      totalErrors: s.totalErrors,
      ...(f ? { failure: f } : {}),
      totalKnown: this.totalKnown(),
      ...(s.listRef ? { listRef: s.listRef } : {}),
      ...this.waitingFields(),
      ...(s.chunks.length > 0 ? { chunksInFlight: s.chunks.length } : {}),
      events: this.eventsSoFar(),
    };
  }

  /** State only (no command): a batch Temporal ends gets its terminal event from the sweep with the next number. */
  private eventsSoFar(): BatchEventsSoFar {
    return {
      seq: this.s.eventSeq,
      ...(this.lastEventId ? { lastEventId: this.lastEventId } : {}),
      jobType: this.input.jobType ?? BATCH_JOB_TYPE,
      ...(this.input.initiatedByUserId ? { initiatedByUserId: this.input.initiatedByUserId } : {}),
    };
  }

  private setStatus(status: BatchStatusName): void {
    if (this.s.status === status) return;
    this.s.status = status;
    if (this.explains) return this.explain();
    upsertSearchAttributes([{ key: RteBatchStatus, value: status }]);
  }

  /** The status operators see: PAUSED and WAITING refine an open batch's PENDING / RUNNING. */
  private currentStatus(): BatchStatusName {
    const s = this.s;
    if (!this.explains || isTerminalStatus(s.status)) return s.status;
    if (s.paused) return 'PAUSED';
    if (s.status === 'RUNNING' && this.waitingUntilMs !== undefined) return 'WAITING';
    return s.status;
  }

  /**
   * Publishes the current status (RteBatchStatus; a PROGRESS event when a started batch turns WAITING or PAUSED
   * and back) and the Web UI's current details. Cheap: details are workflow memory, answered by a query.
   */
  private explain(milestone = false): void {
    if (!this.explains) return;
    const s = this.s;
    const c = this.c;
    const status = this.currentStatus();
    const now = Date.now();
    const waitingUntilMs = this.waitingUntilMs;
    const failure = this.failure;
    const details = (withEta: boolean) =>
      batchDetails(
        {
          status,
          counters: c,
          totalKnown: this.totalKnown(),
          ...(s.path ? { path: s.path } : {}),
          maxConcurrentRequests: this.opts.maxConcurrentRequests,
          window: this.opts.schedulingWindow,
          chunksInFlight: s.chunks.length,
          ...(withEta && s.startedAtMs !== undefined && !isTerminalStatus(status) ? { estimatedCompletionMs: estimateCompletionMs(c, s.startedAtMs, now) } : {}),
          ...(waitingUntilMs !== undefined ? { waitingUntilMs } : s.status === 'PENDING' && s.nextPlanAtMs !== undefined ? { waitingUntilMs: s.nextPlanAtMs } : {}),
          ...(this.waitingFields().deferredByLoad ? { deferredByLoad: true } : {}),
          ...(failure ? { failure } : {}),
          ...(s.paused && s.pausedBy ? { pausedBy: s.pausedBy } : {}),
        },
        now,
      );
    if (status !== this.shownStatus || milestone) {
      const prev = this.shownStatus;
      this.shownStatus = status;
      // RteBatchProgress: progress as a Web UI list column, refreshed on status changes and progress milestones only
      // (each upsert is a history event).
      upsertSearchAttributes([
        { key: RteBatchStatus, value: status },
        { key: RteBatchProgress, value: details(false) },
      ]);
      const open = (x: BatchStatusName) => x === 'RUNNING' || x === 'WAITING' || x === 'PAUSED';
      if (prev !== status && s.startedAtMs !== undefined && open(prev) && open(status)) this.emit('PROGRESS');
    }
    setCurrentDetails(details(true));
    this.reportToWarmingJob(status, milestone);
  }

  /**
   * A warming job's child batch tells its job (signal warmingChildStatus) when its status or window changes and at
   * progress milestones, so the job can show WAITING / progress itself. Versioned: older children do not report.
   */
  private reportToWarmingJob(status: BatchStatusName, milestone: boolean): void {
    const parent = workflowInfo().parent;
    if (!this.input.warming || !parent || !patched('warming-child-status-v1')) return;
    const s = this.s;
    const c = this.c;
    const waitingUntil = this.waitingUntilMs ?? (s.status === 'PENDING' ? s.nextPlanAtMs : undefined);
    const key = `${status}|${waitingUntil ?? ''}`;
    if (key === this.reportedToParent && !milestone) return;
    this.reportedToParent = key;
    const report: WarmingChildStatus = {
      batchId: this.input.batchId,
      status,
      ...(waitingUntil !== undefined && !isTerminalStatus(status)
        ? { waitingUntilMs: waitingUntil, window: this.opts.schedulingWindow, ...(this.deferredByLoad() ? { deferredByLoad: true } : {}) }
        : {}),
      completed: c.completed,
      failed: c.failed,
      ...(s.startedAtMs !== undefined && !isTerminalStatus(status) ? { estimatedCompletionMs: estimateCompletionMs(c, s.startedAtMs, Date.now()) } : {}),
    };
    // Best effort, to the job's current run (it may have continued as new); it re-reads outcomes from cache_warms anyway.
    void getExternalWorkflowHandle(parent.workflowId)
      .signal(warmingChildStatusSignal, report)
      .catch(() => undefined);
  }

  private maybeProgress(): void {
    this.explain();
    const m = progressMilestone(this.s.lastMilestone, percentDone(this.c), this.tuning.progressStepPercent);
    if (m !== null) {
      this.s.lastMilestone = m;
      this.explain(true);
      this.emit('PROGRESS');
    }
  }

  private markRunning(): void {
    const s = this.s;
    if (s.startedAtMs !== undefined) return;
    s.startedAtMs = Date.now();
    s.deadlineMs = s.startedAtMs + this.opts.timeoutMs;
    s.phase = 'RUNNING';
    this.setStatus('RUNNING');
    if (this.explains) upsertSearchAttributes([{ key: RteBatchStartedAt, value: new Date(s.startedAtMs) }]);
    this.armDeadline();
    this.emit('STARTED');
  }

  // ---- events and errors ----------------------------------------------------------------------------------------

  /** One BatchJobEvent to Kafka and, when the client asked for it, a webhook delivery child; in order per batch. */
  private emit(eventType: BatchEventName): void {
    const s = this.s;
    const c = this.c;
    const input = this.input;
    const opts = this.opts;
    const finalView = this.finalView;
    const failure = this.failure;
    s.eventSeq += 1;
    const now = Date.now();
    const eta = s.startedAtMs !== undefined ? estimateCompletionMs(c, s.startedAtMs, now) : undefined;
    const event: BatchEventPayload = {
      // Unambiguous ids (batch/a-b/c and batch/a/b-c no longer collide); old histories replay with the old form.
      eventId: patched('rte-batch-event-id-v2') ? batchEventIdV2(input.batchId, s.eventSeq) : batchEventId(input.batchId, s.eventSeq),
      eventType,
      occurredAtMs: now,
      batchId: input.batchId,
      clientService: input.clientService,
      clientJobId: input.clientJobId,
      jobType: input.jobType ?? BATCH_JOB_TYPE,
      ...(input.initiatedByUserId ? { initiatedByUserId: input.initiatedByUserId } : {}),
      status: this.currentStatus(),
      counters: { ...c },
      percentDone: percentDone(c),
      ...(eta !== undefined ? { estimatedCompletionMs: eta } : {}),
      submittedAtMs: input.submittedAtMs,
      ...(s.startedAtMs !== undefined ? { startedAtMs: s.startedAtMs } : {}),
      ...(finalView?.finishedAtMs !== undefined ? { finishedAtMs: finalView.finishedAtMs } : eventType !== 'STARTED' && eventType !== 'PROGRESS' ? { finishedAtMs: now } : {}),
      options: opts,
      ...(s.path ? { path: s.path } : {}),
      ...(failure ? { failure } : {}),
    };
    this.lastEventId = event.eventId;
    const n = opts.notifications;
    const webhookScheduleMs = this.tuning.webhookScheduleMs;
    // An event emitted from inside a cancelled scope (a check's progress step as CancelBatch stops its page) used to
    // be scheduled in that scope: its Kafka publish and webhook child were refused at once, and the batch's event ids
    // skipped that number in every sink (probe batch #15, evt2_5 then evt2_7). Every event now goes out in a scope no
    // caller's cancellation reaches. Versioned: histories recorded before it replay their cancelled publishes.
    const shielded = patched('batch-events-outlive-cancel-v1');
    const send = async (): Promise<void> => {
      try {
        await eventActs.publishBatchEvent({ topic: n.kafkaTopic, event });
      } catch (err) {
        log.warn('batch event could not be published to Kafka', { eventId: event.eventId, error: String(err) });
      }
      // patched only where the new rule changes the outcome, so histories recorded before it replay unchanged.
      const passes =
        eventPassesFilter(eventType, n.eventTypes) || (eventPassesFilter(eventType, n.eventTypes, { terminalAsOne: true }) && patched('webhook-terminal-filter-v1'));
      if (n.callbackUrl && passes) {
        try {
          await startChild(webhookDeliveryWorkflow, {
            workflowId: webhookDeliveryWorkflowId(input.batchId, event.eventId),
            parentClosePolicy: ParentClosePolicy.ABANDON,
            args: [
              {
                url: n.callbackUrl,
                webhookId: event.eventId,
                body: webhookBody(event),
                eventType,
                batchId: input.batchId,
                clientService: input.clientService,
                mode: n.deliveryMode,
                ...(webhookScheduleMs ? { scheduleMs: webhookScheduleMs } : {}),
              },
            ],
          });
        } catch (err) {
          // Already started by an earlier run (same deterministic id): nothing to do.
          log.info('webhook delivery not started', { eventId: event.eventId, error: String(err) });
        }
      }
    };
    // Ordered per batch: each event waits for the previous one.
    this.eventChain = this.eventChain.then(() => (shielded ? CancellationScope.nonCancellable(send) : send()));
  }

  private recordError(e: BatchErrorRecord): void {
    this.tally((t) => errorRecorded(t, e));
    this.errorBuffer.push(e);
  }

  private async flushErrors(): Promise<void> {
    if (this.errorBuffer.length === 0 || !this.s.listRef) return;
    // Cleared only once stored: if the activity fails (or is cancelled), the errors stay for the next flush.
    const errors = this.errorBuffer.slice();
    await batchActs.recordMemberErrors({ batchId: this.input.batchId, listRef: this.s.listRef, errors });
    this.errorBuffer.splice(0, errors.length);
  }

  private countPlanned(plan: PlannedPage): void {
    this.tally((t) => pagePlanned(t, plan));
  }

  // ---- planning and dispatch ------------------------------------------------------------------------------------

  /** Pre-flight cache lookup and scheduling for the next `count` members from `s.nextIndex`. */
  private planPage(count: number, total: number, mode: 'realtime' | 'batch') {
    const s = this.s;
    const opts = this.opts;
    return batchActs.planMembers({
      batchId: this.input.batchId,
      listRef: s.listRef!,
      start: s.nextIndex,
      count,
      total,
      cacheMode: opts.cacheMode,
      operation: this.operation,
      window: opts.schedulingWindow,
      scheduleBaseMs: s.scheduleBaseMs!,
      nowMs: Date.now(),
      load: this.plansWithoutSlotLoad() ? 0 : windowLoad(opts.priority, s.load),
      mode,
      // Refresh items carry the member's list index only; the refresh activity reads the id (issue 13: no member data
      // in histories). Versioned: older runs keep ids in their recorded plans and pass them on.
      ...(patched('batch-member-refs-v1') ? { refsOnly: true } : {}),
    });
  }

  /**
   * Batches whose work takes no real-time slot plan without the ANY window's slot-load rule:
   * - a CACHE_ONLY batch makes no Stedi call (issue 10; patched for old histories);
   * - a warming job's child on Stedi's batch API (PRELOAD, or an INTELLIGENT stale refresh) submits to the batch API,
   *   not the slot pool, so real-time load must not park it until the low-utilisation window (warming finding 7; the
   *   README promises only BACKGROUND waits, and BACKGROUND children ask for LOW_UTILIZATION explicitly). SubmitBatch
   *   batches keep the rule as documented. Versioned: children planned before this change replay with the load.
   */
  private plansWithoutSlotLoad(): boolean {
    if (this.opts.cacheMode === 'CACHE_ONLY') return patched('rte-cache-only-ignores-stedi-load');
    if (this.input.warming && this.s.path === 'BATCH_API') {
      this.warmingBatchApiIgnoresLoad ??= patched('warming-batch-api-ignores-slot-load-v1');
      return this.warmingBatchApiIgnoresLoad;
    }
    return false;
  }

  /** One real-time check through the global slot pool, counted when its result is in history. */
  private async runOne(item: RefreshItem, acts: EligibilityActivities = this.eligibility): Promise<void> {
    const input = this.input;
    const t0 = Date.now();
    try {
      const r = await acts.refreshEligibility({
        // New plans carry no id: the activity resolves member `item.i` from the batch's list.
        ...(item.memberId !== undefined ? { memberId: item.memberId } : {}),
        operation: this.operation,
        requester: input.warming ? { kind: 'warming', jobId: input.warming.jobId, priority: input.warming.priority } : { kind: 'batch', clientService: input.clientService, priority: this.opts.priority },
        source: input.warming ? 'warming' : 'batch',
        batchMember: { batchId: input.batchId, index: item.i, ...(item.memberId === undefined ? { listRef: this.s.listRef! } : {}) },
      });
      const ok = r.outcome === 'success';
      this.tally((t) => checkAnswered(t, { ok, stediCalls: r.stediCalls, durationMs: Date.now() - t0 }));
      if (!ok) this.recordError({ memberIndex: item.i, errorCode: PAYER_ERROR.code, errorMessage: payerErrorMessage(r.payerError), occurredAtMs: Date.now() });
    } catch (err) {
      if (isCancellation(err)) {
        this.tally(checkCancelled);
        return;
      }
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const type = cause instanceof ApplicationFailure && cause.type ? cause.type : undefined;
      this.tally((t) => checkFailed(t, type !== undefined && STEDI_ANSWERED_FAILURE_TYPES.includes(type)));
      // Platform codes only: a library's class name (e.g. MaxRetriesPerRequestError) is never shown to callers.
      const code = type ? platformErrorCode(type) : 'CHECK_FAILED';
      this.recordError({ memberIndex: item.i, errorCode: code, errorMessage: cause instanceof Error ? cause.message.slice(0, 500) : String(cause), occurredAtMs: Date.now() });
    } finally {
      this.maybeProgress();
    }
  }

  /** Dispatches one page's checks, each at its scheduled time, at most the batch's cap in flight. */
  private async dispatchPage(items: RefreshItem[]): Promise<void> {
    const s = this.s;
    const opts = this.opts;
    // Chunks of members per activity (issue 14): full-width batches whose plans carry list indices only.
    // Versioned: runs started before this change keep one activity per member.
    const chunkMembers = this.tuning.realtimeChunkMembers ?? 0;
    if (chunkMembers > 1 && opts.maxConcurrentRequests >= POOL_SLOTS && items.length > 0 && items.every((x) => x.memberId === undefined) && patched('realtime-chunks-v1')) {
      return this.dispatchChunks(items, chunkMembers);
    }
    // With the whole pool allowed, keep a few checks queued at the slot pool so a freed slot is taken at once
    // instead of idling for an activity round trip; the pool still bounds Stedi in-flight at its limit.
    // Smaller caps are honoured exactly. Versioned: runs started before this change keep their old schedule.
    const dispatchCap =
      opts.maxConcurrentRequests >= POOL_SLOTS && patched('realtime-lookahead-v1') ? opts.maxConcurrentRequests + REALTIME_LOOKAHEAD : opts.maxConcurrentRequests;
    const scope = new CancellationScope();
    let inFlight = 0;
    let pageDone = false;
    const running: Promise<void>[] = [];
    // Cancel and timeout reach running checks through the scope (activities see it via heartbeats).
    const watcher = condition(() => this.stopRequested() || pageDone).then(() => {
      if (this.stopRequested()) scope.cancel();
    });
    for (const item of items) {
      // Pause holds new dispatches; checks already running finish.
      for (;;) {
        await this.waitWhilePaused();
        if (this.stopRequested()) break;
        if (item.atMs > Date.now()) {
          // Nothing in flight and the next member's window opens later: the batch is waiting, not running. With
          // checks still in flight, wait for them first (or the member), then look again.
          const long = this.explains && item.atMs - Date.now() > IDLE_WAIT_IS_WAITING_MS;
          if (long && inFlight === 0) await this.waitForWindow(item.atMs);
          else if (long) await condition(() => inFlight === 0 || this.stopRequested() || s.paused, item.atMs - Date.now(), { summary: 'checks in flight finish' });
          else await this.waitFor(item.atMs - Date.now(), 'next member due (spread within its window)');
          continue;
        }
        await condition(() => inFlight < dispatchCap || this.stopRequested() || s.paused);
        if (!s.paused) break;
      }
      if (this.stopRequested()) break;
      inFlight += 1;
      running.push(
        scope.run(() => this.runOne(item)).finally(() => {
          inFlight -= 1;
        }),
      );
    }
    await Promise.all(running);
    pageDone = true;
    await watcher;
  }

  /**
   * Dispatches one page's checks in chunks (issue 14): each chunk is one activity that runs up to `chunkMembers`
   * members due now, `lanes` at a time (two chunks share the batch's cap plus look-ahead), heartbeats its members'
   * outcomes and returns them; every outcome is counted once, when the chunk's result is in history. Members a chunk
   * did not start (pause, its time bound) come back to the queue; members that failed with a retryable error are
   * retried one by one with the batch's retry policy. Pause, cancel and timeout reach running chunks through the
   * batchDispatchGate query they poll; members not yet due wait here as before.
   */
  private async dispatchChunks(items: RefreshItem[], chunkMembers: number): Promise<void> {
    const s = this.s;
    const lanesTotal = this.opts.maxConcurrentRequests + REALTIME_LOOKAHEAD;
    // Until a chunk has come back this run, its members' latency is unknown: the first chunks are small (one member
    // per lane, PROBE_CHUNK_LANES) and take no look-ahead lanes, so if members turn out slow few slots idle behind a
    // chunk's slowest and no member waits at the slot pool behind the first wave.
    // Versioned: runs started before this change keep chunking whatever their members' latency, with look-ahead.
    const adaptive = patched('realtime-chunks-slow-v1');
    const probeLanes = adaptive ? Math.min(lanesTotal, POOL_SLOTS) : lanesTotal;
    const lanesPerChunk = Math.ceil(lanesTotal / 2);
    const queue = items.slice();
    const retryQueue: RefreshItem[] = [];
    const probing = (): boolean => adaptive && this.chunksBack === 0 && !this.chunksSlow;
    // Lanes free for what starts next: probes share the pool's 15; the rest share the cap plus look-ahead.
    const lanesFree = (): number => (probing() && retryQueue.length === 0 ? probeLanes : lanesTotal) - lanesInFlight;
    // A chunk after the probes waits for a full share of lanes (adaptive runs), so chunks that end at different
    // times do not split the lanes into ever more, smaller chunks (each costs history events and gate queries).
    const lanesNeeded = (): number => (adaptive && !probing() && !this.chunksSlow && retryQueue.length === 0 ? lanesPerChunk : 1);
    const scope = new CancellationScope();
    let lanesInFlight = 0;
    let chunksInFlight = 0;
    let pageDone = false;
    const running: Promise<void>[] = [];
    // Cancel and timeout: running chunks see them through the gate and return what they did; any chunk still out
    // after the grace period (and every single retry) is cancelled through the scope.
    const watcher = condition(() => this.stopRequested() || pageDone).then(async () => {
      if (!this.stopRequested()) return;
      if (chunksInFlight > 0) await condition(() => chunksInFlight === 0, CHUNK_STOP_GRACE_MS);
      scope.cancel();
    });
    const start = (lanes: number, fn: () => Promise<void>): void => {
      lanesInFlight += lanes;
      running.push(
        scope.run(fn).finally(() => {
          lanesInFlight -= lanes;
        }),
      );
    };
    while (queue.length > 0 || retryQueue.length > 0 || lanesInFlight > 0) {
      if (queue.length === 0 && retryQueue.length === 0) {
        // Chunks out: they may hand members back.
        await condition(() => queue.length > 0 || retryQueue.length > 0 || lanesInFlight === 0 || this.stopRequested());
        if (this.stopRequested()) break;
        continue;
      }
      // Pause holds new dispatches; checks already running finish.
      for (;;) {
        await this.waitWhilePaused();
        if (this.stopRequested()) break;
        const head = retryQueue[0] ?? queue[0]!;
        if (head.atMs > Date.now()) {
          const long = this.explains && head.atMs - Date.now() > IDLE_WAIT_IS_WAITING_MS;
          if (long && lanesInFlight === 0) await this.waitForWindow(head.atMs);
          else if (long) await condition(() => lanesInFlight === 0 || this.stopRequested() || s.paused || queue[0] !== head, head.atMs - Date.now(), { summary: 'checks in flight finish' });
          else await this.waitFor(head.atMs - Date.now(), 'next member due (spread within its window)');
          continue;
        }
        await condition(() => lanesFree() >= lanesNeeded() || this.stopRequested() || s.paused);
        if (!s.paused) break;
      }
      if (this.stopRequested()) break;
      const retryItem = retryQueue.shift();
      if (retryItem) {
        start(1, () => this.retryChunkMember(retryItem));
        continue;
      }
      if (this.chunksSlow) {
        // Slow members: one activity each from here on (CHUNK_SLOW_MEMBER_MS), as a per-member batch runs.
        const item = queue.shift()!;
        start(1, () => this.runOne(item));
        continue;
      }
      // The members due now, shared between the chunks that can still start (two share the lanes).
      const now = Date.now();
      let due = 0;
      while (due < queue.length && queue[due]!.atMs <= now) due++;
      // Probing (no chunk back yet, adaptive runs): small chunks, one member per lane, up to the pool's 15 lanes, so a
      // slow member idles at most its chunk's two other lanes, holds back no member behind it, and the first chunk
      // back tells the members' latency.
      const probe = probing();
      const n = probe
        ? Math.max(1, Math.min(chunkMembers, PROBE_CHUNK_LANES, probeLanes - lanesInFlight, due))
        : Math.min(chunkMembers, Math.ceil(due / Math.max(1, Math.floor((lanesTotal - lanesInFlight) / lanesPerChunk))));
      const take = queue.splice(0, n);
      const lanes = probe ? take.length : Math.max(1, Math.min(lanesPerChunk, lanesTotal - lanesInFlight, take.length));
      chunksInFlight += 1;
      start(lanes, () =>
        this.runChunk(take, lanes, queue, retryQueue, adaptive).finally(() => {
          chunksInFlight -= 1;
          this.chunksBack += 1;
        }),
      );
    }
    await Promise.all(running);
    // Members never handed out (cancel or timeout) are counted by finish() (restAbandoned).
    pageDone = true;
    await watcher;
  }

  /** One chunk activity; its outcomes are counted here, once, from its recorded result. */
  private async runChunk(take: RefreshItem[], lanes: number, queue: RefreshItem[], retryQueue: RefreshItem[], adaptive: boolean): Promise<void> {
    const input = this.input;
    let result;
    try {
      result = await this.chunkActs.refreshEligibilityChunk({
        batchId: input.batchId,
        workflowId: workflowInfo().workflowId,
        listRef: this.s.listRef!,
        operation: this.operation,
        requester: input.warming ? { kind: 'warming', jobId: input.warming.jobId, priority: input.warming.priority } : { kind: 'batch', clientService: input.clientService, priority: this.opts.priority },
        source: input.warming ? 'warming' : 'batch',
        items: take.map((x) => x.i),
        lanes,
        maxStartMs: this.tuning.realtimeChunkMaxStartMs ?? 2_000,
      });
    } catch (err) {
      if (isCancellation(err)) {
        for (let k = 0; k < take.length; k++) this.tally(checkCancelled);
        this.maybeProgress();
        return;
      }
      // The chunk itself failed after its retries (e.g. the member list unreadable): each member gets its own check.
      log.warn('real-time chunk failed; checking its members one by one', { error: String(err) });
      let k = 0;
      await Promise.all(
        Array.from({ length: lanes }, async () => {
          while (k < take.length) await this.runOne(take[k++]!);
        }),
      );
      return;
    }
    if (adaptive && !this.chunksSlow && chunkMembersSlow(result.outcomes)) {
      this.chunksSlow = true;
      log.info('real-time chunk members are slow; the rest of this run goes one activity per member', { medianMs: medianMemberMs(result.outcomes) });
    }
    const byIndex = new Map(take.map((x) => [x.i, x]));
    for (const o of result.outcomes) {
      this.countChunkOutcome(o, byIndex.get(o.i), retryQueue);
      // Every progress step a chunk crosses gets its own PROGRESS event (as one activity per member did).
      if (progressMilestone(this.s.lastMilestone, percentDone(this.c), this.tuning.progressStepPercent) !== null) this.maybeProgress();
    }
    const back = result.notStarted.map((i) => byIndex.get(i)).filter((x): x is RefreshItem => x !== undefined);
    queue.unshift(...back);
    this.maybeProgress();
  }

  private countChunkOutcome(o: ChunkMemberOutcome, item: RefreshItem | undefined, retryQueue: RefreshItem[]): void {
    if (o.r === 'ok' || o.r === 'err') {
      const ok = o.r === 'ok';
      this.tally((t) => checkAnswered(t, { ok, stediCalls: o.calls ?? 1, durationMs: o.ms }));
      if (!ok) this.recordError({ memberIndex: o.i, errorCode: PAYER_ERROR.code, errorMessage: payerErrorMessage(o.msg), occurredAtMs: Date.now() });
      return;
    }
    if (o.r === 'cancelled') {
      this.tally(checkCancelled);
      return;
    }
    if (o.r === 'retry' && item && this.eligibilityRetry) {
      retryQueue.push({ i: item.i, atMs: item.atMs });
      return;
    }
    const type = o.type;
    this.tally((t) => checkFailed(t, type !== undefined && STEDI_ANSWERED_FAILURE_TYPES.includes(type)));
    this.recordError({ memberIndex: o.i, errorCode: type ? platformErrorCode(type) : 'CHECK_FAILED', errorMessage: o.msg ?? 'check failed', occurredAtMs: Date.now() });
  }

  /** A chunk member whose attempt failed with a retryable error: its next attempts, one activity, as before. */
  private async retryChunkMember(item: RefreshItem): Promise<void> {
    await sleep(this.opts.retry.initialIntervalMs);
    await this.runOne(item, this.eligibilityRetry);
  }

  // ---- waiting ----------------------------------------------------------------------------------------------------

  /**
   * Was the next page deferred by Stedi's load (the ANY window's load rule) rather than by a window the client chose?
   * HIGH priority and CACHE_ONLY batches never are (they plan with load 0), nor warming batch-API children planned
   * without it (plansWithoutSlotLoad); nor are batches over the multi-window threshold, whose ANY chunks rotate
   * through fixed windows.
   */
  private deferredByLoad(): boolean {
    const opts = this.opts;
    return (
      opts.schedulingWindow === 'ANY' &&
      opts.cacheMode !== 'CACHE_ONLY' &&
      this.warmingBatchApiIgnoresLoad !== true &&
      this.c.total <= MULTI_WINDOW_THRESHOLD &&
      anyWindowLoadBand(windowLoad(opts.priority, this.s.load)) > 0
    );
  }

  /**
   * Waits for the next page's planned start. A deferral caused by Stedi's load is re-evaluated: every
   * `loadRecheckMs` (a named timer) the load is read again, and when its band dropped the page is planned again at
   * once, so the batch starts as soon as load allows instead of waiting for the low-utilisation window (issue 10).
   * Versioned: runs that waited before this change replay their single window timer.
   */
  private async waitForPlannedStart(): Promise<void> {
    const s = this.s;
    const untilMs = s.nextPlanAtMs!;
    if (!this.deferredByLoad() || !patched('rte-any-window-load-recheck')) return this.waitForWindow(untilMs);
    const recheckAtMs = Math.min(untilMs, Date.now() + this.tuning.loadRecheckMs);
    // The first wait publishes the WAITING details; later re-checks of the same deferral add no search-attribute upsert.
    const again = this.recheckingUntilMs === untilMs;
    this.recheckingUntilMs = untilMs;
    await this.waitForWindow(untilMs, recheckAtMs < untilMs ? { atMs: recheckAtMs, summary: 'Stedi load re-check' } : undefined, again);
    if (this.stopRequested() || s.paused || Date.now() >= untilMs) return;
    const load = await batchActs.getStediLoad();
    const before = anyWindowLoadBand(windowLoad(this.opts.priority, s.load));
    const now = anyWindowLoadBand(windowLoad(this.opts.priority, load.load));
    if (now < before) {
      s.load = load.load;
      s.nextPlanAtMs = undefined;
      s.scheduledStartMs = undefined;
    }
  }

  /**
   * Sleeps until a scheduling window opens (or a signal / the deadline wakes us), shown as WAITING once started.
   * `wakeEarly` ends the sleep sooner (still shown as waiting for the window) for a re-check.
   */
  private async waitForWindow(untilMs: number, wakeEarly?: { atMs: number; summary: string }, quiet = false): Promise<void> {
    this.waitingUntilMs = untilMs;
    this.explain(!quiet);
    try {
      if (wakeEarly) await this.waitFor(wakeEarly.atMs - Date.now(), wakeEarly.summary);
      else await this.waitFor(untilMs - Date.now(), `${this.opts.schedulingWindow} window opens`);
    } finally {
      this.waitingUntilMs = undefined;
      this.explain();
    }
  }

  private async waitFor(ms: number, summary?: string): Promise<void> {
    if (ms <= 0) return;
    const w = this.wake;
    // A wait that ends at or after the batch deadline needs no timer of its own: the deadline's timer (armDeadline)
    // wakes it. Two timers due at the same instant (a Stedi poll cut to the deadline) also wedge Temporal's
    // time-skipping test server: when one fires while the workflow task cancelling it is in flight, the server refuses
    // the CancelTimer and never hands the run another task (sdk-java issues 2606 and 3088; the real server accepts
    // it). Versioned: older runs keep their timer.
    const deadline = this.s.deadlineMs;
    if (deadline !== undefined && !this.timedOut && Date.now() + ms >= deadline && patched('deadline-ends-waits-v1')) {
      await condition(() => this.wake !== w || this.stopRequested());
      return;
    }
    if (this.explains && summary) await condition(() => this.wake !== w || this.stopRequested(), ms, { summary });
    else await condition(() => this.wake !== w || this.stopRequested(), ms);
  }

  private async waitWhilePaused(): Promise<void> {
    if (this.s.paused) await condition(() => !this.s.paused || this.stopRequested());
  }

  private armDeadline(): void {
    const s = this.s;
    if (s.deadlineMs === undefined) return;
    const left = s.deadlineMs - Date.now();
    if (left <= 0) {
      this.timedOut = true;
      return;
    }
    // Not awaited on purpose: it only flips a flag. Cancelled with the workflow, hence the catch.
    sleep(left, this.explains ? { summary: 'batch timeout' } : undefined).then(
      () => {
        this.timedOut = true;
        this.wake++;
      },
      () => undefined,
    );
  }

  // ---- continue-as-new ------------------------------------------------------------------------------------------

  private shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.tuning.continueAsNewAfterEvents;
  }

  private async continueIfLong(): Promise<void> {
    if (!this.shouldContinueAsNew() || this.stopRequested()) return;
    await this.eventChain;
    await this.flushErrors();
    await condition(allHandlersFinished);
    await continueAsNew<(input: BatchWorkflowInput) => Promise<BatchWorkflowResult>>({ ...this.input, carry: this.s });
  }
}

