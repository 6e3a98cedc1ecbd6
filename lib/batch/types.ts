/**
 * Domain types of a batch, as plain JSON-safe values. Workflow inputs, query results and activity payloads use
 * these (string enums, epoch-millisecond numbers), never protobuf messages, so they serialize the same way in
 * Temporal history, in tests and for other Temporal services. Bundle-safe: no imports.
 */

export type BatchPriorityName = 'LOW' | 'NORMAL' | 'HIGH';
export type RequestedStrategy = 'OPTIMAL' | 'BATCH_ONLY' | 'REALTIME_ONLY';
/** What the batch actually uses. */
export type ExecutionPath = 'BATCH_API' | 'REALTIME';
export type WindowName = 'ANY' | 'BUSINESS_HOURS' | 'MORNING' | 'EVENING' | 'LOW_UTILIZATION' | 'OPTIMAL_MEMBER_ENGAGEMENT';
export const WINDOW_NAMES: readonly WindowName[] = ['ANY', 'BUSINESS_HOURS', 'MORNING', 'EVENING', 'LOW_UTILIZATION', 'OPTIMAL_MEMBER_ENGAGEMENT'];

/**
 * Cache-control modes a batch honours. STALE_WHILE_REVALIDATE is accepted on the wire and treated as DEFAULT
 * (a batch has no caller waiting for a stale answer; refreshing expired entries is exactly the revalidation).
 */
export type BatchCacheMode = 'DEFAULT' | 'CACHE_ONLY' | 'PREFER_CACHED' | 'BYPASS_CACHE';

export type BatchStatusName = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'PARTIALLY_COMPLETED' | 'WAITING' | 'PAUSED';
export const TERMINAL_STATUSES: readonly BatchStatusName[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'PARTIALLY_COMPLETED'];
export function isTerminalStatus(s: BatchStatusName): boolean {
  return TERMINAL_STATUSES.includes(s);
}

/** Batch event types (Kafka `BatchJobEvent.event_type`, webhook filters). */
export type BatchEventName = 'STARTED' | 'PROGRESS' | 'COMPLETED' | 'FAILED' | 'PARTIALLY_COMPLETED' | 'CANCELLED';
export const BATCH_EVENT_NAMES: readonly BatchEventName[] = ['STARTED', 'PROGRESS', 'COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED', 'CANCELLED'];

export type DeliveryMode = 'BEST_EFFORT' | 'AT_LEAST_ONCE';

export interface RetryPolicyConfig {
  /** Attempts per member check, first included. */
  maxAttempts: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
  backoffMultiplier: number;
}

export interface NotificationSettings {
  /** Kafka topic for BatchJobEvents (always the platform topic unless an allowed override was given). */
  kafkaTopic: string;
  /** Webhook target; absent = no webhooks. */
  callbackUrl?: string;
  /** Webhook event filter; empty = every event. */
  eventTypes: BatchEventName[];
  deliveryMode: DeliveryMode;
}

/** Everything the service decided about a batch at submission (echoed back as `resolved_options`). */
export interface ResolvedBatchOptions {
  priority: BatchPriorityName;
  strategy: RequestedStrategy;
  schedulingWindow: WindowName;
  maxConcurrentRequests: number;
  timeoutMs: number;
  retry: RetryPolicyConfig;
  notifications: NotificationSettings;
  cacheMode: BatchCacheMode;
}

/** Progress counters. `completed + failed + cancelled + pending === total` at all times. */
export interface BatchCounters {
  total: number;
  completed: number;
  failed: number;
  /** Members that will not be processed (batch cancelled or timed out before reaching them). */
  cancelled: number;
  cacheHits: number;
  /** Members the cache could not answer whose Stedi check was made (answered, failed or refused at submission). */
  cacheMisses: number;
  /**
   * Cache entries this batch wrote from Stedi answers. Optional: state carried from a run before it existed lacks it
   * (read as 0 via cacheRefreshedOf).
   */
  cacheRefreshed?: number;
  /** Live Stedi calls made (real-time checks or batch items submitted). */
  stediRealtimeCalls: number;
  stediBatchItems: number;
  stediBatches: number;
  /** Sum of per-member durations of real-time checks (ms) and how many there were, for the average. */
  durationMsSum: number;
  durationCount: number;
}

export const cacheRefreshedOf = (c: BatchCounters): number => c.cacheRefreshed ?? 0;

export function emptyCounters(total = 0): BatchCounters {
  return {
    total,
    completed: 0,
    failed: 0,
    cancelled: 0,
    cacheHits: 0,
    cacheMisses: 0,
    cacheRefreshed: 0,
    stediRealtimeCalls: 0,
    stediBatchItems: 0,
    stediBatches: 0,
    durationMsSum: 0,
    durationCount: 0,
  };
}

/** One member failure. `memberIndex` is the member's position in the batch's resolved member list. */
export interface BatchErrorRecord {
  memberIndex: number;
  errorCode: string;
  errorMessage: string;
  occurredAtMs: number;
}
