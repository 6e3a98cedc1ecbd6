import { DEFAULT_TIME_ZONE, hourWindowSlot } from '../batch/windows';
import type { WarmingPriority } from './types';

/** Real-time check latency used for estimates (the doc's 13.5 s). */
export const REALTIME_CHECK_ESTIMATE_MS = 13_500;
/** Stedi batch API turnaround used for estimates when nothing better is configured. */
export const DEFAULT_BATCH_LATENCY_ESTIMATE_MS = 10 * 60_000;

export interface WarmEstimateInput {
  nowMs: number;
  priority: WarmingPriority;
  /** Entries going real-time / through the batch API. */
  realtime: number;
  batchApi: number;
  /** Free real-time slots (at least 1 is assumed). */
  freeSlots?: number;
  realtimeLatencyMs?: number;
  batchLatencyMs?: number;
  /** Job held until then. */
  notBeforeMs?: number;
  /** Non-URGENT real-time warms deferred by the ANY window's slot-load rule: they start then (planWarmingPage). */
  realtimeDeferredUntilMs?: number;
  /**
   * BACKGROUND batch-API warms: when their children submit, in the members' own LOW_UTILIZATION window (planWarmingPage,
   * the child's own planning). Without it (a job planned before it was recorded) the window in the platform's default
   * time zone is assumed.
   */
  batchApiStartsAtMs?: number;
}

/**
 * When a warming job should be done, by the path it takes: real-time = entries × 13.5 s ÷ free slots, from when the
 * slot-load rule lets non-URGENT real-time warms start (realtimeDeferredUntilMs, when they are deferred); batch API =
 * the Stedi batch turnaround (batch-API children never wait on slot load); BACKGROUND batch work starts when its
 * children submit in their members' LOW_UTILIZATION window (batchApiStartsAtMs; else 02:00 in the platform's default
 * time zone). The later of the parts present; now when nothing is fetched.
 */
export function estimateWarmCompletionMs(i: WarmEstimateInput): number {
  const start = Math.max(i.nowMs, i.notBeforeMs ?? 0);
  let end = start;
  if (i.realtime > 0) {
    const realtimeStart = Math.max(start, i.realtimeDeferredUntilMs ?? 0);
    end = Math.max(end, realtimeStart + Math.ceil((i.realtime * (i.realtimeLatencyMs ?? REALTIME_CHECK_ESTIMATE_MS)) / Math.max(1, i.freeSlots ?? 1)));
  }
  if (i.batchApi > 0) {
    const windowStart = i.batchApiStartsAtMs ?? hourWindowSlot('LOW_UTILIZATION', start, DEFAULT_TIME_ZONE).startMs;
    const batchStart = i.priority === 'BACKGROUND' ? Math.max(start, windowStart) : start;
    end = Math.max(end, batchStart + (i.batchLatencyMs ?? DEFAULT_BATCH_LATENCY_ESTIMATE_MS));
  }
  return end;
}
