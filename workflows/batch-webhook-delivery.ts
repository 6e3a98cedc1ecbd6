import { ApplicationFailure, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks/activities';
import { webhookRetryDelayMs } from '../lib/batch/webhook-schedule';
import { WEBHOOK_DELIVERY_WORKFLOW_TYPE, webhookDeliveryStatusQuery, type WebhookDeliveryInput, type WebhookDeliveryProgress, type WebhookDeliveryResult } from './batch.defs';
import { ignoredSignals } from './ignored-signals';

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
  let progress: WebhookDeliveryProgress = { attempts: 0 };
  setHandler(webhookDeliveryStatusQuery, () => progress);
  ignoredSignals(WEBHOOK_DELIVERY_WORKFLOW_TYPE).watchUnknown([]);
  // Asked once, at the start: tells the activity which attempt is the last, so a delivery given up is counted
  // `exhausted` rather than `retry` (probe p15 #7). Deliveries started before the patch keep the old activity input.
  const markFinalAttempt = patched('webhook-final-attempt-v1');
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const delay = webhookRetryDelayMs(attempt, input.webhookId, input.scheduleMs);
    if (delay === undefined) break;
    const wait = Math.max(delay, retryAfterMs);
    if (wait > 0) {
      progress = { ...progress, nextAttemptAtMs: Date.now() + wait };
      await sleep(wait);
    }
    progress = { attempts: progress.attempts, ...(progress.lastError ? { lastError: progress.lastError, lastAttemptAtMs: progress.lastAttemptAtMs! } : {}) };
    attempts = attempt + 1;
    const r = await deliverWebhook({
      url: input.url,
      webhookId: input.webhookId,
      body: input.body,
      eventType: input.eventType,
      batchId: input.batchId,
      clientService: input.clientService,
      attempt: attempt + 1,
      ...(markFinalAttempt ? { finalAttempt: attempt + 1 >= maxAttempts || webhookRetryDelayMs(attempt + 1, input.webhookId, input.scheduleMs) === undefined } : {}),
    });
    lastStatus = r.httpStatus ?? lastStatus;
    const base = { attempts: attempt + 1, ...(lastStatus !== undefined ? { lastStatus } : {}) };
    if (r.outcome === 'delivered') return { delivered: true, outcome: 'delivered', ...base };
    if (r.outcome === 'gone') return notDelivered({ delivered: false, outcome: 'gone', ...base }, r.error);
    if (r.outcome === 'refused') return notDelivered({ delivered: false, outcome: 'refused', ...base }, r.error);
    retryAfterMs = r.retryAfterMs ?? 0;
    progress = { attempts: attempt + 1, lastError: attemptError(r.httpStatus, r.error), lastAttemptAtMs: Date.now() };
  }
  // The last attempt's cause, unless the message already says it ("(last HTTP 500)"): a timeout, a refused connection, a redirect.
  const cause = progress.lastError !== undefined && progress.lastError !== `HTTP ${lastStatus}` ? progress.lastError : undefined;
  return notDelivered({ delivered: false, outcome: 'exhausted', attempts, ...(lastStatus !== undefined ? { lastStatus } : {}) }, cause);
}

/** A failed attempt in words, for GetBatchStatus and the final failure. */
function attemptError(httpStatus: number | undefined, error: string | undefined): string {
  if (error) return httpStatus ? `HTTP ${httpStatus}: ${error}` : error;
  if (httpStatus === undefined) return 'no answer';
  if (httpStatus >= 300 && httpStatus < 400) return `HTTP ${httpStatus} (redirects are not followed)`;
  return `HTTP ${httpStatus}`;
}

/**
 * An undelivered event must not look delivered (issue 10): the delivery workflow ends FAILED with type
 * `WebhookNotDelivered`, the outcome in its message and the result in its details, so `temporal workflow list
 * --query "ExecutionStatus='Failed'"` finds it. (The metric rte_batch_webhook_deliveries_total{outcome} and the
 * worker's warn line come from the activity.) Histories from before this change keep completing.
 */
function notDelivered(result: WebhookDeliveryResult, error?: string): WebhookDeliveryResult {
  if (!patched('rte-webhook-undelivered-fails')) return result;
  throw ApplicationFailure.create({
    type: 'WebhookNotDelivered',
    message: `webhook ${result.outcome} after ${result.attempts} attempt(s)${result.lastStatus !== undefined ? ` (last HTTP ${result.lastStatus})` : ''}${error ? `: ${error}` : ''}`,
    nonRetryable: true,
    details: [result],
  });
}
