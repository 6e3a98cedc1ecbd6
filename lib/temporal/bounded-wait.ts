import { WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { within } from '../within';

// Bounded Temporal calls from the API: SubmitBatch's and WarmCache's wait for a workflow's acceptance update (probe p15:
// with a backlogged task queue the update's workflow task never runs, and the API held calls for minutes), and the
// describes / queries that answer a status within a budget.

/** How long past its gRPC deadline `within` waits before it gives up on a call that ignored the deadline. */
const LAST_RESORT_GRACE_MS = 250;

/**
 * `fn`'s Temporal calls, ended `ms` from now. The gRPC deadline (client.withDeadline) applies to every call made in
 * the scope, including the re-sends of update-with-start's loop and its outcome polls, so each ends at that point; an
 * abort signal would not do (the SDK listens for 'abort' only on calls already in flight when it fires, so a re-send
 * made after it would wait unbounded). `within` (the deadline plus 250 ms) is the last resort for a layer that
 * ignores both.
 */
export function boundedTemporalCall<T>(client: Pick<Client, 'withDeadline'>, ms: number, fn: () => Promise<T>, now: () => number = Date.now): Promise<T> {
  const budget = Math.max(0, ms);
  return within(budget + LAST_RESORT_GRACE_MS, client.withDeadline(now() + budget, fn));
}

/** A call that waits for the workflow, ended at `acceptBy` (epoch ms; undefined = unbounded). */
export function untilAcceptBy<T>(client: Pick<Client, 'withDeadline'>, acceptBy: number | undefined, fn: () => Promise<T>, now: () => number = Date.now): Promise<T> {
  if (acceptBy === undefined) return fn();
  return boundedTemporalCall(client, acceptBy - now(), fn, now);
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
