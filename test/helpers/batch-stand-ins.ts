import type { PlanMembersInput, PlanMembersResult } from '../../activities/batch/activities';
import type { ResolvedBatchOptions } from '../../lib/batch/types';

/** Batch-workflow activity stand-ins shared by integration tests that run batchWorkflow on their own test worker. */

/** Stedi idle: every slot free, so nothing waits on load. */
export async function idleStediLoad() {
  return { limit: 15, inUse: 0, freeSlots: 15, load: 0 };
}

/** A planner that finds nothing cached: every member of `members` in the page is to be refreshed, at once. */
export function planAllAsRefresh(members: readonly string[]) {
  return async (input: PlanMembersInput): Promise<PlanMembersResult> => {
    const refresh = members.slice(input.start, input.start + input.count).map((memberId, k) => ({ i: input.start + k, memberId, atMs: 0 }));
    return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: refresh.length, refresh, windows: {} };
  };
}

/**
 * The options these tests run batchWorkflow with: HIGH, REALTIME_ONLY, window ANY (no window waits), 15 slots, one
 * attempt per member, no webhook; `overrides` replace whole fields (e.g. notifications).
 */
export function realtimeTestOptions(overrides: Partial<ResolvedBatchOptions> = {}): ResolvedBatchOptions {
  return {
    priority: 'HIGH',
    strategy: 'REALTIME_ONLY',
    schedulingWindow: 'ANY',
    maxConcurrentRequests: 15,
    timeoutMs: 3_600_000,
    retry: { maxAttempts: 1, initialIntervalMs: 200, maxIntervalMs: 1_000, backoffMultiplier: 2 },
    notifications: { kafkaTopic: 'unused-in-this-test', eventTypes: [], deliveryMode: 'BEST_EFFORT' },
    cacheMode: 'DEFAULT',
    ...overrides,
  };
}
