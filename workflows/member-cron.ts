import {
  ApplicationFailure,
  condition,
  continueAsNew,
  executeChild,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { MemberCronActivities } from '../activities/member-cron/activities';
import {
  addCounts,
  MEMBER_CRON_JOB_TYPE,
  MEMBER_CRON_WORKFLOW_TYPE,
  MEMBER_CRON_SHARD_WORKFLOW_TYPE,
  memberCronProgressQuery,
  memberCronPageRef,
  memberCronShardWorkflowId,
  pauseMemberCronSignal,
  resumeMemberCronSignal,
  ZERO_COUNTS,
  type MemberCronCarry,
  type MemberCronCounts,
  type MemberCronInput,
  type MemberCronProgress,
  type MemberCronResult,
  type MemberCronShardInput,
  type MemberCronStatus,
} from './member-cron.defs';
import { ignoredSignals, optionalStringArg } from './ignored-signals';
import { RteBatchStatus, RteJobType, RteScheduleName } from './search-attributes';
import { ErrorType } from '../lib/errors';

/** Set by Temporal Schedules on every workflow they start: the nominal (pre-jitter) tick time. */
const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

const DEFAULT_PAGES_PER_RUN = 50;
/** From this attempt on, the shard activity dead-letters events it still cannot publish. */
const DEAD_LETTER_AFTER_ATTEMPTS = 5;

const { memberCronIsEnabled, memberCronFetchPage, memberCronReleasePage } = proxyActivities<MemberCronActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

const { memberCronEmitShard } = proxyActivities<MemberCronActivities>({
  startToCloseTimeout: '10 minutes',
  // Rate-limiter waits and publishing heartbeat after every chunk.
  heartbeatTimeout: '1 minute',
  // Unlimited attempts: from DEAD_LETTER_AFTER_ATTEMPTS on the activity dead-letters instead of failing,
  // so the only way to keep retrying is the DLQ itself being unwritable (Kafka down): then waiting is right.
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: ['InvalidArgumentError'] },
});

function resolveScheduledTime(input: MemberCronInput): string {
  if (input.scheduledTime) return input.scheduledTime;
  const info = workflowInfo();
  const fromSchedule = info.typedSearchAttributes.get(TemporalScheduledStartTime);
  if (fromSchedule) return fromSchedule.toISOString();
  // Started by hand without a time: the run's own start time stands for the tick.
  return new Date(info.runStartTime.getTime()).toISOString();
}

/**
 * Scheduled member cron run: pages the schedule's MemberQuery through the directory (only ids and the
 * cursor enter history; since member-cron-page-refs-v1 not even those: pages are stored in PostgreSQL and referenced) and fans each page out to a child shard workflow with a deterministic id, with
 * at most `maxConcurrentShards` in flight; continues as new every `pagesPerRun` pages.
 */
export async function memberCronWorkflow(input: MemberCronInput): Promise<MemberCronResult> {
  const scheduledTime = resolveScheduledTime(input);
  const carry: MemberCronCarry = input.carry ?? { cursor: '', nextPage: 0, counts: ZERO_COUNTS, runs: 0 };
  let counts: MemberCronCounts = carry.counts;
  let pagesStarted = carry.nextPage;
  let pagesCompleted = carry.nextPage;
  let status: MemberCronStatus = 'RUNNING';
  // PAUSED as a status of its own (issue 15), like batches and warming jobs. Versioned: older runs never pause.
  const pausable = patched('member-cron-pause-v1');
  let paused = carry.paused;
  const shownStatus = (): MemberCronStatus => (status === 'RUNNING' && paused ? 'PAUSED' : status);
  const progress = (): MemberCronProgress => ({
    ...counts,
    scheduleName: input.scheduleName,
    scheduledTime,
    status: shownStatus(),
    pagesStarted,
    pagesCompleted,
    runs: carry.runs + 1,
    ...(paused?.by ? { pausedBy: paused.by } : {}),
  });
  setHandler(memberCronProgressQuery, progress);
  // Web UI current details (workflow memory, answered by a query; no history events).
  const explain = () => {
    const p = progress();
    const n = (x: number) => x.toLocaleString('en-US');
    const who = p.status === 'PAUSED' ? `${p.pausedBy ? ` by ${p.pausedBy}` : ''} (resume with signal resumeMemberCron)` : '';
    setCurrentDetails(
      `${p.status}${who} · ${input.scheduleName} tick ${p.scheduledTime} · pages ${p.pagesCompleted} / ${p.pagesStarted} started · ` +
        `${n(p.scanned)} scanned · ${n(p.matched)} matched · ${n(p.emitted)} emitted · ${n(p.duplicates)} duplicates · ${n(p.deadLettered)} dead-lettered`,
    );
  };
  explain();
  upsertSearchAttributes([
    { key: RteScheduleName, value: input.scheduleName },
    { key: RteJobType, value: MEMBER_CRON_JOB_TYPE },
    { key: RteBatchStatus, value: shownStatus() },
  ]);
  const ignored = ignoredSignals(MEMBER_CRON_WORKFLOW_TYPE);
  if (pausable) {
    setHandler(pauseMemberCronSignal, (args) => {
      const by = optionalStringArg(ignored, pauseMemberCronSignal.name, args, 'by', 100);
      if (paused || status !== 'RUNNING') return;
      paused = by ? { by } : {};
      upsertSearchAttributes([{ key: RteBatchStatus, value: shownStatus() }]);
      explain();
    });
    setHandler(resumeMemberCronSignal, () => {
      if (!paused) return;
      paused = undefined;
      if (status === 'RUNNING') upsertSearchAttributes([{ key: RteBatchStatus, value: shownStatus() }]);
      explain();
    });
  }
  // After every signal handler: a signal by another name (a typo, or a pause of a run that cannot pause) is logged and
  // listed by the ignoredSignals query.
  ignored.watchUnknown(pausable ? [pauseMemberCronSignal.name, resumeMemberCronSignal.name] : []);

  if (!input.carry && !(await memberCronIsEnabled({ scheduleName: input.scheduleName }))) {
    status = 'DISABLED';
    upsertSearchAttributes([{ key: RteBatchStatus, value: status }]);
    log.info('member cron schedule disabled by feature flag', { schedule: input.scheduleName });
    return progress();
  }

  const pagesPerRun = input.pagesPerRun ?? DEFAULT_PAGES_PER_RUN;
  const maxInFlight = Math.max(1, input.maxConcurrentShards);
  const inFlight = new Map<number, Promise<void>>();
  let cursor = carry.cursor;
  let exhausted = false;
  let pagesThisRun = 0;

  // Pages travel as references to their stored member lists (issue 13: no member id, nor a directory cursor that
  // encodes one, in history). Versioned: older runs keep passing ids and cursors.
  const pageRefs = patched('member-cron-page-refs-v1');
  const firstRunId = workflowInfo().firstExecutionRunId;
  let cursorStored = carry.cursorStored === true;

  const startShard = (page: number, members: Pick<MemberCronShardInput, 'memberIds' | 'pageRef' | 'count'>): Promise<void> => {
    const shard: MemberCronShardInput = {
      scheduleName: input.scheduleName,
      cronExpression: input.cronExpression,
      scheduledTime,
      page,
      ...members,
    };
    return executeChild(memberCronShardWorkflow, {
      workflowId: memberCronShardWorkflowId(input.scheduleName, scheduledTime, page),
      args: [shard],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: [
        { key: RteScheduleName, value: input.scheduleName },
        { key: RteJobType, value: MEMBER_CRON_JOB_TYPE },
      ],
    }).then(
      (r) => {
        // The parent counts `scanned` when it fetches the page.
        counts = addCounts(counts, { ...r, scanned: 0 });
        pagesCompleted++;
        explain();
      },
      (err: unknown) => {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          // Another run of the same tick is working on this page right now; it owns the page.
          log.warn('shard already running in another run of this tick', { page });
          pagesCompleted++;
          return;
        }
        throw err;
      },
    );
  };

  while (!exhausted && pagesThisRun < pagesPerRun) {
    if (paused) await condition(() => paused === undefined);
    let found: number;
    let members: Pick<MemberCronShardInput, 'memberIds' | 'pageRef' | 'count'>;
    if (pageRefs) {
      const pageRef = memberCronPageRef(firstRunId, pagesStarted);
      const page = await memberCronFetchPage({
        memberQuery: input.memberQuery,
        pageSize: input.pageSize,
        pageRef,
        nextPageRef: memberCronPageRef(firstRunId, pagesStarted + 1),
        ...(cursorStored ? { cursorStored: true } : cursor !== '' ? { cursor } : {}),
      });
      found = page.count;
      members = { pageRef, count: page.count };
      cursor = '';
      cursorStored = page.more;
      exhausted = !page.more;
    } else {
      const page = await memberCronFetchPage({ memberQuery: input.memberQuery, cursor, pageSize: input.pageSize });
      found = page.memberIds.length;
      members = { memberIds: page.memberIds };
      cursor = page.nextCursor;
      exhausted = cursor === '';
    }
    pagesThisRun++;
    counts = addCounts(counts, { ...ZERO_COUNTS, scanned: found });
    explain();
    if (found > 0) {
      const pageNo = pagesStarted++;
      const p = startShard(pageNo, members).finally(() => inFlight.delete(pageNo));
      inFlight.set(pageNo, p);
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight.values());
    }
  }
  await Promise.all(inFlight.values());

  if (!exhausted) {
    await continueAsNew<typeof memberCronWorkflow>({
      ...input,
      scheduledTime,
      carry: { cursor, nextPage: pagesStarted, counts, runs: carry.runs + 1, ...(cursorStored ? { cursorStored } : {}), ...(paused ? { paused } : {}) },
    });
  }
  status = 'COMPLETED';
  upsertSearchAttributes([{ key: RteBatchStatus, value: status }]);
  explain();
  log.info('member cron run completed', { ...progress() });
  return progress();
}

/** One page of members: predict and emit their events (see memberCronEmitShard). */
export async function memberCronShardWorkflow(input: MemberCronShardInput): Promise<MemberCronCounts> {
  ignoredSignals(MEMBER_CRON_SHARD_WORKFLOW_TYPE).watchUnknown([]);
  // Shards started before member-cron-page-refs-v1 carry the ids; newer ones a reference to the stored page.
  if ((input.memberIds?.length ?? input.count ?? 0) === 0) return ZERO_COUNTS;
  if (!input.scheduledTime) throw ApplicationFailure.nonRetryable('scheduledTime is required', ErrorType.InvalidArgument);
  const counts = await memberCronEmitShard({ ...input, deadLetterAfterAttempts: DEAD_LETTER_AFTER_ATTEMPTS });
  // The page's ids are no longer needed (a rerun of the tick is a new run with its own pages).
  if (input.pageRef !== undefined) await memberCronReleasePage({ pageRef: input.pageRef });
  return counts;
}
