import { WorkflowFailedError, type Client } from '@temporalio/client';
import { TerminatedFailure } from '@temporalio/common';
import type { ChildRunReader } from './ports';

/** Reading a closed workflow's result is one history read; bounded so a slow frontend cannot hold a page's finalize. */
const READ_TIMEOUT_MS = 5_000;

/**
 * ChildRunReader over Temporal: the child's result, whose TerminatedFailure message is the reason given to
 * `temporal workflow terminate --reason` (as GetWarmingJob reads a terminated warming workflow). `client` is a getter
 * so the worker can hand in its activity-context client (no connection of our own).
 */
export function createTemporalChildRunReader(client: () => Client, timeoutMs = READ_TIMEOUT_MS): ChildRunReader {
  return {
    async terminationReason(workflowId) {
      const c = client();
      try {
        await c.withDeadline(Date.now() + timeoutMs, () => c.workflow.getHandle(workflowId).result());
        return undefined;
      } catch (err) {
        const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
        return cause instanceof TerminatedFailure ? cause.message.slice(0, 300) : undefined;
      }
    },
  };
}
