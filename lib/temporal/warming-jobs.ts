/**
 * The Temporal-client side of the cache-warming contract (workflows/warming.defs.ts): starting or joining a
 * cacheWarmingWorkflow, for the API's WarmCache and the worker's member-cron consumer (the WarmingIntake port).
 * Client plumbing like ./connect.ts, not an activity: activities never start workflows.
 */
import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { resolveOperations } from '../warming/decide';
import { cacheOperationOf } from '../operations';
import { warmingSummary } from '../warming/details';
import { CACHE_WARMING_JOB_TYPE, type WarmingIntake, type WarmingIntakeRequest, type WarmingIntakeResult, type WarmingPriority, type WarmingStrategyName } from '../warming/types';
import { RteBatchStatus, RteJobType, RtePriority, RteStrategy, RteWarmingSource } from '../../workflows/search-attributes';
import { realtimeChunkTuning } from '../../workflows/batch.defs';
import {
  CACHE_WARMING_WORKFLOW_TYPE,
  warmingMemberListRef,
  warmingWorkflowId,
  type CacheWarmingWorkflowInput,
  type WarmingTuning,
} from '../../workflows/warming.defs';
import type { MemberListStore } from '../../activities/batch/ports';
import type { AppConfig } from '../config';

const PRIORITIES: readonly WarmingPriority[] = ['URGENT', 'PRELOAD', 'BACKGROUND'];
const STRATEGIES: readonly WarmingStrategyName[] = ['INTELLIGENT', 'FORCE', 'FILL_ONLY'];

/**
 * The warming tuning every job start uses (WarmCache, warming schedules, the member-cron intake): paging
 * (WARMING_PAGE_SIZE, WARMING_CONTINUE_AS_NEW_AFTER_EVENTS) and the child batches' Stedi batch-API polling
 * (BATCH_POLL_INITIAL_MS / BATCH_POLL_MAX_MS, as SubmitBatch's batches).
 */
export function warmingTuningFromConfig(config: Pick<AppConfig, 'warming' | 'batch'>): Partial<WarmingTuning> {
  return {
    pageSize: config.warming.pageSize,
    continueAsNewAfterEvents: config.warming.continueAsNewAfterEvents,
    batch: { pollBackoff: { initialMs: config.batch.pollInitialMs, maxMs: config.batch.pollMaxMs, multiplier: 2 }, ...realtimeChunkTuning(config.batch.realtimeChunkMembers) },
  };
}

export interface StartWarmingJobOptions {
  taskQueue: string;
  /** Default: USE_EXISTING (a repeated start joins the running job). */
  conflict?: WorkflowIdConflictPolicy;
  /** Stored in the job's memo (`requestHash`): WarmCache compares an idempotent repeat's request with it. */
  requestHash?: string;
}

/**
 * Starts (or joins) a cache-warming job. Resolves once Temporal durably recorded the start (or found the running
 * job with that id, USE_EXISTING). `finished` = a job with this id already finished (ids are never reused).
 */
export async function startCacheWarmingJob(client: Client, input: CacheWarmingWorkflowInput, options: StartWarmingJobOptions): Promise<{ jobId: string; finished: boolean }> {
  try {
    await client.workflow.start(CACHE_WARMING_WORKFLOW_TYPE, {
      workflowId: input.jobId,
      taskQueue: options.taskQueue,
      args: [input],
      workflowIdConflictPolicy: options.conflict ?? WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // Memo: the WarmCache request hash (idempotent repeats) and who asked (GetWarmingJob shows a job to that service).
      ...(options.requestHash || input.requestedBy
        ? { memo: { ...(options.requestHash ? { requestHash: options.requestHash } : {}), ...(input.requestedBy ? { requestedBy: input.requestedBy } : {}) } }
        : {}),
      // The Web UI's one-line summary; the job keeps its current details up to date itself (issue 15).
      staticSummary: warmingSummary(
        {
          source: input.source,
          priority: input.priority,
          strategy: input.strategy,
          operations: input.operations,
          ...(input.selector.kind === 'list' ? { members: input.selector.total } : {}),
          ...(input.notBeforeMs !== undefined ? { notBeforeMs: input.notBeforeMs } : {}),
        },
        Date.now(),
      ),
      typedSearchAttributes: [
        { key: RteJobType, value: CACHE_WARMING_JOB_TYPE },
        { key: RteWarmingSource, value: input.source },
        { key: RtePriority, value: input.priority },
        { key: RteStrategy, value: input.strategy },
        { key: RteBatchStatus, value: 'PENDING' },
      ],
    });
    return { jobId: input.jobId, finished: false };
  } catch (err) {
    // REJECT_DUPLICATE: a job with this id already ran to completion; the request is that job.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { jobId: input.jobId, finished: true };
    throw err;
  }
}

export interface WarmingIntakeConfig {
  taskQueue: string;
  tuning?: Partial<WarmingTuning>;
}

/** Job id of an intake group: deterministic from its dedupeKey, so a re-delivered group joins the same job. */
export function intakeJobId(source: string, dedupeKey: string): string {
  return warmingWorkflowId(source, `i-${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 32)}`);
}

/**
 * The WarmingIntake port over Temporal + PostgreSQL (for the member-cron consumer). accept(): validates, stages
 * the ids (idempotent: an existing index keeps its id), starts cacheWarmingWorkflow with id intakeJobId(...) and
 * USE_EXISTING, and resolves only after the start is durable, so the caller may commit its offsets.
 * A group whose job already finished (same dedupeKey) is accepted without a second job and its staged copy dropped.
 */
export function createWarmingIntake(client: Client, lists: MemberListStore, config: WarmingIntakeConfig): WarmingIntake {
  return {
    async accept(req: WarmingIntakeRequest): Promise<WarmingIntakeResult> {
      if (!req.source.trim()) throw new RangeError('source must not be empty');
      if (!req.dedupeKey) throw new RangeError('dedupeKey must not be empty');
      if (!PRIORITIES.includes(req.priority)) throw new RangeError(`unknown priority ${String(req.priority)}`);
      if (!STRATEGIES.includes(req.strategy)) throw new RangeError(`unknown strategy ${String(req.strategy)}`);
      const unknownOp = req.operations.find((o) => cacheOperationOf(o) === undefined);
      if (unknownOp !== undefined) throw new RangeError(`unknown operation ${unknownOp}`);
      const ids = [...new Set(req.memberIds.filter((m) => m.trim() !== ''))];
      if (ids.length === 0) throw new RangeError('memberIds must contain at least one id');
      const jobId = intakeJobId(req.source, req.dedupeKey);
      const listRef = warmingMemberListRef(jobId);
      await lists.write(listRef, 0, ids);
      const input: CacheWarmingWorkflowInput = {
        jobId,
        source: req.source,
        ...(req.scheduleName ? { scheduleName: req.scheduleName } : {}),
        priority: req.priority,
        strategy: req.strategy,
        operations: resolveOperations(req.operations),
        selector: { kind: 'list', listRef, total: ids.length },
        acceptedAtMs: Date.now(),
        ...(req.notBeforeMs !== undefined ? { notBeforeMs: req.notBeforeMs } : {}),
        ...(req.horizonUntilMs !== undefined ? { horizonUntilMs: req.horizonUntilMs } : {}),
        ...(config.tuning ? { tuning: config.tuning } : {}),
      };
      const r = await startCacheWarmingJob(client, input, { taskQueue: config.taskQueue });
      // A finished job released its list; don't leave our restaged copy behind (a running job still reads it).
      if (r.finished) await lists.delete(listRef);
      return { jobId, accepted: ids.length };
    },
  };
}
