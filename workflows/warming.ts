import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  ContinueAsNew,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  TerminatedFailure,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities/batch/activities';
import type { FinalizeWarmPageInput, WarmGroup, WarmingActivities } from '../activities/warming/activities';
import { batchSummary } from '../lib/batch/details';
import { batchPriorityFor } from '../lib/warming/decide';
import { warmingDetails, warmsCancelled } from '../lib/warming/details';
import { CACHE_WARMING_JOB_TYPE, type WarmOutcome } from '../lib/warming/types';
import { NON_RETRYABLE_ERROR_TYPES } from '../lib/errors';
import type { batchWorkflow } from './batch';
import { ignoredSignals, optionalStringArg } from './ignored-signals';
import { cancelBatchSignal, pauseBatchSignal, resumeBatchSignal, validateCancelBatchArgs, type BatchWorkflowInput } from './batch.defs';
import { RteBatchProgress, RteBatchStatus, RteClientJobId, RteClientService, RteJobType, RtePriority, RteStrategy, RteWarmingSource } from './search-attributes';
import {
  cancelWarmingUpdate,
  DEFAULT_WARMING_TUNING,
  CACHE_WARMING_WORKFLOW_TYPE,
  pauseWarmingSignal,
  resumeWarmingSignal,
  WARMING_CLIENT_SERVICE,
  warmingAcceptedUpdate,
  warmingChildStatusSignal,
  warmingStatusQuery,
  type CacheWarmingWorkflowInput,
  type WarmingChildStatus,
  type WarmingCarryState,
  type WarmingStatusName,
  type WarmingStatusView,
} from './warming.defs';

const WARMING_EVENTS_TOPIC = 'domain.rte.v1.cache_warming_events';
const BATCH_EVENTS_TOPIC = 'domain.rte.v1.batch_job_events';

const acts = proxyActivities<WarmingActivities & Pick<BatchActivities, 'resolveQueryPage'>>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
});
// Kafka can be down for a while: retry, then carry on (warming must not stall on notifications).
const eventActs = proxyActivities<WarmingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

const emptyOutcomes = (): Record<WarmOutcome, number> => ({ pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0 });

function initialState(input: CacheWarmingWorkflowInput): WarmingCarryState {
  const list = input.selector.kind === 'list' ? input.selector : undefined;
  return {
    phase: 'WAITING',
    status: 'PENDING',
    counters: { members: list?.total ?? 0, membersPlanned: 0, membersSkipped: 0, realtime: 0, batchApi: 0, outcomes: emptyOutcomes() },
    listRef: list ? list.listRef : `${input.jobId}#query`,
    nextIndex: 0,
    page: 0,
    paused: false,
    firstPlanned: false,
    runs: 0,
  };
}

/**
 * One cache-warming job (design doc Component 4): hold until notBefore, resolve the members, then page by page one
 * bulk cache read and the strategy decision per member × operation (lib/warming/decide.ts), and the fetches run as
 * child batch workflows (real-time through the slot pool's `warming` class, or Stedi's batch API with its durable
 * polling; BACKGROUND children wait for the LOW_UTILIZATION window). Outcomes are recorded in cache_warms by the
 * activities that write the cache; this workflow only carries counts.
 */
export async function cacheWarmingWorkflow(rawInput: CacheWarmingWorkflowInput): Promise<WarmingStatusView> {
  // A Temporal Schedule cannot know the id it starts (it appends the scheduled time): default to our own id / now.
  const input: CacheWarmingWorkflowInput & { jobId: string; acceptedAtMs: number } = {
    ...rawInput,
    jobId: rawInput.jobId || workflowInfo().workflowId,
    acceptedAtMs: rawInput.acceptedAtMs ?? Date.now(),
  };
  const tuning = { ...DEFAULT_WARMING_TUNING, ...input.tuning };
  const s = input.carry ?? initialState(input);
  s.runs += 1;
  const c = s.counters;
  const children = new Map<string, ChildWorkflowHandle<typeof batchWorkflow>>();
  let finalView: WarmingStatusView | undefined;
  let failure: { code: string; message: string } | undefined;
  /** True while the job waits for notBefore (warmingAccepted answers then: nothing is decided before it). */
  let holding = false;
  const stopRequested = () => s.cancel !== undefined;
  // Jobs that explain themselves (issue 15): WAITING / PAUSED statuses, Web UI current details, RteBatchProgress.
  // Versioned: jobs started before this change replay their old commands.
  const explains = patched('warming-explains-itself-v1');
  /** Running children's last reports (warmingChildStatus). */
  const childStatus = new Map<string, WarmingChildStatus>();
  let pausedBy: string | undefined;
  /** Set by finish() before the terminal status is shown, so a query never sees an ended job without its end time. */
  let finishedAtMs: number | undefined;
  let shownStatus: WarmingStatusName = (workflowInfo().typedSearchAttributes.get(RteBatchStatus) as WarmingStatusName | undefined) ?? s.status;

  /** The status operators see: PAUSED and WAITING refine an open job's PENDING / RUNNING (s.status stays as it was). */
  function currentStatus(): WarmingStatusName {
    if (!explains || s.phase === 'DONE' || finalView || (s.status !== 'PENDING' && s.status !== 'RUNNING')) return s.status;
    if (s.paused) return 'PAUSED';
    if (s.status === 'RUNNING' && waitingUntil() !== undefined) return 'WAITING';
    return s.status;
  }

  /** While held: notBefore. While running: when the earliest child window opens, if every running child waits. */
  function waitingUntil(): number | undefined {
    if (holding) return input.notBeforeMs;
    if (s.status !== 'RUNNING' || children.size === 0) return undefined;
    let earliest: number | undefined;
    for (const id of children.keys()) {
      const r = childStatus.get(id);
      if (r?.waitingUntilMs === undefined || r.status === 'RUNNING' || r.status === 'PAUSED') return undefined;
      earliest = earliest === undefined ? r.waitingUntilMs : Math.min(earliest, r.waitingUntilMs);
    }
    return earliest;
  }

  /** While WAITING: whether a waiting child was deferred by Stedi's slot load (it may start before waitingUntil). */
  function waitingDeferredByLoad(): boolean {
    if (holding || waitingUntil() === undefined) return false;
    return [...children.keys()].some((id) => childStatus.get(id)?.deferredByLoad === true);
  }

  /** Why the job waits (the earliest waiting child's window; Stedi's load when a waiting child was deferred by it). */
  function waitingCause(): { window?: string; deferredByLoad?: true } {
    const until = waitingUntil();
    const first = [...children.keys()].map((id) => childStatus.get(id)).find((r) => r?.waitingUntilMs === until);
    return { ...(first?.window ? { window: first.window } : {}), ...(waitingDeferredByLoad() ? { deferredByLoad: true as const } : {}) };
  }

  /** Publishes the shown status (RteBatchStatus, RteBatchProgress on changes / pages) and the Web UI's current details. */
  function explain(progressed = false): void {
    if (!explains) return;
    const status = currentStatus();
    const reports = [...children.keys()].map((id) => childStatus.get(id)).filter((r): r is WarmingChildStatus => r !== undefined);
    const until = waitingUntil();
    const etas = reports.map((r) => r.estimatedCompletionMs).filter((x): x is number => x !== undefined);
    const details = (live: boolean) =>
      warmingDetails(
        {
          status,
          priority: input.priority,
          members: c.members,
          membersPlanned: c.membersPlanned,
          membersSkipped: c.membersSkipped,
          realtime: c.realtime,
          batchApi: c.batchApi,
          outcomes: c.outcomes,
          inFlightCompleted: reports.reduce((x, r) => x + r.completed, 0),
          inFlightFailed: reports.reduce((x, r) => x + r.failed, 0),
          resolving: s.phase === 'RESOLVING',
          ...(until !== undefined ? { waitingUntilMs: until } : {}),
          ...(reports[0]?.window ? { window: reports[0].window } : {}),
          ...(waitingDeferredByLoad() ? { deferredByLoad: true } : {}),
          ...(live && etas.length > 0 && status === 'RUNNING' ? { estimatedCompletionMs: Math.max(...etas) } : {}),
          ...(pausedBy ? { pausedBy } : {}),
          ...(failure ? { failure } : {}),
        },
        Date.now(),
      );
    if (status !== shownStatus || progressed) {
      shownStatus = status;
      upsertSearchAttributes([
        { key: RteBatchStatus, value: status },
        { key: RteBatchProgress, value: details(false) },
      ]);
    }
    setCurrentDetails(details(true));
  }

  function view(): WarmingStatusView {
    return {
      jobId: input.jobId,
      source: input.source,
      priority: input.priority,
      strategy: input.strategy,
      operations: input.operations,
      status: currentStatus(),
      phase: s.phase,
      paused: s.paused,
      counters: { ...c, outcomes: { ...c.outcomes } },
      firstPlanned: s.firstPlanned,
      acceptedAtMs: input.acceptedAtMs,
      ...(input.notBeforeMs !== undefined ? { notBeforeMs: input.notBeforeMs } : {}),
      ...(s.startedAtMs !== undefined ? { startedAtMs: s.startedAtMs } : {}),
      ...(s.freeSlots !== undefined ? { freeSlots: s.freeSlots } : {}),
      ...(s.realtimeDeferredUntilMs !== undefined ? { realtimeDeferredUntilMs: s.realtimeDeferredUntilMs } : {}),
      ...(s.batchApiStartsAtMs !== undefined ? { batchApiStartsAtMs: s.batchApiStartsAtMs } : {}),
      children: [...children.keys()],
      ...(explains && waitingUntil() !== undefined ? { waitingUntilMs: waitingUntil() } : {}),
      ...(explains && !holding && waitingUntil() !== undefined ? waitingCause() : {}),
      ...(pausedBy ? { pausedBy } : {}),
      ...(failure ? { failure } : {}),
      ...(s.cancel ? { cancel: { ...s.cancel } } : {}),
      ...(finishedAtMs !== undefined ? { finishedAtMs } : {}),
    };
  }

  const ignored = ignoredSignals(CACHE_WARMING_WORKFLOW_TYPE);
  setHandler(warmingStatusQuery, () => finalView ?? view());
  setHandler(pauseWarmingSignal, (args) => {
    const by = optionalStringArg(ignored, pauseWarmingSignal.name, args, 'by', 100);
    if (finalView || s.paused) return;
    s.paused = true;
    if (by) pausedBy = by;
    for (const h of children.values()) void h.signal(pauseBatchSignal).catch(() => undefined);
    explain();
  });
  setHandler(resumeWarmingSignal, () => {
    if (!s.paused) return;
    s.paused = false;
    pausedBy = undefined;
    for (const h of children.values()) void h.signal(resumeBatchSignal).catch(() => undefined);
    explain();
  });
  setHandler(warmingChildStatusSignal, (r) => {
    if (!children.has(r.batchId) || finalView) return;
    childStatus.set(r.batchId, r);
    // Children report on status changes and progress milestones only: refresh the list column with them.
    explain(true);
  });
  setHandler(
    cancelWarmingUpdate,
    async (args) => {
      if (!finalView) {
        s.cancel ??= { reason: args?.reason?.trim() || 'no reason given', atMs: Date.now() };
        for (const h of children.values()) void h.signal(cancelBatchSignal, { reason: s.cancel.reason }).catch(() => undefined);
      }
      await condition(() => finalView !== undefined);
      return finalView!;
    },
    {
      // The batch's rules for the arguments (an object, only `reason`, a string of at most 500 characters); a job
      // that already finished refuses with its final status instead of answering as if it had been cancelled now.
      validator: (args) => {
        validateCancelBatchArgs(args);
        if (finalView) throw ApplicationFailure.nonRetryable(`warming job already finished (${finalView.status}): nothing to cancel`, 'FailedPrecondition');
      },
    },
  );
  setHandler(
    warmingAcceptedUpdate,
    async () => {
      await condition(() => s.firstPlanned || holding || finalView !== undefined || (s.phase === 'RUNNING' && c.members === 0));
      return finalView ?? view();
    },
    { validator: () => undefined },
  );
  // After every signal handler: a signal by another name (a typo) is logged and listed by the ignoredSignals query.
  ignored.watchUnknown([pauseWarmingSignal.name, resumeWarmingSignal.name, warmingChildStatusSignal.name]);

  function setStatus(status: WarmingStatusName): void {
    if (s.status === status) return;
    s.status = status;
    if (explains) return explain();
    upsertSearchAttributes([{ key: RteBatchStatus, value: status }]);
  }

  async function emit(eventType: 'QUEUED' | 'COMPLETED' | 'FAILED' | 'CANCELLED', extra: { durationMs?: number; errorMessage?: string; membersCancelled?: number } = {}): Promise<void> {
    const o = c.outcomes;
    try {
      await eventActs.publishWarmingEvent({
        topic: input.warmingEventsTopic ?? WARMING_EVENTS_TOPIC,
        eventId: `${input.jobId}#${eventType}`,
        eventType,
        jobId: input.jobId,
        source: input.source,
        ...(input.scheduleName ? { scheduleName: input.scheduleName } : {}),
        strategy: input.strategy,
        priority: input.priority,
        operations: input.operations,
        membersRequested: c.members,
        membersWarmed: o.warmed,
        membersSkipped: c.membersSkipped,
        membersFailed: o.failed,
        occurredAtMs: Date.now(),
        ...extra,
      });
    } catch (err) {
      log.warn('cache warming event could not be published', { jobId: input.jobId, eventType, error: String(err) });
    }
  }

  async function jobRecord(finishedAtMs?: number): Promise<void> {
    // Why it ended, for GetWarmingJob when the workflow cannot be asked (activity input only: replay-safe).
    const reason = failure ? `${failure.code}: ${failure.message}` : s.cancel && finishedAtMs !== undefined ? `cancelled: ${s.cancel.reason}` : undefined;
    await acts.warmingUpsertJob({
      jobId: input.jobId,
      source: input.source,
      priority: input.priority,
      strategy: input.strategy,
      status: s.status === 'PENDING' ? 'WAITING' : s.status === 'WAITING' || s.status === 'PAUSED' ? 'RUNNING' : s.status,
      createdAtMs: input.acceptedAtMs,
      ...(finishedAtMs !== undefined ? { finishedAtMs } : {}),
      ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}),
      ...(reason ? { reason } : {}),
      ...(input.selector.kind === 'list' || s.phase !== 'WAITING' ? { members: c.members } : {}),
      operations: input.operations,
      ...(s.startedAtMs !== undefined ? { startedAtMs: s.startedAtMs } : {}),
    });
  }

  async function holdUntilNotBefore(): Promise<void> {
    const wait = (input.notBeforeMs ?? 0) - Date.now();
    if (wait <= 0) return;
    holding = true;
    explain(true);
    const scope = new CancellationScope();
    const timer = scope.run(() => sleep(wait, { summary: 'warming: hold until notBefore' }));
    await Promise.race([timer.catch(() => undefined), condition(stopRequested)]);
    if (stopRequested()) scope.cancel();
    holding = false;
    explain();
  }

  async function resolveQuery(): Promise<void> {
    if (input.selector.kind !== 'query') return;
    s.phase = 'RESOLVING';
    explain();
    while (!stopRequested()) {
      const r = await acts.resolveQueryPage({
        batchId: input.jobId,
        listRef: s.listRef,
        query: input.selector.query,
        ...(s.resolveCursor ? { cursor: s.resolveCursor } : {}),
        start: c.members,
        pageSize: tuning.resolvePageSize,
        maxMembers: tuning.maxMembers,
      });
      if (r.exceeded) throw ApplicationFailure.create({ type: 'MemberLimitExceeded', message: `member_query matches more than ${tuning.maxMembers} members`, nonRetryable: true });
      c.members += r.count;
      if (!r.nextCursor) break;
      s.resolveCursor = r.nextCursor;
    }
    s.resolveCursor = undefined;
  }

  function childInput(g: WarmGroup, childId: string): BatchWorkflowInput {
    const realtime = g.path === 'realtime';
    return {
      batchId: childId,
      clientService: WARMING_CLIENT_SERVICE,
      clientJobId: childId.slice(input.jobId.length + 1).replace(/\//g, '-'),
      submittedAtMs: Date.now(),
      selector: { kind: 'list', listRef: g.listRef, total: g.count },
      options: {
        priority: batchPriorityFor(input.priority),
        strategy: realtime ? 'REALTIME_ONLY' : 'BATCH_ONLY',
        schedulingWindow: !realtime && input.priority === 'BACKGROUND' ? 'LOW_UTILIZATION' : 'ANY',
        maxConcurrentRequests: 15,
        timeoutMs: tuning.childTimeoutMs,
        retry: { maxAttempts: 5, initialIntervalMs: 1_000, maxIntervalMs: 60_000, backoffMultiplier: 2 },
        notifications: { kafkaTopic: input.batchEventsTopic ?? BATCH_EVENTS_TOPIC, eventTypes: [], deliveryMode: 'BEST_EFFORT' },
        // The warming decision already looked at the cache: the child fetches every member it is given.
        cacheMode: 'BYPASS_CACHE',
      },
      operation: g.operation,
      jobType: CACHE_WARMING_JOB_TYPE,
      warming: { jobId: input.jobId, priority: input.priority },
      ...(tuning.batch ? { tuning: tuning.batch } : {}),
    };
  }

  async function runGroups(groups: WarmGroup[]): Promise<FinalizeWarmPageInput['children']> {
    const started = await Promise.all(
      groups
        .filter((g) => g.count > 0)
        .map(async (g) => {
          const childId = `${input.jobId}/p${s.page}/${g.operation}/${g.path}`;
          const childArgs = childInput(g, childId);
          const h = await startChild<typeof batchWorkflow>('batchWorkflow', {
            workflowId: childId,
            args: [childArgs],
            ...(explains
              ? {
                  staticSummary: `${batchSummary({ clientService: WARMING_CLIENT_SERVICE, clientJobId: childArgs.clientJobId, totalMembers: g.count, strategy: childArgs.options.strategy, priority: childArgs.options.priority, window: childArgs.options.schedulingWindow })} · for ${input.jobId}`,
                }
              : {}),
            parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
            typedSearchAttributes: [
              { key: RteBatchStatus, value: 'PENDING' },
              { key: RteClientService, value: WARMING_CLIENT_SERVICE },
              { key: RteClientJobId, value: input.jobId },
              { key: RtePriority, value: batchPriorityFor(input.priority) },
              { key: RteStrategy, value: g.path === 'realtime' ? 'REALTIME_ONLY' : 'BATCH_ONLY' },
              { key: RteJobType, value: CACHE_WARMING_JOB_TYPE },
              { key: RteWarmingSource, value: input.source },
            ],
          });
          children.set(childId, h);
          if (s.paused) void h.signal(pauseBatchSignal).catch(() => undefined);
          if (s.cancel) void h.signal(cancelBatchSignal, { reason: s.cancel.reason }).catch(() => undefined);
          return { g, childId, h };
        }),
    );
    const results = await Promise.all(
      started.map(async ({ g, childId, h }) => {
        try {
          const r = await h.result();
          return { batchId: childId, operation: g.operation, path: g.path, status: r.status, ...(r.failure ? { failure: `${r.failure.code}: ${r.failure.message}` } : {}) };
        } catch (err) {
          const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
          // A terminated child reaches us as a bare "Terminated" (its reason is in its own history only): flagged, so
          // finalizeWarmPage reads the operator's reason. Data only: the commands are unchanged.
          return {
            batchId: childId,
            operation: g.operation,
            path: g.path,
            status: 'FAILED',
            failure: cause instanceof Error ? cause.message.slice(0, 500) : String(cause),
            ...(cause instanceof TerminatedFailure ? { terminated: true } : {}),
          };
        } finally {
          children.delete(childId);
          childStatus.delete(childId);
        }
      }),
    );
    return results;
  }

  function shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= tuning.continueAsNewAfterEvents;
  }

  async function runPages(): Promise<void> {
    while (s.nextIndex < c.members && !stopRequested()) {
      if (s.paused) await condition(() => !s.paused || stopRequested());
      if (stopRequested()) break;
      const count = Math.min(tuning.pageSize, c.members - s.nextIndex);
      const plan = await acts.planWarmingPage({
        jobId: input.jobId,
        source: input.source,
        priority: input.priority,
        strategy: input.strategy,
        operations: input.operations,
        listRef: s.listRef,
        page: s.page,
        start: s.nextIndex,
        count,
        acceptedAtMs: input.acceptedAtMs,
        ...(input.notBeforeMs !== undefined ? { notBeforeMs: input.notBeforeMs } : {}),
        ...(input.horizonUntilMs !== undefined ? { horizonUntilMs: input.horizonUntilMs } : {}),
      });
      c.membersPlanned += plan.members;
      c.membersSkipped += plan.membersSkipped;
      c.realtime += plan.entries.realtime;
      c.batchApi += plan.entries.batchApi;
      if (plan.freeSlots !== undefined) s.freeSlots ??= plan.freeSlots;
      if (s.page === 0 && plan.realtimeDeferredUntilMs !== undefined) s.realtimeDeferredUntilMs ??= plan.realtimeDeferredUntilMs;
      if (s.page === 0 && plan.batchApiStartsAtMs !== undefined) s.batchApiStartsAtMs ??= plan.batchApiStartsAtMs;
      s.firstPlanned = true;
      explain(true);
      const results = await runGroups(plan.groups);
      c.outcomes = await acts.finalizeWarmPage({ jobId: input.jobId, listRef: s.listRef, start: s.nextIndex, count, operations: input.operations, children: results });
      s.nextIndex += count;
      s.page += 1;
      explain(true);
      if (s.nextIndex < c.members && shouldContinueAsNew() && !stopRequested()) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof cacheWarmingWorkflow>({ ...input, carry: s });
      }
    }
  }

  function terminal(): WarmingStatusName {
    if (failure) return 'FAILED';
    const o = c.outcomes;
    if (s.cancel) return 'CANCELLED';
    if (o.failed === 0 && o.cancelled === 0) return 'COMPLETED';
    if (o.warmed + o.skipped_fresh + o.skipped_cached === 0) return 'FAILED';
    return 'PARTIALLY_COMPLETED';
  }

  async function finish(): Promise<WarmingStatusView> {
    try {
      c.outcomes =
        s.cancel || failure
          ? await acts.settleWarmingJob({
              jobId: input.jobId,
              outcome: failure ? 'failed' : 'cancelled',
              reason: failure ? `${failure.code}: ${failure.message}` : `cancelled: ${s.cancel!.reason}`,
            })
          : await acts.warmingCounts({ jobId: input.jobId });
    } catch (err) {
      log.warn('warming counts not read', { error: String(err) });
    }
    const status = terminal();
    // The end time first: setStatus makes warmingStatus answer the terminal status at once, while the record, the
    // event and the list release below still run (seconds under load). Same workflow task, so Date.now() and the
    // commands are as before (no patch needed).
    const endedAtMs = Date.now();
    finishedAtMs = endedAtMs;
    setStatus(status);
    s.phase = 'DONE';
    await jobRecord(endedAtMs);
    const v = view();
    // A cancelled job is published as CANCELLED with what it left undone (warming #8). Versioned: a cancelled job
    // recorded before this change replays its COMPLETED event (its event id `<job>#COMPLETED` is in its history).
    const cancelledEvent = status === 'CANCELLED' && patched('warming-cancelled-event-v1');
    await emit(status === 'FAILED' ? 'FAILED' : cancelledEvent ? 'CANCELLED' : 'COMPLETED', {
      durationMs: endedAtMs - (s.startedAtMs ?? input.acceptedAtMs),
      ...(failure ? { errorMessage: `${failure.code}: ${failure.message}` } : status === 'CANCELLED' ? { errorMessage: `cancelled: ${s.cancel?.reason ?? ''}` } : {}),
      ...(cancelledEvent ? { membersCancelled: warmsCancelled(c, input.operations.length) } : {}),
    });
    try {
      await acts.releaseWarmingList({ listRef: s.listRef });
    } catch (err) {
      log.warn('warming member list not released', { error: String(err) });
    }
    finalView = v;
    await condition(allHandlersFinished);
    return v;
  }

  try {
    if (input.carry !== undefined) explain();
    if (input.carry === undefined) {
      // Set here too, so jobs started without them (e.g. by a Schedule action) are still typed.
      upsertSearchAttributes([
        { key: RteJobType, value: CACHE_WARMING_JOB_TYPE },
        { key: RteWarmingSource, value: input.source },
        { key: RtePriority, value: input.priority },
        { key: RteStrategy, value: input.strategy },
        { key: RteBatchStatus, value: s.status },
      ]);
      explain();
      await jobRecord();
      await emit('QUEUED');
      await holdUntilNotBefore();
      if (!stopRequested()) {
        await resolveQuery();
        s.phase = 'RUNNING';
        s.startedAtMs = Date.now();
        setStatus('RUNNING');
        await jobRecord();
      }
    }
    await runPages();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      s.cancel ??= { reason: 'workflow cancelled', atMs: Date.now() };
    } else {
      const cause = err instanceof ActivityFailure ? err.cause : err;
      failure = {
        code: cause instanceof ApplicationFailure && cause.type ? cause.type : 'WARMING_ERROR',
        message: cause instanceof Error ? cause.message.slice(0, 500) : String(cause),
      };
    }
  }
  return CancellationScope.nonCancellable(() => finish());
}
