import type { Client } from '@temporalio/client';
import type { BatchVisibilitySnapshot } from '../lib/ops-gauges';
import { RteBatchStartedAt } from '../workflows/search-attributes';

/** Open (not yet terminal) batch statuses, as the workflow sets RteBatchStatus. */
export const OPEN_BATCH_STATUSES = ['PENDING', 'WAITING', 'RUNNING', 'PAUSED'] as const;
/** Running batches inspected for the oldest start per scrape (visibility page size; more is not an ops view). */
const MAX_RUNNING_SCANNED = 500;

/**
 * Reads open batches from Temporal visibility for rte_batch_workflows{status} and
 * rte_batch_oldest_running_age_seconds. Cheap count queries plus one bounded list of RUNNING batches.
 */
export function createBatchVisibilityReader(temporal: Client, now: () => number = Date.now): () => Promise<BatchVisibilitySnapshot> {
  const base = `WorkflowType='batchWorkflow' AND ExecutionStatus='Running'`;
  return async () => {
    const byStatus: Record<string, number> = {};
    for (const status of OPEN_BATCH_STATUSES) {
      byStatus[status] = (await temporal.workflow.count(`${base} AND RteBatchStatus='${status}'`)).count;
    }
    let oldestStartMs: number | undefined;
    let seen = 0;
    for await (const wf of temporal.workflow.list({ query: `${base} AND RteBatchStatus='RUNNING'`, pageSize: 100 })) {
      const started = wf.typedSearchAttributes.get(RteBatchStartedAt);
      if (started instanceof Date && (oldestStartMs === undefined || started.getTime() < oldestStartMs)) oldestStartMs = started.getTime();
      if (++seen >= MAX_RUNNING_SCANNED) break;
    }
    return { byStatus, oldestRunningAgeSeconds: oldestStartMs === undefined ? 0 : Math.max(0, (now() - oldestStartMs) / 1000) };
  };
}
