import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  BatchExecutionOptions_Priority,
  BatchExecutionOptions_Strategy,
  BatchExecutionOptionsSchema,
  BatchProgressSchema,
  BatchStatus,
  NotificationPreferences_DeliveryMode,
  type BatchExecutionOptions,
  type BatchProgress,
} from '../../gen/rte/v1/batch_pb';
import { CacheControl, SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { averageDurationMs, estimateCompletionMs, pendingOf } from './progress';
import type { BatchCacheMode, BatchCounters, BatchPriorityName, BatchStatusName, ExecutionPath, RequestedStrategy, ResolvedBatchOptions, WindowName } from './types';

/** Domain values ↔ protobuf enums, in one place (API responses and Kafka events). */
export const STATUS_TO_PROTO: Record<BatchStatusName, BatchStatus> = {
  PENDING: BatchStatus.PENDING,
  RUNNING: BatchStatus.RUNNING,
  COMPLETED: BatchStatus.COMPLETED,
  FAILED: BatchStatus.FAILED,
  CANCELLED: BatchStatus.CANCELLED,
  PARTIALLY_COMPLETED: BatchStatus.PARTIALLY_COMPLETED,
  WAITING: BatchStatus.WAITING,
  PAUSED: BatchStatus.PAUSED,
};
export const PROTO_TO_STATUS: Record<number, BatchStatusName> = Object.fromEntries(Object.entries(STATUS_TO_PROTO).map(([k, v]) => [v, k])) as Record<number, BatchStatusName>;

export const PRIORITY_TO_PROTO: Record<BatchPriorityName, BatchExecutionOptions_Priority> = {
  LOW: BatchExecutionOptions_Priority.LOW,
  NORMAL: BatchExecutionOptions_Priority.NORMAL,
  HIGH: BatchExecutionOptions_Priority.HIGH,
};
export const STRATEGY_TO_PROTO: Record<RequestedStrategy, BatchExecutionOptions_Strategy> = {
  OPTIMAL: BatchExecutionOptions_Strategy.OPTIMAL,
  BATCH_ONLY: BatchExecutionOptions_Strategy.BATCH_ONLY,
  REALTIME_ONLY: BatchExecutionOptions_Strategy.REALTIME_ONLY,
};
export const PATH_TO_PROTO: Record<ExecutionPath, BatchExecutionOptions_Strategy> = {
  BATCH_API: BatchExecutionOptions_Strategy.BATCH_ONLY,
  REALTIME: BatchExecutionOptions_Strategy.REALTIME_ONLY,
};
export const WINDOW_TO_PROTO: Record<WindowName, SchedulingWindow> = {
  ANY: SchedulingWindow.ANY,
  BUSINESS_HOURS: SchedulingWindow.BUSINESS_HOURS,
  MORNING: SchedulingWindow.MORNING,
  EVENING: SchedulingWindow.EVENING,
  LOW_UTILIZATION: SchedulingWindow.LOW_UTILIZATION,
  OPTIMAL_MEMBER_ENGAGEMENT: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
};
export const CACHE_TO_PROTO: Record<BatchCacheMode, CacheControl> = {
  DEFAULT: CacheControl.DEFAULT,
  CACHE_ONLY: CacheControl.CACHE_ONLY,
  PREFER_CACHED: CacheControl.PREFER_CACHED,
  BYPASS_CACHE: CacheControl.BYPASS_CACHE,
};

export function tsOrUndefined(ms: number | undefined): Timestamp | undefined {
  return ms === undefined ? undefined : timestampFromMs(ms);
}

/**
 * resolved_options: what the service decided. Once the path is known, `strategy` reports it (BATCH_ONLY for the
 * Stedi batch API, REALTIME_ONLY for real-time), so a client that sent OPTIMAL sees the outcome.
 */
export function optionsToProto(o: ResolvedBatchOptions, path?: ExecutionPath): BatchExecutionOptions {
  return create(BatchExecutionOptionsSchema, {
    priority: PRIORITY_TO_PROTO[o.priority],
    strategy: path ? PATH_TO_PROTO[path] : STRATEGY_TO_PROTO[o.strategy],
    schedulingWindow: WINDOW_TO_PROTO[o.schedulingWindow],
    maxConcurrentRequests: o.maxConcurrentRequests,
    timeout: durationFromMs(o.timeoutMs),
    retryConfig: {
      maxAttempts: o.retry.maxAttempts,
      initialInterval: durationFromMs(o.retry.initialIntervalMs),
      maxInterval: durationFromMs(o.retry.maxIntervalMs),
      backoffMultiplier: o.retry.backoffMultiplier,
    },
    callbackUrl: o.notifications.callbackUrl ?? '',
    notifications: {
      kafkaTopic: o.notifications.kafkaTopic,
      ...(o.notifications.callbackUrl ? { callbackUrl: o.notifications.callbackUrl } : {}),
      eventTypes: [...o.notifications.eventTypes],
      deliveryMode:
        o.notifications.deliveryMode === 'AT_LEAST_ONCE' ? NotificationPreferences_DeliveryMode.DELIVERY_AT_LEAST_ONCE : NotificationPreferences_DeliveryMode.DELIVERY_BEST_EFFORT,
    },
  });
}

/**
 * A batch's progress as every API answer shows it (GetBatchStatus, WatchBatchStatus updates). A PAUSED batch has no
 * estimated completion whatever estimate is passed: nothing moves until someone resumes it and nobody knows when, so
 * an extrapolation from the members done would be a moving time that passes while it stays paused (probe p18 F9).
 */
export function progressToProto(c: BatchCounters, startedAtMs: number | undefined, nowMs: number, estimatedCompletionMs: number | undefined, status: BatchStatusName): BatchProgress {
  const avg = averageDurationMs(c);
  const eta = status === 'PAUSED' ? undefined : (estimatedCompletionMs ?? (startedAtMs !== undefined ? estimateCompletionMs(c, startedAtMs, nowMs) : undefined));
  return create(BatchProgressSchema, {
    totalMembers: c.total,
    completed: c.completed,
    failed: c.failed,
    pending: pendingOf(c),
    cancelled: c.cancelled,
    cacheHits: c.cacheHits,
    cacheMisses: c.cacheMisses,
    ...(avg !== undefined ? { avgDuration: durationFromMs(avg) } : {}),
    ...(startedAtMs !== undefined ? { startedAt: timestampFromMs(startedAtMs) } : {}),
    ...(eta !== undefined ? { estimatedCompletion: timestampFromMs(eta) } : {}),
  });
}
