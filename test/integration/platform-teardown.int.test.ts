import { silentLogger } from '../../lib/logger';
import { startTestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Probe p16 #5: integration tests run on the stack's shared namespace, each platform on task queues of its own. A
 * workflow a test left running there (rtectl.int's Ctrl-C batch, a stopped warming job) stayed Running for good once
 * the platform's worker was gone: it set off RteBatchStuck 8 h later and answered `unavailable` forever. Closing the
 * platform terminates what still runs on its queues.
 */
test('closing a test platform terminates the workflows still running on its task queues (integration)', async () => {
  const p = await startTestPlatform({ population: 5, sim: { logger: silentLogger() } });
  const workflowId = uniqueName('teardown-leftover');
  let closed = false;
  try {
    // A workflow type the worker does not know: its task fails and it stays Running, as a left-over batch would.
    await p.temporal.workflow.start('noSuchWorkflowForTeardownTest', { taskQueue: p.config.temporal.taskQueue, workflowId, args: [] });
    // Visibility lists it (eventually consistent) before the platform closes.
    const listed = async () => {
      for await (const w of p.temporal.workflow.list({ query: `WorkflowId = '${workflowId}' AND ExecutionStatus = 'Running'` })) if (w.workflowId === workflowId) return true;
      return false;
    };
    for (let i = 0; i < 100 && !(await listed()); i++) await new Promise((r) => setTimeout(r, 100));
    await p.close();
    closed = true;
    const { Connection, Client } = await import('@temporalio/client');
    const connection = await Connection.connect({ address: p.config.temporal.address });
    try {
      const desc = await new Client({ connection, namespace: p.config.temporal.namespace }).workflow.getHandle(workflowId).describe();
      expect(desc.status.name).toBe('TERMINATED');
    } finally {
      await connection.close();
    }
  } finally {
    if (!closed) await p.close();
  }
}, 120_000);
