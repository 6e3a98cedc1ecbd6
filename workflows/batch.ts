import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  ContinueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  allHandlersFinished,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities, RefreshItem } from '../activities/batch/activities';
import type { EligibilityActivities } from '../activities/eligibility/activities';
import { Bitmap } from '../lib/batch/bitmap';
import { batchEventId, batchEventIdV2, eventPassesFilter, webhookBody, type BatchEventPayload } from '../lib/batch/events';
import { nextPollDelayMs } from '../lib/batch/polling';
import { averageDurationMs, estimateCompletionMs, pendingOf, percentDone, progressMilestone, terminalStatus, type EndReason } from '../lib/batch/progress';
import { decideStrategy } from '../lib/batch/strategy';
import { emptyCounters, isTerminalStatus, type BatchErrorRecord, type BatchEventName, type BatchStatusName } from '../lib/batch/types';
import { batchDetails } from '../lib/batch/details';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES, STEDI_ANSWERED_FAILURE_TYPES, platformErrorCode } from '../lib/errors';
import { webhookDeliveryWorkflow } from './batch-webhook-delivery';
import {
  BATCH_JOB_TYPE,
  batchAcceptedUpdate,
  batchStatusQuery,
  cancelBatchSignal,
  cancelBatchUpdate,
  legacyCancelBatchUpdate,
  validateCancelBatchArgs,
  validateNoArgs,
  type CancelBatchArgs,
  DEFAULT_BATCH_OPERATION,
  DEFAULT_BATCH_TUNING,
  PAYER_ERROR,
  pauseBatchSignal,
  resumeBatchSignal,
  webhookDeliveryWorkflowId,
  type BatchCarryState,
  type BatchFailureInfo,
  type BatchStatusView,
  type BatchWorkflowInput,
  type BatchWorkflowResult,
} from './batch.defs';
import { warmingChildStatusSignal, type WarmingChildStatus } from './warming.defs';
import { RteBatchProgress, RteBatchStartedAt, RteBatchStatus, RteClientJobId, RteClientService, RteJobType, RtePriority, RteStrategy } from './search-attributes';

const RECENT_ERRORS = 20;
const MAX_MEMBERS = 100_000;

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
 * One batch of eligibility checks (design doc Component 3). Deterministic orchestration only: member ids stay in
 * PostgreSQL (activities read them by index), a real-time page's ids are the only ones in history at a time, and
 * the workflow continues as new with compact state (counters, cursors, chunk bitmaps) before history grows large.
 *
 * Exactly-once accounting: a member is counted when its activity result is recorded in this workflow's history —
 * replays and worker crashes re-derive the same counts; Stedi batch results are counted as deltas against a
 * per-chunk bitmap of members already seen.
 */

/**
 * Load the ANY window sees. A HIGH-priority batch starts now whatever the load: the global slot pool's WDRR
 * already shares capacity fairly between batches and protects interactive traffic, and deferring urgent
 * work to the 2 AM window because another batch is busy would defeat the priority.
 */
/** Stedi's real-time slots (the global pool's limit and the largest max_concurrent_requests a batch may ask for). */
const POOL_SLOTS = 15;
/** An idle wait for the next member longer than this shows the batch as WAITING (for its window). */
const IDLE_WAIT_IS_WAITING_MS = 60_000;
/** Checks a full-width batch keeps waiting at the slot pool beyond its in-flight cap. */
const REALTIME_LOOKAHEAD = 5;

function windowLoad(priority: string, load: number | undefined): number {
  return priority === 'HIGH' ? 0 : (load ?? 0);
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchWorkflowResult> {
  const tuning = { ...DEFAULT_BATCH_TUNING, ...input.tuning };
  const opts = input.options;
  const operation = input.operation ?? DEFAULT_BATCH_OPERATION;
  const s: BatchCarryState = input.carry ?? initialState(input);
  s.runs += 1;
  const c = s.counters;
  let finalView: BatchStatusView | undefined;
  let failure: BatchFailureInfo | undefined;
  let timedOut = false;
  let wake = 0;
  const errorBuffer: BatchErrorRecord[] = [];
  let eventChain: Promise<void> = Promise.resolve();
  // Batches that explain themselves: WAITING / PAUSED statuses (search attribute, query, events), Web UI current
  // details and timer summaries. Versioned: runs started before this change replay their old commands.
  const explains = patched('batch-explains-itself-v1');
  /** Set while the workflow sleeps until a scheduling window opens for its next members. */
  let waitingUntilMs: number | undefined;
  let shownStatus: BatchStatusName = (workflowInfo().typedSearchAttributes.get(RteBatchStatus) as BatchStatusName | undefined) ?? s.status;
  /** What a warming job's child last told its parent job (status + window), so it reports changes only. */
  let reportedToParent = '';

  const eligibility = proxyActivities<EligibilityActivities>({
    // Waits for a fair share of the global slots, then one Stedi call (≤ 90 s); heartbeats every 5 s.
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '1 minute',
    retry: {
      maximumAttempts: opts.retry.maxAttempts,
      initialInterval: opts.retry.initialIntervalMs,
      maximumInterval: opts.retry.maxIntervalMs,
      backoffCoefficient: opts.retry.backoffMultiplier,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  });

  const totalKnown = () => s.phase !== 'RESOLVING';
  const stopRequested = () => s.cancel !== undefined || timedOut;

  function view(): BatchStatusView {
    const now = Date.now();
    const eta = s.startedAtMs !== undefined && !finalView ? estimateCompletionMs(c, s.startedAtMs, now) : undefined;
    const avg = averageDurationMs(c);
    const f = failure;
    return {
      batchId: input.batchId,
      clientService: input.clientService,
      clientJobId: input.clientJobId,
      status: currentStatus(),
      phase: s.phase,
      paused: s.paused,
      ...(s.path ? { path: s.path } : {}),
      ...(s.strategyRule ? { strategyRule: s.strategyRule } : {}),
      counters: { ...c },
      pending: pendingOf(c),
      percentDone: percentDone(c),
      submittedAtMs: input.submittedAtMs,
      ...(s.scheduledStartMs !== undefined ? { scheduledStartMs: s.scheduledStartMs } : {}),
      ...(s.startedAtMs !== undefined ? { startedAtMs: s.startedAtMs } : {}),
      ...(finalView?.finishedAtMs !== undefined ? { finishedAtMs: finalView.finishedAtMs } : {}),
      ...(eta !== undefined ? { estimatedCompletionMs: eta } : {}),
      ...(avg !== undefined ? { avgDurationMs: avg } : {}),
      options: opts,
      recentErrors: [...s.recentErrors],
      totalErrors: s.totalErrors,
      ...(f ? { failure: f } : {}),
      totalKnown: totalKnown(),
      ...(s.listRef ? { listRef: s.listRef } : {}),
    };
  }

  function requestCancel(reason: string | undefined): void {
    if (s.cancel || finalView) return;
    s.cancel = { reason: reason && reason.length > 0 ? reason.slice(0, 500) : 'cancelled by client', atMs: Date.now() };
    wake++;
  }

  setHandler(batchStatusQuery, () => finalView ?? view());
  setHandler(pauseBatchSignal, () => {
    s.paused = true;
    wake++;
    explain();
  });
  setHandler(resumeBatchSignal, () => {
    s.paused = false;
    wake++;
    explain();
  });
  setHandler(cancelBatchSignal, (a) => requestCancel(a?.reason));
  const cancelAndWait = async (a: CancelBatchArgs | undefined) => {
    requestCancel(a?.reason);
    await condition(() => finalView !== undefined);
    return finalView!;
  };
  setHandler(cancelBatchUpdate, cancelAndWait, { validator: validateCancelBatchArgs });
  setHandler(legacyCancelBatchUpdate, cancelAndWait, { validator: validateCancelBatchArgs });
  setHandler(batchAcceptedUpdate, async () => {
    await condition(() => totalKnown() || finalView !== undefined);
    // SubmitBatch answers with an estimate: wait (briefly) until the first page is planned, so a batch that
    // waits for its window reports its scheduled start instead of "now". Versioned: older runs answer at once.
    if (finalView === undefined && patched('accepted-after-first-plan-v1')) {
      await condition(() => s.scheduledStartMs !== undefined || s.startedAtMs !== undefined || finalView !== undefined || c.total === 0, '15 seconds');
    }
    return finalView ?? view();
  }, { validator: validateNoArgs });

  function setStatus(status: BatchStatusName): void {
    if (s.status === status) return;
    s.status = status;
    if (explains) return explain();
    upsertSearchAttributes([{ key: RteBatchStatus, value: status }]);
  }

  /** The status operators see: PAUSED and WAITING refine an open batch's PENDING / RUNNING. */
  function currentStatus(): BatchStatusName {
    if (!explains || isTerminalStatus(s.status)) return s.status;
    if (s.paused) return 'PAUSED';
    if (s.status === 'RUNNING' && waitingUntilMs !== undefined) return 'WAITING';
    return s.status;
  }

  /**
   * Publishes the current status (RteBatchStatus; a PROGRESS event when a started batch turns WAITING or PAUSED
   * and back) and the Web UI's current details. Cheap: details are workflow memory, answered by a query.
   */
  function explain(milestone = false): void {
    if (!explains) return;
    const status = currentStatus();
    const now = Date.now();
    const details = (withEta: boolean) =>
      batchDetails(
        {
          status,
          counters: c,
          totalKnown: totalKnown(),
          ...(s.path ? { path: s.path } : {}),
          maxConcurrentRequests: opts.maxConcurrentRequests,
          window: opts.schedulingWindow,
          chunksInFlight: s.chunks.length,
          ...(withEta && s.startedAtMs !== undefined && !isTerminalStatus(status) ? { estimatedCompletionMs: estimateCompletionMs(c, s.startedAtMs, now) } : {}),
          ...(waitingUntilMs !== undefined ? { waitingUntilMs } : s.status === 'PENDING' && s.nextPlanAtMs !== undefined ? { waitingUntilMs: s.nextPlanAtMs } : {}),
          ...(failure ? { failure } : {}),
        },
        now,
      );
    if (status !== shownStatus || milestone) {
      const prev = shownStatus;
      shownStatus = status;
      // RteBatchProgress: progress as a Web UI list column, refreshed on status changes and progress milestones only
      // (each upsert is a history event).
      upsertSearchAttributes([
        { key: RteBatchStatus, value: status },
        { key: RteBatchProgress, value: details(false) },
      ]);
      const open = (x: BatchStatusName) => x === 'RUNNING' || x === 'WAITING' || x === 'PAUSED';
      if (prev !== status && s.startedAtMs !== undefined && open(prev) && open(status)) emit('PROGRESS');
    }
    setCurrentDetails(details(true));
    reportToWarmingJob(status, milestone);
  }

  /**
   * A warming job's child batch tells its job (signal warmingChildStatus) when its status or window changes and at
   * progress milestones, so the job can show WAITING / progress itself. Versioned: older children do not report.
   */
  function reportToWarmingJob(status: BatchStatusName, milestone: boolean): void {
    const parent = workflowInfo().parent;
    if (!input.warming || !parent || !patched('warming-child-status-v1')) return;
    const waitingUntil = waitingUntilMs ?? (s.status === 'PENDING' ? s.nextPlanAtMs : undefined);
    const key = `${status}|${waitingUntil ?? ''}`;
    if (key === reportedToParent && !milestone) return;
    reportedToParent = key;
    const report: WarmingChildStatus = {
      batchId: input.batchId,
      status,
      ...(waitingUntil !== undefined && !isTerminalStatus(status) ? { waitingUntilMs: waitingUntil, window: opts.schedulingWindow } : {}),
      completed: c.completed,
      failed: c.failed,
      ...(s.startedAtMs !== undefined && !isTerminalStatus(status) ? { estimatedCompletionMs: estimateCompletionMs(c, s.startedAtMs, Date.now()) } : {}),
    };
    // Best effort, to the job's current run (it may have continued as new); it re-reads outcomes from cache_warms anyway.
    void getExternalWorkflowHandle(parent.workflowId)
      .signal(warmingChildStatusSignal, report)
      .catch(() => undefined);
  }

  /** Sleeps until a scheduling window opens (or a signal / the deadline wakes us), shown as WAITING once started. */
  async function waitForWindow(untilMs: number): Promise<void> {
    waitingUntilMs = untilMs;
    explain(true);
    try {
      await waitFor(untilMs - Date.now(), `${opts.schedulingWindow} window opens`);
    } finally {
      waitingUntilMs = undefined;
      explain();
    }
  }

  function recordError(e: BatchErrorRecord): void {
    s.totalErrors += 1;
    s.recentErrors.push(e);
    if (s.recentErrors.length > RECENT_ERRORS) s.recentErrors.splice(0, s.recentErrors.length - RECENT_ERRORS);
    errorBuffer.push(e);
  }

  async function flushErrors(): Promise<void> {
    if (errorBuffer.length === 0 || !s.listRef) return;
    // Cleared only once stored: if the activity fails (or is cancelled), the errors stay for the next flush.
    const errors = errorBuffer.slice();
    await batchActs.recordMemberErrors({ batchId: input.batchId, listRef: s.listRef, errors });
    errorBuffer.splice(0, errors.length);
  }

  function emit(eventType: BatchEventName): void {
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
      status: currentStatus(),
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
    const n = opts.notifications;
    // Ordered per batch: each event waits for the previous one.
    eventChain = eventChain.then(async () => {
      try {
        await eventActs.publishBatchEvent({ topic: n.kafkaTopic, event });
      } catch (err) {
        log.warn('batch event could not be published to Kafka', { eventId: event.eventId, error: String(err) });
      }
      if (n.callbackUrl && eventPassesFilter(eventType, n.eventTypes)) {
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
                ...(tuning.webhookScheduleMs ? { scheduleMs: tuning.webhookScheduleMs } : {}),
              },
            ],
          });
        } catch (err) {
          // Already started by an earlier run (same deterministic id): nothing to do.
          log.info('webhook delivery not started', { eventId: event.eventId, error: String(err) });
        }
      }
    });
  }

  function maybeProgress(): void {
    explain();
    const m = progressMilestone(s.lastMilestone, percentDone(c), tuning.progressStepPercent);
    if (m !== null) {
      s.lastMilestone = m;
      explain(true);
      emit('PROGRESS');
    }
  }

  function armDeadline(): void {
    if (s.deadlineMs === undefined) return;
    const left = s.deadlineMs - Date.now();
    if (left <= 0) {
      timedOut = true;
      return;
    }
    // Not awaited on purpose: it only flips a flag. Cancelled with the workflow, hence the catch.
    sleep(left, explains ? { summary: 'batch timeout' } : undefined).then(
      () => {
        timedOut = true;
        wake++;
      },
      () => undefined,
    );
  }

  function markRunning(): void {
    if (s.startedAtMs !== undefined) return;
    s.startedAtMs = Date.now();
    s.deadlineMs = s.startedAtMs + opts.timeoutMs;
    s.phase = 'RUNNING';
    setStatus('RUNNING');
    if (explains) upsertSearchAttributes([{ key: RteBatchStartedAt, value: new Date(s.startedAtMs) }]);
    armDeadline();
    emit('STARTED');
  }

  async function waitFor(ms: number, summary?: string): Promise<void> {
    if (ms <= 0) return;
    const w = wake;
    if (explains && summary) await condition(() => wake !== w || stopRequested(), ms, { summary });
    else await condition(() => wake !== w || stopRequested(), ms);
  }

  async function waitWhilePaused(): Promise<void> {
    if (s.paused) await condition(() => !s.paused || stopRequested());
  }

  function shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= tuning.continueAsNewAfterEvents;
  }

  async function continueIfLong(): Promise<void> {
    if (!shouldContinueAsNew() || stopRequested()) return;
    await eventChain;
    await flushErrors();
    await condition(allHandlersFinished);
    await continueAsNew<typeof batchWorkflow>({ ...input, carry: s });
  }

  function plannedCounts(plan: { hits: number; hitErrors: number; notCached: number; refreshCount: number }): void {
    c.completed += plan.hits;
    c.failed += plan.hitErrors + plan.notCached;
    c.cacheHits += plan.hits + plan.hitErrors;
    // cache_misses are "members that needed a Stedi call": a CACHE_ONLY member with nothing cached made none (it is a
    // NOT_CACHED failure), so it is neither a miss nor, in the webhook/Kafka result, "cache_refreshed" (issue 10).
    c.cacheMisses += plan.refreshCount;
    // Errors of cache answers were stored by the activity; count them here.
    s.totalErrors += plan.hitErrors + plan.notCached;
  }

  // ---- phases -----------------------------------------------------------------------------------------------

  async function resolveQuery(): Promise<void> {
    if (input.selector.kind !== 'query') return;
    while (!stopRequested()) {
      const r = await batchActs.resolveQueryPage({
        batchId: input.batchId,
        listRef: s.listRef!,
        query: input.selector.query,
        ...(s.resolveCursor ? { cursor: s.resolveCursor } : {}),
        start: c.total,
        pageSize: tuning.resolvePageSize,
        maxMembers: MAX_MEMBERS,
      });
      if (r.exceeded) {
        throw ApplicationFailure.create({ type: ErrorType.MemberLimitExceeded, message: `member_query matches more than ${MAX_MEMBERS} members`, nonRetryable: true });
      }
      c.total += r.count;
      if (!r.nextCursor) break;
      s.resolveCursor = r.nextCursor;
    }
    s.resolveCursor = undefined;
    s.phase = 'WAITING_FOR_WINDOW';
  }

  async function decide(): Promise<void> {
    if (s.path) return;
    const load = await batchActs.getStediLoad();
    s.load = load.load;
    const d = decideStrategy({ requested: opts.strategy, size: c.total, priority: opts.priority, freeSlots: load.freeSlots, hour: new Date(Date.now()).getUTCHours() });
    s.path = d.path;
    s.strategyRule = d.rule;
    s.scheduleBaseMs = Date.now();
    upsertSearchAttributes([{ key: RteStrategy, value: d.path }]);
  }

  async function runOne(item: RefreshItem): Promise<void> {
    const t0 = Date.now();
    try {
      const r = await eligibility.refreshEligibility({
        memberId: item.memberId,
        operation,
        requester: input.warming ? { kind: 'warming', jobId: input.warming.jobId, priority: input.warming.priority } : { kind: 'batch', clientService: input.clientService, priority: opts.priority },
        source: input.warming ? 'warming' : 'batch',
        batchMember: { batchId: input.batchId, index: item.i },
      });
      // Only calls that reached Stedi (a refresh answered by a newer cache entry made none); results of older
      // activity versions lack the field and always called Stedi.
      c.stediRealtimeCalls += r.stediCalls ?? 1;
      c.durationMsSum += Date.now() - t0;
      c.durationCount += 1;
      if (r.outcome === 'success') c.completed += 1;
      else {
        c.failed += 1;
        recordError({ memberIndex: item.i, errorCode: PAYER_ERROR.code, errorMessage: PAYER_ERROR.message, occurredAtMs: Date.now() });
      }
    } catch (err) {
      if (isCancellation(err)) {
        c.cancelled += 1;
        return;
      }
      c.failed += 1;
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const type = cause instanceof ApplicationFailure && cause.type ? cause.type : undefined;
      // Platform codes only: a library's class name (e.g. MaxRetriesPerRequestError) is never shown to callers.
      const code = type ? platformErrorCode(type) : 'CHECK_FAILED';
      // A failure Stedi answered counts as a call; one that never reached it (member not in the directory, no
      // slot, worker lost) does not.
      if (type && STEDI_ANSWERED_FAILURE_TYPES.includes(type)) c.stediRealtimeCalls += 1;
      recordError({ memberIndex: item.i, errorCode: code, errorMessage: cause instanceof Error ? cause.message.slice(0, 500) : String(cause), occurredAtMs: Date.now() });
    } finally {
      maybeProgress();
    }
  }

  async function dispatchPage(items: RefreshItem[]): Promise<void> {
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
    const watcher = condition(() => stopRequested() || pageDone).then(() => {
      if (stopRequested()) scope.cancel();
    });
    for (const item of items) {
      // Pause holds new dispatches; checks already running finish.
      for (;;) {
        await waitWhilePaused();
        if (stopRequested()) break;
        if (item.atMs > Date.now()) {
          // Nothing in flight and the next member's window opens later: the batch is waiting, not running. With
          // checks still in flight, wait for them first (or the member), then look again.
          const long = explains && item.atMs - Date.now() > IDLE_WAIT_IS_WAITING_MS;
          if (long && inFlight === 0) await waitForWindow(item.atMs);
          else if (long) await condition(() => inFlight === 0 || stopRequested() || s.paused, item.atMs - Date.now(), { summary: 'checks in flight finish' });
          else await waitFor(item.atMs - Date.now(), 'next member due (spread within its window)');
          continue;
        }
        await condition(() => inFlight < dispatchCap || stopRequested() || s.paused);
        if (!s.paused) break;
      }
      if (stopRequested()) break;
      inFlight += 1;
      running.push(
        scope.run(() => runOne(item)).finally(() => {
          inFlight -= 1;
        }),
      );
    }
    await Promise.all(running);
    pageDone = true;
    await watcher;
  }

  async function runRealtime(): Promise<EndReason> {
    const total = c.total;
    while (s.nextIndex < total) {
      await waitWhilePaused();
      if (stopRequested()) break;
      const now = Date.now();
      if (s.nextPlanAtMs !== undefined && now < s.nextPlanAtMs) {
        await waitForWindow(s.nextPlanAtMs);
        continue;
      }
      const count = Math.min(tuning.realtimePageSize, total - s.nextIndex);
      const plan = await planPage(count, total, 'realtime');
      if (plan.kind === 'wait') {
        s.nextPlanAtMs = plan.notBeforeMs;
        s.scheduledStartMs ??= plan.notBeforeMs;
        continue;
      }
      s.nextPlanAtMs = undefined;
      markRunning();
      plannedCounts(plan);
      maybeProgress();
      await dispatchPage(plan.refresh ?? []);
      if (stopRequested()) break;
      s.nextIndex += count;
      await flushErrors();
      await continueIfLong();
    }
    return endReason();
  }

  /** Pre-flight cache lookup and scheduling for the next `count` members from `s.nextIndex`. */
  function planPage(count: number, total: number, mode: 'realtime' | 'batch') {
    return batchActs.planMembers({
      batchId: input.batchId,
      listRef: s.listRef!,
      start: s.nextIndex,
      count,
      total,
      cacheMode: opts.cacheMode,
      operation,
      window: opts.schedulingWindow,
      scheduleBaseMs: s.scheduleBaseMs!,
      nowMs: Date.now(),
      // A CACHE_ONLY batch makes no Stedi call: Stedi's load must not defer it (issue 10; patched for old histories).
      load: opts.cacheMode === 'CACHE_ONLY' && patched('rte-cache-only-ignores-stedi-load') ? 0 : windowLoad(opts.priority, s.load),
      mode,
    });
  }

  async function runBatchApi(): Promise<EndReason> {
    const total = c.total;
    for (;;) {
      if (stopRequested()) break;
      // Submit every chunk that is due.
      while (!stopRequested() && !s.paused && s.nextIndex < total && s.chunks.length < tuning.maxOutstandingChunks) {
        if (s.nextPlanAtMs !== undefined && Date.now() < s.nextPlanAtMs) break;
        const size = Math.min(tuning.batchChunkSize, total - s.nextIndex);
        const plan = await planPage(size, total, 'batch');
        if (plan.kind === 'wait') {
          s.nextPlanAtMs = plan.notBeforeMs;
          s.scheduledStartMs ??= plan.notBeforeMs;
          break;
        }
        s.nextPlanAtMs = undefined;
        markRunning();
        plannedCounts(plan);
        if (plan.refreshCount > 0) {
          const chunkNo = s.chunkSeq++;
          const sub = await stediBatchActs.submitStediChunk({
            batchId: input.batchId,
            chunkNo,
            listRef: s.listRef!,
            start: s.nextIndex,
            size,
            refreshBitmap: plan.refreshBitmap!,
            operation,
            maxRetryHours: tuning.stediMaxRetryHours,
            firstAttemptAtMs: Date.now(),
          });
          c.failed += sub.rejected;
          s.totalErrors += sub.rejected;
          if (sub.submittedCount > 0) {
            c.stediBatches += 1;
            c.stediBatchItems += sub.submittedCount;
            s.chunks.push({
              chunkNo,
              start: s.nextIndex,
              size,
              submitted: sub.submitted,
              submittedCount: sub.submittedCount,
              stediBatchId: sub.stediBatchId,
              seen: Bitmap.empty(size).encode(),
              seenCount: 0,
              pollAttempt: 0,
              nextPollAtMs: Date.now() + nextPollDelayMs(0, Date.now(), s.deadlineMs!, tuning.pollBackoff),
            });
          }
        }
        s.nextIndex += size;
        maybeProgress();
      }
      if (s.chunks.length === 0 && s.nextIndex >= total) break;

      // Sleep until the next poll or the next chunk's window (signals and the deadline wake us early).
      const wakeTimes = s.chunks.map((ch) => ch.nextPollAtMs);
      if (!s.paused && s.nextIndex < total && s.nextPlanAtMs !== undefined) wakeTimes.push(s.nextPlanAtMs);
      if (wakeTimes.length > 0) {
        const next = Math.min(...wakeTimes);
        if (s.chunks.length === 0 && next === s.nextPlanAtMs) await waitForWindow(next);
        else await waitFor(next - Date.now(), 'next Stedi batch poll');
      } else await condition(() => stopRequested() || !s.paused);
      if (stopRequested()) break;

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
          operation,
          ...(input.warming ? { warmJobId: input.warming.jobId } : {}),
        });
        c.completed += r.newCompleted;
        c.failed += r.newFailed + r.missing;
        s.totalErrors += r.newFailed + r.missing;
        ch.seen = r.seen;
        ch.seenCount = r.seenCount;
        ch.pollAttempt += 1;
        ch.nextPollAtMs = Date.now() + nextPollDelayMs(ch.pollAttempt, Date.now(), s.deadlineMs!, tuning.pollBackoff);
        if (r.done) s.chunks.splice(s.chunks.indexOf(ch), 1);
        maybeProgress();
      }
      await continueIfLong();
    }
    return endReason();
  }

  function endReason(): EndReason {
    if (s.cancel) return 'cancelled';
    if (timedOut) return 'timeout';
    return 'finished';
  }

  async function finish(reason: EndReason): Promise<BatchWorkflowResult> {
    s.phase = 'FINISHING';
    // Whatever was not processed will not be: abandoned Stedi chunks' unseen members and undispatched members.
    c.cancelled += pendingOf(c);
    s.chunks = [];
    if (reason === 'cancelled') failure ??= { code: 'CANCELLED', message: s.cancel?.reason ?? 'cancelled' };
    if (reason === 'timeout') failure ??= { code: 'TIMEOUT', message: `batch did not finish within its timeout of ${Math.round(opts.timeoutMs / 1000)} s` };
    // Errors (and the failed members' outcomes) are stored before the status turns final, so whoever sees
    // the final status also sees every error and every member outcome. Versioned: older runs flush after.
    const flushBeforeFinal = patched('flush-before-final-v1');
    if (flushBeforeFinal) await flushErrors();
    const status = terminalStatus(c, reason);
    setStatus(status);
    const finishedAtMs = Date.now();
    s.phase = 'DONE';
    finalView = { ...view(), finishedAtMs };
    delete finalView.estimatedCompletionMs;
    emit(status === 'COMPLETED' ? 'COMPLETED' : status === 'PARTIALLY_COMPLETED' ? 'PARTIALLY_COMPLETED' : status === 'CANCELLED' ? 'CANCELLED' : 'FAILED');
    await eventChain;
    if (!flushBeforeFinal) await flushErrors();
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

  if (s.deadlineMs !== undefined) armDeadline();
  if (s.status === 'PENDING' && input.carry === undefined) upsertSearchAttributes([{ key: RteBatchStatus, value: 'PENDING' }]);
  // A batchWorkflow started directly by another Temporal service (README contract) carries the same identity search
  // attributes as one started by SubmitBatch: set whichever the starter left out (issue 10).
  if (input.carry === undefined && patched('rte-batch-identity-search-attributes')) {
    const have = workflowInfo().typedSearchAttributes;
    const missing = [
      { key: RteClientService, value: input.clientService },
      { key: RteClientJobId, value: input.clientJobId },
      { key: RteJobType, value: BATCH_JOB_TYPE },
      { key: RtePriority, value: opts.priority },
    ].filter((u) => have.get(u.key) === undefined);
    if (missing.length > 0) upsertSearchAttributes(missing);
  }
  explain(input.carry === undefined);

  let reason: EndReason;
  try {
    if (s.phase === 'RESOLVING') await resolveQuery();
    await decide();
    reason = stopRequested() ? endReason() : s.path === 'REALTIME' ? await runRealtime() : await runBatchApi();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      // Temporal-level cancellation (e.g. `temporal workflow cancel`): same semantics as CancelBatch.
      s.cancel ??= { reason: 'workflow cancelled', atMs: Date.now() };
      reason = 'cancelled';
    } else {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      failure = {
        code: cause instanceof ApplicationFailure && cause.type ? cause.type : 'BATCH_ERROR',
        message: cause instanceof Error ? cause.message.slice(0, 500) : String(cause),
      };
      reason = 'error';
    }
  }
  return CancellationScope.nonCancellable(() => finish(reason));
}
