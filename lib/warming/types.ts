/**
 * The cache-warming contract shared by the warming workflow, its activities, the WarmCache / ScheduleWarming /
 * GetWarmingStats API and the member-cron consumer (issue 9). Pure types and constants: importable anywhere.
 *
 * Storage: directory/migrations/006_cache_warming.sql (cache_warming_jobs, cache_warms, cache_read_counts).
 */

export type WarmingPriority = 'URGENT' | 'PRELOAD' | 'BACKGROUND';
export type WarmingStrategyName = 'INTELLIGENT' | 'FORCE' | 'FILL_ONLY';
/** How one member's warm was (or will be) fetched. */
export type WarmPath = 'realtime' | 'batch_api' | 'none';
export type WarmOutcome = 'pending' | 'warmed' | 'skipped_fresh' | 'skipped_cached' | 'failed' | 'cancelled';

export const CACHE_WARMING_JOB_TYPE = 'CACHE_WARMING';

/** Design doc routing of a member-cron prediction: < 0.7 skip, 0.7–0.9 PRELOAD, > 0.9 URGENT. */
export const WARMING_SKIP_BELOW = 0.7;
export const WARMING_URGENT_ABOVE = 0.9;

/**
 * One group of members handed to warming by a producer that is not the API (the member-cron consumer).
 * Member ids travel to the workflow by reference (staged in PostgreSQL), never in Temporal payloads.
 */
export interface WarmingIntakeRequest {
  /** e.g. `member-cron-daily-rte-warmup`. */
  source: string;
  /** The schedule the group came from (member-cron: `daily-rte-warmup`), carried to the job's events. */
  scheduleName?: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  /** Cache operations to warm; empty = all. */
  operations: string[];
  memberIds: string[];
  /** Hold the whole group until this time (durable timer in the job); absent = now. */
  notBeforeMs?: number;
  /** A warm read before this time counts as used (prediction accuracy); absent = completion + 24 h. */
  horizonUntilMs?: number;
  /**
   * Deterministic key of this group (e.g. topic/partition/first-last offset): the same key always maps to the same
   * warming job id, so a re-delivered group joins the existing job instead of starting a second one.
   */
  dedupeKey: string;
}

export interface WarmingIntakeResult {
  jobId: string;
  /** Members the job durably accepted (staged and the workflow started or already running). */
  accepted: number;
}

/**
 * Port the member-cron consumer calls. Resolves only once the job has durably accepted the members (ids staged
 * in PostgreSQL and the workflow started, or the existing one found), so the consumer may commit its offsets.
 */
export interface WarmingIntake {
  accept(request: WarmingIntakeRequest): Promise<WarmingIntakeResult>;
}
