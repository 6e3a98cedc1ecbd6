import { ApplicationFailure, defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchEventsSoFar } from '../lib/batch/events';
import type { PollBackoff } from '../lib/batch/polling';
import type {
  BatchCounters,
  BatchErrorRecord,
  BatchEventName,
  BatchStatusName,
  DeliveryMode,
  ExecutionPath,
  ResolvedBatchOptions,
} from '../lib/batch/types';
import { DEFAULT_ELIGIBILITY_OPERATION } from '../lib/operations';
import type { WarmingPriority } from '../lib/warming/types';

/**
 * Contract of the batch workflow for the API, the CLI and other Temporal services (import this module, not the
 * workflow body).
 *
 * Workflow type `batchWorkflow`; id `batch/<client_service>/<client_job_id>` (batchWorkflowId), which is also the
 * public batch id. Start it with WorkflowIdConflictPolicy.USE_EXISTING + WorkflowIdReusePolicy.REJECT_DUPLICATE so
 * one client job is one batch, ever. Search attributes: RteBatchStatus (PENDING/RUNNING/COMPLETED/FAILED/
 * CANCELLED/PARTIALLY_COMPLETED), RteClientService, RteClientJobId, RtePriority, RteStrategy (BATCH_API/REALTIME
 * once decided, else the requested strategy), RteJobType = RTE_BATCH.
 */
export const BATCH_WORKFLOW_TYPE = 'batchWorkflow';
export const WEBHOOK_DELIVERY_WORKFLOW_TYPE = 'webhookDeliveryWorkflow';
export const BATCH_JOB_TYPE = 'RTE_BATCH';
/** Batches refresh the same cache entries CheckEligibility reads by default. */
export const DEFAULT_BATCH_OPERATION = DEFAULT_ELIGIBILITY_OPERATION;

/** A real-time check the payer answered with an error (the answer is cached like any other). */
// Defined in lib/ so activities share them without importing workflow definitions (lint-enforced layering).
export { PAYER_ERROR, memberFailureText } from '../lib/batch/member-failure';

export function batchWorkflowId(clientService: string, clientJobId: string): string {
  return `batch/${clientService}/${clientJobId}`;
}

/** Inverse of batchWorkflowId; undefined for anything that is not a batch id. */
export function parseBatchId(batchId: string): { clientService: string; clientJobId: string } | undefined {
  const m = /^batch\/([^/]+)\/([^/]+)$/.exec(batchId);
  return m ? { clientService: m[1]!, clientJobId: m[2]! } : undefined;
}

/**
 * Members: a staged id list (the API writes submitted ids to PostgreSQL and passes a reference, so ids never sit
 * whole in a payload) or a MemberQuery (protobuf JSON) the workflow resolves page by page into a staged list.
 */
export type BatchSelector =
  | { kind: 'list'; listRef: string; total: number }
  | { kind: 'query'; query: unknown };

/** Knobs with production defaults; tests compress time with them. */
export interface BatchTuning {
  pollBackoff: PollBackoff;
  /** Members per real-time page (ids of one page sit in history at a time). */
  realtimePageSize: number;
  /** Members per Stedi batch (≤ 10,000). */
  batchChunkSize: number;
  /** Members per directory page when resolving a query. */
  resolvePageSize: number;
  /** Most Stedi batches waiting for results at once. */
  maxOutstandingChunks: number;
  progressStepPercent: number;
  /** Delays before each webhook attempt (Standard Webhooks schedule by default). */
  webhookScheduleMs?: number[];
  /** Continue-as-new once history has this many events (or when the server suggests it). */
  continueAsNewAfterEvents: number;
  /** Stedi's batch retry window for payer outages (8–24 h). */
  stediMaxRetryHours: number;
  /** How often a batch deferred by Stedi load (ANY window) re-checks the load to start early (issue 10). */
  loadRecheckMs: number;
  /**
   * Real-time members per chunk activity (issue 14; 0 or absent: one activity per member). Full-width batches
   * (max_concurrent_requests 15) only; smaller caps keep one activity per member.
   */
  realtimeChunkMembers?: number;
  /** A chunk starts no member after this long, so progress reaches the workflow every few seconds (default 2 s). */
  realtimeChunkMaxStartMs?: number;
}

/**
 * Real-time page size of batches started with chunks on (issue 14): fewer plan and error-flush activities, and fewer
 * page ends where the lanes drain. A page's plan (≈ 30 bytes per member in history) stays far below Temporal's
 * payload limits. Set by the starters (SubmitBatch, warming jobs), so runs already started keep their tuning.
 */
export const CHUNKED_REALTIME_PAGE_SIZE = 2_000;

/** The chunking part of a starter's batch tuning (BATCH_REALTIME_CHUNK_MEMBERS; 0: one activity per member). */
export function realtimeChunkTuning(chunkMembers: number): Pick<BatchTuning, 'realtimeChunkMembers'> & Partial<Pick<BatchTuning, 'realtimePageSize'>> {
  return { realtimeChunkMembers: chunkMembers, ...(chunkMembers > 1 ? { realtimePageSize: CHUNKED_REALTIME_PAGE_SIZE } : {}) };
}

export const DEFAULT_BATCH_TUNING: BatchTuning = {
  pollBackoff: { initialMs: 2 * 60_000, maxMs: 8 * 3_600_000, multiplier: 2 },
  realtimePageSize: 500,
  batchChunkSize: 10_000,
  resolvePageSize: 5_000,
  maxOutstandingChunks: 10,
  progressStepPercent: 10,
  continueAsNewAfterEvents: 8_000,
  stediMaxRetryHours: 8,
  loadRecheckMs: 5 * 60_000,
};

export interface BatchWorkflowInput {
  batchId: string;
  clientService: string;
  clientJobId: string;
  submittedAtMs: number;
  selector: BatchSelector;
  options: ResolvedBatchOptions;
  /** RTE operation cached, default "coverage". */
  operation?: string;
  initiatedByUserId?: string;
  tuning?: Partial<BatchTuning>;
  /** Job type on search attributes and BatchJobEvents; default RTE_BATCH (CACHE_WARMING for warming children). */
  jobType?: string;
  /**
   * Set when a cache-warming job runs this batch as its child: real-time checks use the `warming` slot class and
   * cache source 'warming', Stedi batch results are written with source 'warming', and every warm is recorded in
   * cache_warms under the parent job. Absent for ordinary batches (behaviour unchanged).
   */
  warming?: { jobId: string; priority: WarmingPriority };
  /** Canonical hash of the SubmitBatch request (idempotency: same client_job_id + different request is refused). */
  requestHash?: string;
  /** State carried across continue-as-new; absent on the first run. */
  carry?: BatchCarryState;
}

export type BatchPhase = 'RESOLVING' | 'WAITING_FOR_WINDOW' | 'RUNNING' | 'FINISHING' | 'DONE';

export interface BatchChunkState {
  chunkNo: number;
  /** Global index of the chunk's first member and the chunk length. */
  start: number;
  size: number;
  /** Offsets (within the chunk) submitted to Stedi, base64 bitmap. */
  submitted: string;
  submittedCount: number;
  stediBatchId: string;
  /** When Stedi accepted the chunk (absent in chunks submitted before it was kept): a warm's started_at. */
  submittedAtMs?: number;
  /** Offsets whose result was recorded, base64 bitmap. */
  seen: string;
  seenCount: number;
  pollAttempt: number;
  nextPollAtMs: number;
}

export interface BatchFailureInfo {
  code: string;
  message: string;
}

export interface BatchCarryState {
  phase: BatchPhase;
  status: BatchStatusName;
  counters: BatchCounters;
  listRef?: string;
  resolveCursor?: string;
  path?: ExecutionPath;
  strategyRule?: string;
  /** Fixed base time for window computations, so every page computes the same schedule. */
  scheduleBaseMs?: number;
  startedAtMs?: number;
  deadlineMs?: number;
  scheduledStartMs?: number;
  /** Next member index to plan (real-time page start or Stedi chunk start). */
  nextIndex: number;
  nextPlanAtMs?: number;
  chunks: BatchChunkState[];
  chunkSeq: number;
  lastMilestone: number;
  eventSeq: number;
  paused: boolean;
  /** `by` of the pause that holds the batch (absent when not paused or when the signal said nothing). */
  pausedBy?: string;
  cancel?: { reason: string; atMs: number };
  recentErrors: BatchErrorRecord[];
  totalErrors: number;
  load?: number;
  runs: number;
}

/** What queries, the cancel update and the workflow result report. */
export interface BatchStatusView {
  batchId: string;
  clientService: string;
  clientJobId: string;
  status: BatchStatusName;
  phase: BatchPhase;
  paused: boolean;
  /** Who paused it, while paused (see BatchCarryState.pausedBy). */
  pausedBy?: string;
  path?: ExecutionPath;
  strategyRule?: string;
  counters: BatchCounters;
  /** Members not yet final (total − completed − failed − cancelled). */
  pending: number;
  percentDone: number;
  submittedAtMs: number;
  scheduledStartMs?: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  estimatedCompletionMs?: number;
  avgDurationMs?: number;
  options: ResolvedBatchOptions;
  /** Newest errors (at most 20); the full list is in the batch error store. */
  recentErrors: BatchErrorRecord[];
  totalErrors: number;
  failure?: BatchFailureInfo;
  /** True once the member count is final (a query selector has been resolved). */
  totalKnown: boolean;
  listRef?: string;
  /** PENDING or WAITING for a scheduling window: when its next members are due. */
  waitingUntilMs?: number;
  /** That wait was chosen because Stedi's load is high (ANY window), not by a window the client asked for. */
  deferredByLoad?: boolean;
  /** Stedi batch-API chunks submitted and not yet complete. */
  chunksInFlight?: number;
  /**
   * The batch's events so far (last sequence number, its id form, job type): what the terminal sweep continues from
   * for a batch Temporal ended (workflows/terminal-sweep.ts). State only; absent in views from before it was added.
   */
  events?: BatchEventsSoFar;
}

export type BatchWorkflowResult = BatchStatusView;

export interface CancelBatchArgs {
  reason?: string;
}

/** Current status, progress and newest errors. */
export const batchStatusQuery = defineQuery<BatchStatusView>('batchStatus');
/** What a running chunk of real-time members polls (issue 14): may members start, must running ones stop. */
export interface BatchDispatchGate {
  /** No new member may start (paused, cancelled or timed out). */
  hold: boolean;
  /** Cancel or timeout: running members are cancelled too. */
  stop: boolean;
}
export const batchDispatchGateQuery = defineQuery<BatchDispatchGate>('batchDispatchGate');
/** Stops dispatching new members; running work continues. */
export interface PauseBatchArgs {
  /** Who pauses (PauseBatch: the caller's client service), shown in GetBatchStatus and the Web UI while PAUSED. */
  by?: string;
}
export const pauseBatchSignal = defineSignal<[PauseBatchArgs?]>('pauseBatch');
export const resumeBatchSignal = defineSignal<[]>('resumeBatch');
/** Fire-and-forget cancel (same semantics as the update). */
export const cancelBatchSignal = defineSignal<[CancelBatchArgs]>('cancelBatch');
/**
 * Cancel and wait for the batch to settle: dispatching stops, in-flight real-time checks are cancelled (a check
 * whose answer already arrived is counted completed), outstanding Stedi batches are abandoned (their remaining
 * members count as cancelled). Returns the final view (status CANCELLED), or the terminal view of a batch that had
 * already finished. Rejected for unknown batches by Temporal itself.
 */
export const cancelBatchUpdate = defineUpdate<BatchStatusView, [CancelBatchArgs]>('cancelBatchAndWait');
/**
 * The update's name before it was renamed to `cancelBatchAndWait` (it shared `cancelBatch` with the signal).
 * Still accepted by the workflow so API replicas of the previous release keep working during a rollout; new
 * callers use `cancelBatchUpdate`. The signal keeps the name `cancelBatch`.
 */
export const legacyCancelBatchUpdate = defineUpdate<BatchStatusView, [CancelBatchArgs]>('cancelBatch');
export const MAX_CANCEL_REASON_LENGTH = 500;

/**
 * A validator's refusal: the same request would be refused again, so it is not retryable (a plain Error shows as
 * `retryable: true` in the CLI and Web UI, inviting a retry of an invalid request).
 */
function invalidUpdate(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidArgument');
}

/** Update validator (runs before the update enters history): the cancel arguments are `{ reason?: string }`. */
export function validateCancelBatchArgs(args: CancelBatchArgs | undefined): void {
  if (args === undefined || args === null) return;
  if (typeof args !== 'object' || Array.isArray(args)) throw invalidUpdate('cancel arguments: expected an object { reason?: string }');
  const extra = Object.keys(args).filter((k) => k !== 'reason');
  if (extra.length > 0) throw invalidUpdate(`cancel arguments: unknown field ${extra[0]}`);
  if (args.reason !== undefined && args.reason !== null && typeof args.reason !== 'string') throw invalidUpdate('reason: expected a string');
  if (typeof args.reason === 'string' && args.reason.length > MAX_CANCEL_REASON_LENGTH) {
    throw invalidUpdate(`reason: at most ${MAX_CANCEL_REASON_LENGTH} characters`);
  }
}

/** Update validator: batchAccepted takes no arguments. */
export function validateNoArgs(...args: unknown[]): void {
  if (args.some((a) => a !== undefined)) throw invalidUpdate('batchAccepted takes no arguments');
}
/** Waits until the member count is known (query selectors are resolved first) and returns the view. */
export const batchAcceptedUpdate = defineUpdate<BatchStatusView, []>('batchAccepted');

// ---- webhook delivery ---------------------------------------------------------------------------------------

export interface WebhookDeliveryInput {
  url: string;
  /** Event id = Standard Webhooks `webhook-id`, identical on every attempt. */
  webhookId: string;
  body: string;
  eventType: BatchEventName;
  batchId: string;
  clientService: string;
  mode: DeliveryMode;
  /** Delays before each attempt; default STANDARD_WEBHOOK_SCHEDULE_MS (jittered ±20 %). */
  scheduleMs?: number[];
}

export interface WebhookDeliveryResult {
  delivered: boolean;
  attempts: number;
  lastStatus?: number;
  outcome: 'delivered' | 'gone' | 'refused' | 'exhausted';
}

/**
 * Where a delivery stands while it retries (query `webhookDeliveryStatus`): GetBatchStatus shows a failing receiver
 * from its first failed attempt, not only once the Standard Webhooks schedule (about 3 days) ran out.
 */
export interface WebhookDeliveryProgress {
  attempts: number;
  /** The last failed attempt: "HTTP 500", "HTTP 302 (redirects are not followed)", "connect ECONNREFUSED …". */
  lastError?: string;
  lastAttemptAtMs?: number;
  /** When the next attempt is due (unset while an attempt runs, or when none is left). */
  nextAttemptAtMs?: number;
}
export const webhookDeliveryStatusQuery = defineQuery<WebhookDeliveryProgress>('webhookDeliveryStatus');

export function webhookDeliveryWorkflowId(batchId: string, eventId: string): string {
  return `${batchId}/webhook/${eventId}`;
}
