import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createWebhookActivities, createStaticWebhookSecretStore } from '../../activities/webhooks/activities';
import { generateWebhookSecret } from '../../activities/webhooks/signing';
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
      policy: { allowedHosts: ['127.0.0.1:9'], allowHttp: true },
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

  // Probe p15 #7: the attempt after which none follows is counted `exhausted` (rte_batch_webhook_deliveries_total), not
  // `retry`: BEST_EFFORT's only attempt and the schedule's last one.
  test('BEST_EFFORT and the last scheduled attempt of AT_LEAST_ONCE count exhausted; earlier failures retry', async () => {
    let answered = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        answered++;
        res.writeHead(500).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}/hook`;
    const taskQueue = uniqueName('tq-webhook-exhausted');
    const outcomes: string[] = [];
    const activities = createWebhookActivities({
      secrets: createStaticWebhookSecretStore({ '*': generateWebhookSecret() }),
      policy: { allowedHosts: [`127.0.0.1:${port}`], allowHttp: true },
      logger: silentLogger(),
      metrics: { onDelivery: (o) => void outcomes.push(o) },
    });
    const worker = await createTestWorker(t, { taskQueue, activities });
    const failureOf = async (mode: 'BEST_EFFORT' | 'AT_LEAST_ONCE'): Promise<string> => {
      const handle = await t.client.workflow.start(webhookDeliveryWorkflow, {
        taskQueue,
        workflowId: uniqueName(`batch/svc/job/webhook/evt-${mode}`),
        args: [{ url, webhookId: 'evt2_1_x', body: '{}', eventType: 'COMPLETED', batchId: 'batch/svc/job', clientService: 'svc', mode, scheduleMs: [0, 0] }],
      });
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      return (err as WorkflowFailedError).cause?.message ?? '';
    };
    try {
      await worker.runUntil(async () => {
        expect(await failureOf('BEST_EFFORT')).toMatch(/^webhook exhausted after 1 attempt\(s\) \(last HTTP 500\)/);
        expect(outcomes.splice(0)).toEqual(['exhausted']);
        expect(await failureOf('AT_LEAST_ONCE')).toMatch(/^webhook exhausted after 2 attempt\(s\) \(last HTTP 500\)/);
        expect(outcomes.splice(0)).toEqual(['retry', 'exhausted']);
      });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(answered).toBe(3);
  });
});
