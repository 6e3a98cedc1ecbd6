import { proxyActivities, sleep } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks/activities';
import { webhookRetryDelayMs } from '../lib/batch/webhook-schedule';
import type { WebhookDeliveryInput, WebhookDeliveryResult } from './batch.defs';

const { deliverWebhook } = proxyActivities<WebhookActivities>({
  // One HTTP attempt (15 s timeout) per activity; the retry schedule below is ours, not Temporal's, so only
  // worker-side failures (crash, lost task) are retried by the activity policy.
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
});

/**
 * Delivers one signed webhook event, retrying on the Standard Webhooks schedule (immediately, 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 14 h, 20 h, 24 h, ±20 % jitter) with durable timers, so retries survive worker restarts.
 * BEST_EFFORT makes one attempt. 410 stops at once; a Retry-After longer than the next scheduled delay is honoured.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const maxAttempts = input.mode === 'BEST_EFFORT' ? 1 : Number.POSITIVE_INFINITY;
  let lastStatus: number | undefined;
  let retryAfterMs = 0;
  let attempts = 0;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const delay = webhookRetryDelayMs(attempt, input.webhookId, input.scheduleMs);
    if (delay === undefined) break;
    const wait = Math.max(delay, retryAfterMs);
    if (wait > 0) await sleep(wait);
    attempts = attempt + 1;
    const r = await deliverWebhook({
      url: input.url,
      webhookId: input.webhookId,
      body: input.body,
      eventType: input.eventType,
      batchId: input.batchId,
      clientService: input.clientService,
      attempt: attempt + 1,
    });
    lastStatus = r.httpStatus ?? lastStatus;
    const base = { attempts: attempt + 1, ...(lastStatus !== undefined ? { lastStatus } : {}) };
    if (r.outcome === 'delivered') return { delivered: true, outcome: 'delivered', ...base };
    if (r.outcome === 'gone') return { delivered: false, outcome: 'gone', ...base };
    if (r.outcome === 'refused') return { delivered: false, outcome: 'refused', ...base };
    retryAfterMs = r.retryAfterMs ?? 0;
  }
  return { delivered: false, outcome: 'exhausted', attempts, ...(lastStatus !== undefined ? { lastStatus } : {}) };
}
