import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { WarmOutcome, WarmingPriority, WarmingStrategyName } from '../lib/warming/types';
import type { BatchTuning } from './batch.defs';

/**
 * Contract of the cache-warming workflow (issue 9) for the API, the member-cron consumer, warming schedules and
 * other Temporal services. Import this module, never the workflow body.
 *
 * Workflow type `cacheWarmingWorkflow`; id `warming/<source>/<job key>` (warmingWorkflowId), which is also the
 * public warming_job_id. Job keys: WarmCache `api-<caller>-<idempotency key or uuid>`, intake `i-<sha256(dedupeKey)>`,
 * schedules whatever they like (e.g. the schedule's action id). Start with WorkflowIdConflictPolicy.USE_EXISTING so a
 * repeated request joins the running job. Search attributes: RteJobType=CACHE_WARMING, RteWarmingSource,
 * RtePriority (URGENT/PRELOAD/BACKGROUND), RteStrategy (INTELLIGENT/FORCE/FILL_ONLY), RteBatchStatus (the batches'
 * words: PENDING while held until notBefore, RUNNING, WAITING while every running child batch waits for its scheduling
 * window (e.g. BACKGROUND → LOW_UTILIZATION), PAUSED after pauseWarming, then COMPLETED/FAILED/CANCELLED/
 * PARTIALLY_COMPLETED), RteBatchProgress (progress in words, a Web UI list column). The Web UI shows the job's static
 * summary (set by the starter: lib/warming/details.ts warmingSummary) and current details (e.g. "412 / 1,000 warmed ·
 * 3 failed · PRELOAD via batch API · ETA 04:31 UTC"). Child batches report their status and progress to the job with
 * the signal `warmingChildStatus`.
 *
 * The fetches ride the batch machinery: each page's members to fetch run as child `batchWorkflow`s (one per
 * operation × path: REALTIME_ONLY for real-time warms, BATCH_ONLY for the Stedi batch API) with id
 * `<warming job id>/p<page>/<operation>/<realtime|batch_api>`, jobType CACHE_WARMING and `warming` set.
 */
export const CACHE_WARMING_WORKFLOW_TYPE = 'cacheWarmingWorkflow';
/** Child batches' client service (BatchJobEvent initiated_by_service). */
export const WARMING_CLIENT_SERVICE = 'cache-warming';

/** Safe id segment: '/' would break the id scheme. */
export function warmingIdSegment(s: string): string {
  return s.replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 120) || '_';
}

export function warmingWorkflowId(source: string, jobKey: string): string {
  return `warming/${warmingIdSegment(source)}/${warmingIdSegment(jobKey)}`;
}

/** Where a job's staged member ids live (MemberListStore list ref). */
export function warmingMemberListRef(jobId: string): string {
  return `${jobId}#members`;
}

/**
 * Members by reference: a staged id list (MemberListStore, written before the start) or a MemberQuery (protobuf
 * JSON, e.g. `toJson(MemberQuerySchema, q)`) resolved by the workflow page by page into a staged list, exactly like
 * a batch's query selector.
 */
export type WarmingSelector = { kind: 'list'; listRef: string; total: number } | { kind: 'query'; query: unknown };

export interface WarmingTuning {
  /** Members planned per page (one bulk cache read and at most one child batch per operation × path). ≤ 10,000. */
  pageSize: number;
  /** Members per directory page when resolving a query. */
  resolvePageSize: number;
  maxMembers: number;
  continueAsNewAfterEvents: number;
  /** Child batch timeout (a BACKGROUND child may wait for its window first). */
  childTimeoutMs: number;
  /** Passed to the child batches (tests compress polling with it). */
  batch?: Partial<BatchTuning>;
}

export const DEFAULT_WARMING_TUNING: WarmingTuning = {
  pageSize: 10_000,
  resolvePageSize: 5_000,
  maxMembers: 100_000,
  continueAsNewAfterEvents: 5_000,
  childTimeoutMs: 48 * 3_600_000,
};

export interface CacheWarmingWorkflowInput {
  /** = the workflow id. Empty (a Temporal Schedule action, which cannot know its run's id): the workflow's own id. */
  jobId: string;
  /** e.g. `manual-trigger`, `member-cron-daily-rte-warmup`, `schedule-morning-preload`. */
  source: string;
  scheduleName?: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  /** Resolved operations (non-empty). */
  operations: string[];
  selector: WarmingSelector;
  /** When the job was accepted; absent = the workflow's start. */
  acceptedAtMs?: number;
  /** Hold the whole job until then (named durable timer). */
  notBeforeMs?: number;
  /** A read before this counts as the warm being used; absent = each warm's completion + 24 h. */
  horizonUntilMs?: number;
  /** Kafka topics (defaults: the platform topics). */
  warmingEventsTopic?: string;
  batchEventsTopic?: string;
  tuning?: Partial<WarmingTuning>;
  /** The WarmCache caller's service (GetWarmingJob shows the job to that service only); absent for platform jobs. */
  requestedBy?: string;
  carry?: WarmingCarryState;
}

/** WAITING and PAUSED refine a running job's RUNNING (as for batches); the job record in PostgreSQL keeps RUNNING. */
export type WarmingStatusName = 'PENDING' | 'RUNNING' | 'WAITING' | 'PAUSED' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'PARTIALLY_COMPLETED';
export type WarmingPhase = 'WAITING' | 'RESOLVING' | 'RUNNING' | 'DONE';

/** Member × operation counts (one cache entry each), plus member-level skip counts for WarmCache. */
export interface WarmingCounters {
  /** Members in the job (known once a query is resolved). */
  members: number;
  membersPlanned: number;
  membersSkipped: number;
  /** Entries decided so far, by route. */
  realtime: number;
  batchApi: number;
  /** Final outcomes (from cache_warms). */
  outcomes: Record<WarmOutcome, number>;
}

export interface WarmingCarryState {
  phase: WarmingPhase;
  status: WarmingStatusName;
  counters: WarmingCounters;
  listRef: string;
  resolveCursor?: string;
  nextIndex: number;
  page: number;
  paused: boolean;
  cancel?: { reason: string; atMs: number };
  startedAtMs?: number;
  /** Free real-time slots seen at the first plan (for estimates). */
  freeSlots?: number;
  /**
   * First page: when the job's real-time (non-URGENT) warms are planned to start because the ANY window's slot-load
   * rule defers them (planWarmingPage, the same rule and seed as the child); absent when they start at once.
   */
  realtimeDeferredUntilMs?: number;
  /** First page: when its BACKGROUND batch-API children submit, in their members' LOW_UTILIZATION window (planWarmingPage). */
  batchApiStartsAtMs?: number;
  firstPlanned: boolean;
  runs: number;
}

export interface WarmingStatusView {
  jobId: string;
  source: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  operations: string[];
  status: WarmingStatusName;
  phase: WarmingPhase;
  paused: boolean;
  counters: WarmingCounters;
  /** True once the first page was decided (members_skipped is real) or the job is held/finished. */
  firstPlanned: boolean;
  acceptedAtMs: number;
  notBeforeMs?: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  freeSlots?: number;
  /** See WarmingCarryState.realtimeDeferredUntilMs (WarmCache's estimate starts the real-time part there). */
  realtimeDeferredUntilMs?: number;
  /** See WarmingCarryState.batchApiStartsAtMs (WarmCache's estimate starts the batch-API part there). */
  batchApiStartsAtMs?: number;
  /** Child batch ids currently running. */
  children: string[];
  /** WAITING: when the earliest waiting child's window opens; PENDING: notBefore. */
  waitingUntilMs?: number;
  /** WAITING: the waiting children's scheduling window (LOW_UTILIZATION for BACKGROUND batch-API warms, else ANY). */
  window?: string;
  /**
   * WAITING: a waiting child was deferred by Stedi's slot load (the ANY window's rule: non-URGENT real-time warms),
   * so it starts at waitingUntilMs at the latest, or sooner when the load drops (it re-checks every loadRecheckMs).
   */
  deferredByLoad?: boolean;
  /** PAUSED: who paused it (pauseWarming's `by`), when given. */
  pausedBy?: string;
  failure?: { code: string; message: string };
  /** Set once cancelWarming (or a workflow cancel) was received: the reason given and when. */
  cancel?: { reason: string; atMs: number };
}

export interface PauseWarmingArgs {
  /** Who pauses (shown in the Web UI: "paused by …"). */
  by?: string;
}

/** A child batch's status as it reports it to its warming job (on status changes and progress milestones). */
export interface WarmingChildStatus {
  batchId: string;
  /** The batch's shown status (lib/batch/types BatchStatusName). */
  status: string;
  /** Set while the child waits for its scheduling window (PENDING before its first members, or WAITING). */
  waitingUntilMs?: number;
  window?: string;
  /** The wait was chosen by the ANY window's slot-load rule (re-checked; it may start sooner), not by a window. */
  deferredByLoad?: boolean;
  completed: number;
  failed: number;
  estimatedCompletionMs?: number;
}

export interface CancelWarmingArgs {
  reason?: string;
}

export const warmingStatusQuery = defineQuery<WarmingStatusView>('warmingStatus');
/** Holds new pages and pauses running child batches; optional `{ by }` names who paused. */
export const pauseWarmingSignal = defineSignal<[PauseWarmingArgs?]>('pauseWarming');
/** Sent by a warming job's child batch to its parent job (workflows/batch.ts). */
export const warmingChildStatusSignal = defineSignal<[WarmingChildStatus]>('warmingChildStatus');
export const resumeWarmingSignal = defineSignal<[]>('resumeWarming');
/** Cancels the job (running children are cancelled; their undone warms become `cancelled`); returns the final view. */
export const cancelWarmingUpdate = defineUpdate<WarmingStatusView, [CancelWarmingArgs]>('cancelWarming');
/** Waits until the first page is decided (or the job is held until notBefore / finished) and returns the view. */
export const warmingAcceptedUpdate = defineUpdate<WarmingStatusView, []>('warmingAccepted');
