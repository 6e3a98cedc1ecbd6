import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EndedBatchRef, EndedBatchSource } from '../activities/batch/terminal-sweep';
import { createTemporalBatchPort } from '../api/services/batch-temporal-port';
import type { EndedBy } from '../workflows/terminal-sweep.defs';
import { RteBatchStatus } from '../workflows/search-attributes';

const ENDED_BY: Record<string, EndedBy> = { TERMINATED: 'Terminated', TIMED_OUT: 'TimedOut', FAILED: 'Failed' };

/**
 * The terminal sweep's view of Temporal, through the worker's own client (`client` is a getter: the activity context's).
 * A batch's last state is read exactly as GetBatchStatus reads it (createTemporalBatchPort's status: describe, then the
 * batch's own batchStatus query replayed on a worker, FAILED with WORKFLOW_TERMINATED / _TIMED_OUT / _FAILED), so
 * the swept event and GetBatchStatus agree.
 */
export function createTemporalEndedBatches(client: () => Client): EndedBatchSource {
  return {
    async list(query, limit) {
      const out: EndedBatchRef[] = [];
      if (limit <= 0) return out;
      for await (const w of client().workflow.list({ query, pageSize: Math.min(limit, 1_000) })) {
        const endedBy = ENDED_BY[w.status.name];
        if (endedBy) out.push({ batchId: w.workflowId, endedBy, closedAtMs: w.closeTime?.getTime() ?? Date.now() });
        if (out.length >= limit) break;
      }
      return out;
    },
    async listIds(query, limit) {
      const out: string[] = [];
      if (limit <= 0) return out;
      for await (const w of client().workflow.list({ query, pageSize: Math.min(limit, 1_000) })) {
        out.push(w.workflowId);
        if (out.length >= limit) break;
      }
      return out;
    },
    async lastState(batchId) {
      const c = client();
      let desc;
      try {
        desc = await c.workflow.getHandle(batchId).describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
      const view = await createTemporalBatchPort(c).status(batchId);
      if (!view) return undefined;
      const shown = desc.typedSearchAttributes.get(RteBatchStatus);
      return { executionStatus: desc.status.name, ...(shown !== undefined ? { shownStatus: shown } : {}), ...(desc.closeTime ? { closedAtMs: desc.closeTime.getTime() } : {}), view };
    },
  };
}
