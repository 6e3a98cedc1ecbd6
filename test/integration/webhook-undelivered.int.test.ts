import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createWebhookActivities, createStaticWebhookSecretStore } from '../../activities/webhooks/activities';
import { silentLogger } from '../../lib/logger';
import { webhookDeliveryWorkflow } from '../../workflows/batch-webhook-delivery';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/** Issue 10: a refused webhook delivery (no signing secret for the client) must not look successful. */
describe('webhookDeliveryWorkflow: an undelivered event ends FAILED, saying why', () => {
  let t: TemporalTestContext;
  beforeAll(async () => {
    t = await connectTemporal();
  });
  afterAll(async () => {
    await t?.close();
  });

  test('no secret for the client service → FAILED WebhookNotDelivered (refused), not a completed workflow', async () => {
    const taskQueue = uniqueName('tq-webhook-undelivered');
    const outcomes: string[] = [];
    const activities = createWebhookActivities({
      secrets: createStaticWebhookSecretStore({}),
      policy: { allowedHosts: ['127.0.0.1'], allowHttp: true },
      logger: silentLogger(),
      metrics: { onDelivery: (o) => void outcomes.push(o) },
    });
    const worker = await createTestWorker(t, { taskQueue, activities });
    await worker.runUntil(async () => {
      const handle = await t.client.workflow.start(webhookDeliveryWorkflow, {
        taskQueue,
        workflowId: uniqueName('batch/svc/job/webhook/evt'),
        args: [{ url: 'http://127.0.0.1:9/hook', webhookId: 'evt2_1_x', body: '{}', eventType: 'COMPLETED', batchId: 'batch/svc/job', clientService: 'svc-without-secret', mode: 'AT_LEAST_ONCE' }],
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('WebhookNotDelivered');
      expect((cause as ApplicationFailure).message).toContain('refused');
      expect((cause as ApplicationFailure).message).toContain('no webhook secret');
      expect((await handle.describe()).status.name).toBe('FAILED');
    });
    expect(outcomes).toEqual(['refused']);
  });
});
