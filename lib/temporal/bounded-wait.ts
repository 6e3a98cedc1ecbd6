import { WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { within } from '../within';

// SubmitBatch's and WarmCache's bounded wait for a workflow's acceptance update (probe p15: with a backlogged task
// queue the update's workflow task never runs, and the API held calls for minutes).

/**
 * A call that waits for the workflow, ended at `acceptBy`. The gRPC deadline (client.withDeadline) applies to every
 * call made in the scope, including the re-sends of update-with-start's loop and its outcome polls, so each ends at
 * that point; an abort signal would not do (the SDK listens for 'abort' only on calls already in flight when it
 * fires, so a re-send made after it would wait unbounded). `within` is the last resort for a layer that ignores both.
 */
export function untilAcceptBy<T>(client: Client, acceptBy: number | undefined, fn: () => Promise<T>): Promise<T> {
  if (acceptBy === undefined) return fn();
  return within(Math.max(0, acceptBy - Date.now()) + 250, client.withDeadline(acceptBy, fn));
}

/** The wait ran out (gRPC DEADLINE_EXCEEDED / CANCELLED, the SDK's update timeout error, or `within`'s). */
export function waitRanOut(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === 4 || code === 1) return true;
    if (/DEADLINE_EXCEEDED|deadline exceeded/i.test(e.message)) return true;
  }
  return false;
}
