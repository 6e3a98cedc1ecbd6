import { WorkflowIdConflictPolicy } from '@temporalio/common';
import {
  eligibilityRefreshStatusQuery,
  type EligibilityRefreshInput,
  type EligibilityRefreshResult,
} from '../../workflows/eligibility-refresh.defs';
import type { eligibilityRefreshWorkflow } from '../../workflows/eligibility-refresh';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/** Foundation check: a real workflow on the dev server, run by a real worker, read back with a query. */
describe('workflow round trip on the dev server (integration)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('runs the eligibility refresh workflow and answers its status query while running and after', async () => {
    const taskQueue = uniqueName('tq-query');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls: EligibilityRefreshInput[] = [];
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        async refreshEligibility(input: EligibilityRefreshInput): Promise<EligibilityRefreshResult> {
          calls.push(input);
          await gate;
          return { outcome: 'success', fetchedAt: 1_000, expiresAt: 2_000, stediCheckId: 'ec_test' };
        },
      },
    });
    await worker.runUntil(async () => {
      const workflowId = uniqueName('eligibility/test');
      const input: EligibilityRefreshInput = { memberId: 'm_1', operation: 'check_eligibility', requester: { kind: 'interactive' }, source: 'realtime' };
      const handle = await ctx.client.workflow.start<typeof eligibilityRefreshWorkflow>('eligibilityRefreshWorkflow', {
        taskQueue,
        workflowId,
        args: [input],
      });
      // A second start with the same id attaches to the running one instead of starting another.
      const second = await ctx.client.workflow.start<typeof eligibilityRefreshWorkflow>('eligibilityRefreshWorkflow', {
        taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      });
      expect(second.firstExecutionRunId).toBe(handle.firstExecutionRunId);

      await waitFor(() => calls.length === 1);
      expect(await handle.query(eligibilityRefreshStatusQuery)).toEqual({ phase: 'refreshing' });
      release();
      expect(await handle.result()).toEqual({ outcome: 'success', fetchedAt: 1_000, expiresAt: 2_000, stediCheckId: 'ec_test' });
      expect(await handle.query(eligibilityRefreshStatusQuery)).toEqual({ phase: 'completed' });
      expect(calls).toHaveLength(1);
    });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
