import { idleStediLoad, planAllAsRefresh, realtimeTestOptions } from '../helpers/batch-stand-ins';
import type { DeliverWebhookInput, DeliverWebhookResult } from '../../activities/webhooks/activities';
import type { BatchEventName, ResolvedBatchOptions } from '../../lib/batch/types';
import type { BatchWorkflowResult } from '../../workflows/batch.defs';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/**
 * Probe batch #2: a webhook filter following the proto's example, ["STARTED", "COMPLETED", "FAILED"], never heard
 * that its batch ended PARTIALLY_COMPLETED or CANCELLED. A filter naming any terminal kind now receives the batch's
 * terminal event, whatever its kind (the event keeps its own type). The batch workflow on the real dev server, with
 * stand-in activities; the webhook delivery child workflow runs and its delivery activity records what it was given.
 */
const options = (eventTypes: BatchEventName[]): ResolvedBatchOptions =>
  realtimeTestOptions({ notifications: { kafkaTopic: 'unused-in-this-test', callbackUrl: 'https://hooks.example.com/batch', eventTypes, deliveryMode: 'BEST_EFFORT' } });

describe('webhook event_types filter and the terminal event (integration)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it.each([
    [['STARTED', 'COMPLETED', 'FAILED'], ['STARTED', 'PARTIALLY_COMPLETED']],
    [['COMPLETED'], ['PARTIALLY_COMPLETED']],
    [['STARTED'], ['STARTED']],
    [['CANCELLED'], ['PARTIALLY_COMPLETED']],
  ] as [BatchEventName[], BatchEventName[]][])('filter %j delivers %j for a batch that ends PARTIALLY_COMPLETED', async (filter, expected) => {
    const taskQueue = uniqueName('tq-hook-filter');
    // m_0 succeeds, m_1 gets a payer error: the batch ends PARTIALLY_COMPLETED.
    const members = ['m_0', 'm_1'];
    const delivered: DeliverWebhookInput[] = [];
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        getStediLoad: idleStediLoad,
        planMembers: planAllAsRefresh(members),
        async refreshEligibility(input: EligibilityRefreshInput) {
          return { outcome: input.memberId === 'm_1' ? ('error' as const) : ('success' as const), fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
        },
        async recordMemberErrors() {},
        async publishBatchEvent() {},
        async releaseMemberList() {},
        async deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
          delivered.push(input);
          return { outcome: 'delivered', httpStatus: 200 };
        },
      },
    });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/hook-filter-test/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'hook-filter-test', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 2 }, options: options(filter) }],
      });
      const view = (await handle.result()) as BatchWorkflowResult;
      expect(view.status).toBe('PARTIALLY_COMPLETED');
      const deadline = Date.now() + 30_000;
      while (delivered.length < expected.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      // A moment more, so a delivery that should not happen would have been seen.
      await new Promise((r) => setTimeout(r, 1_000));
      const types = [...new Set(delivered.map((d) => d.eventType))];
      expect(types.sort()).toEqual([...expected].sort());
      // The terminal event keeps its own type in the body too.
      const terminal = delivered.find((d) => d.eventType === 'PARTIALLY_COMPLETED');
      if (terminal) expect((JSON.parse(terminal.body) as { type: string }).type).toBe('batch.partially_completed');
    });
  }, 120_000);
});
