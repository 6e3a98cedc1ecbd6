import type { PlanMembersInput, PlanMembersResult } from '../../activities/batch/activities';

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
