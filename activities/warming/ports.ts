import type { WarmOutcome, WarmPath, WarmingPriority, WarmingStrategyName } from '../../lib/warming/types';

/**
 * Durable records of cache warming (directory/migrations/006_cache_warming.sql). Members appear only as keyed
 * hashes (lib/member-hash.ts with the cache key secret, the same hash the API uses), so adapters take raw ids
 * and hash them. Every write is an idempotent upsert: a retried activity never double-counts.
 */
export type WarmJobStatus = 'WAITING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'PARTIALLY_COMPLETED';

export interface WarmJobRecord {
  jobId: string;
  source: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  status: WarmJobStatus;
  createdAtMs: number;
  finishedAtMs?: number;
  /** The WarmCache caller's service (absent for platform jobs: member-cron, schedules). Kept from the first write. */
  requestedBy?: string;
  /** Why a FAILED / CANCELLED job ended. */
  reason?: string;
  /** Members in the job (known once its query is resolved). */
  members?: number;
  operations?: string[];
  startedAtMs?: number;
}

/** One (member, operation) decision of a job, written when the job plans the member's page. */
export interface WarmDecisionRow {
  memberId: string;
  operation: string;
  path: WarmPath;
  /** 'pending' for members to fetch, skipped_* for members the cache already serves. */
  outcome: WarmOutcome;
  reason?: string;
  /** For fetched members: when the fetch was handed to the batch machinery. */
  startedAtMs?: number;
}

export interface WarmDecisionContext {
  jobId: string;
  source: string;
  priority: WarmingPriority;
  acceptedAtMs: number;
  notBeforeMs?: number;
  /** Explicit horizon; absent = completed_at + 24 h, set when the warm completes. */
  horizonUntilMs?: number;
}

/** A warm's result, written by the activity that wrote (or failed to write) the cache entry. */
export interface WarmCompletion {
  memberId: string;
  operation: string;
  /** fetchedAt of the cache entry this warm wrote (null when it wrote none). */
  fetchedAt: number | null;
  outcome: 'warmed' | 'failed' | 'skipped_fresh';
  reason?: string;
  /**
   * When the fetch that wrote the entry started, becoming cache_warms.started_at: the Stedi call (real time, i.e. once
   * the slot was granted, so queueing for a slot is not counted) or the Stedi batch submission (batch API). Absent:
   * started_at keeps the decision time.
   */
  startedAtMs?: number;
}

export interface WarmRecordStore {
  upsertJob(job: WarmJobRecord): Promise<void>;
  /** Inserts decisions that do not exist yet; returns the stored decision of every given pair (first write wins). */
  decide(ctx: WarmDecisionContext, rows: readonly WarmDecisionRow[]): Promise<{ inserted: WarmDecisionRow[]; stored: Map<string, { path: WarmPath; outcome: WarmOutcome }> }>;
  /** Moves pending warms to their outcome (or a final warm to a later write of the same job); returns rows changed. */
  complete(jobId: string, rows: readonly WarmCompletion[]): Promise<WarmCompletion[]>;
  /** Final outcome for warms of these members that are still pending (failures without a cache write, cancellation). */
  settlePending(jobId: string, rows: ReadonlyArray<{ memberId: string; operation: string; path: WarmPath; outcome: 'failed' | 'cancelled'; reason: string }>): Promise<number>;
  /** Every warm of the job still pending gets this outcome (job cancelled or failed as a whole). */
  settleAllPending(jobId: string, outcome: 'failed' | 'cancelled', reason: string): Promise<number>;
  /** Outcome counts of a job (member × operation rows). */
  counts(jobId: string): Promise<Record<WarmOutcome, number>>;
}

export function decisionKey(memberHash: string, operation: string): string {
  return `${memberHash}|${operation}`;
}

/**
 * A warming job as its durable record says (cache_warming_jobs + its cache_warms rows), for GetWarmingJob. Its
 * status: WAITING (held / resolving) and RUNNING are open; the rest are terminal.
 */
export interface WarmJobDurableState extends WarmJobRecord {
  /** When the record or one of its warms was last written. */
  updatedAtMs: number;
  counts: Record<WarmOutcome, number>;
  /** Members all of whose operations were decided as skips (path none). */
  membersSkipped: number;
  /** Reasons of failed and cancelled warms, most frequent first (at most 10). */
  failureReasons: Array<{ reason: string; count: number }>;
}

export interface WarmJobReader {
  /** undefined when there is no record of the job. */
  read(jobId: string): Promise<WarmJobDurableState | undefined>;
}

/**
 * How a child batch ended, from its own history: a parent sees a terminated child only as "Terminated"
 * (ChildWorkflowExecutionTerminated carries no reason), while the child's WorkflowExecutionTerminated holds the
 * operator's reason. Undefined when the child was not terminated or cannot be read.
 */
export interface ChildRunReader {
  terminationReason(workflowId: string): Promise<string | undefined>;
}
