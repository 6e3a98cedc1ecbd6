import { loadConfig } from '../lib/config';
import { connectTemporalClient } from '../lib/temporal/connect';
import type { BatchWorkflowInput } from '../workflows/batch.defs';

/**
 * Starts one batchWorkflow (no worker needed: only its encrypted input is shown) on TEMPORAL_ADDRESS with the
 * production data converter, for scripts/codec-screenshots.sh. Prints the workflow id and run id.
 * Usage: npx tsx scripts/codec-screenshot-start.ts <workflow id> <task queue>
 */
async function main(): Promise<void> {
  const [workflowId, taskQueue] = process.argv.slice(2);
  if (!workflowId || !taskQueue) throw new Error('usage: codec-screenshot-start.ts <workflow id> <task queue>');
  const { client, connection } = await connectTemporalClient(loadConfig());
  const input: BatchWorkflowInput = {
    batchId: workflowId,
    clientService: 'docs-demo',
    clientJobId: workflowId.split('/').pop()!,
    submittedAtMs: Date.parse('2026-12-02T09:00:00Z'),
    selector: { kind: 'list', listRef: `${workflowId}#ids`, total: 250 },
    options: {
      priority: 'NORMAL',
      strategy: 'OPTIMAL',
      schedulingWindow: 'LOW_UTILIZATION',
      maxConcurrentRequests: 10,
      timeoutMs: 86_400_000,
      retry: { maxAttempts: 3, initialIntervalMs: 1_000, maxIntervalMs: 60_000, backoffMultiplier: 2 },
      notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
      cacheMode: 'DEFAULT',
    },
  };
  const h = await client.workflow.start('batchWorkflow', { taskQueue, workflowId, args: [input] });
  console.log(`${h.workflowId} ${h.firstExecutionRunId}`);
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
