import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import { checkWebhookTarget, urlPort, type WebhookTargetPolicy } from '../../lib/batch/webhook-target';
import { signedHeaders } from './signing';
import { guardedLookup, WebhookTargetRefused } from './target-guard';

/** Per-client webhook secrets (`whsec_...`). Current secret first; older ones while rotating. */
export interface WebhookSecretStore {
  secretsFor(clientService: string): Promise<readonly string[]>;
}

/** Whether a client service can be sent signed webhooks (its own secret or the "*" default). */
export function hasWebhookSecret(secrets: Readonly<Record<string, string | readonly string[]>>, clientService: string): boolean {
  const s = secrets[clientService] ?? secrets['*'];
  return s !== undefined && s.length > 0;
}

export function createStaticWebhookSecretStore(secrets: Readonly<Record<string, string | readonly string[]>>): WebhookSecretStore {
  return {
    async secretsFor(clientService) {
      // "*": the secret of every service without its own (the local stack's documented dev secret).
      const s = secrets[clientService] ?? secrets['*'];
      if (s === undefined) return [];
      return typeof s === 'string' ? [s] : s;
    },
  };
}

export interface WebhookMetrics {
  onDelivery(outcome: DeliveryOutcome, eventType: string): void;
}

export interface WebhookActivityDeps {
  secrets: WebhookSecretStore;
  policy: WebhookTargetPolicy;
  logger: Logger;
  /** Per attempt; Standard Webhooks suggests 15–30 s. Default 15 s. */
  timeoutMs?: number;
  nowMs?: () => number;
  metrics?: WebhookMetrics;
  /** Injected DNS resolver (tests). */
  resolve?: Parameters<typeof guardedLookup>[2];
}

export interface DeliverWebhookInput {
  url: string;
  webhookId: string;
  /** Exact JSON bytes to send (built once by the batch workflow so every retry sends the same body). */
  body: string;
  eventType: string;
  batchId: string;
  clientService: string;
  attempt: number;
  /**
   * No attempt follows this one (BEST_EFFORT's only attempt, or the last of the retry schedule): a failure that
   * would otherwise be `retry` is reported `exhausted`. Unset by delivery workflows started before patch
   * `webhook-final-attempt-v1` (their last failure stays `retry`).
   */
  finalAttempt?: boolean;
}

/**
 * delivered: 2xx. retry: a failure worth retrying (5xx, 429, 3xx, timeouts, network) with another attempt to come.
 * exhausted: the same failure on the final attempt (BEST_EFFORT's only one, or the schedule's last): the delivery is
 * given up. gone: 410 (the receiver asked us to stop). refused: the target is not allowed or we cannot sign (no retry
 * can help).
 */
export type DeliveryOutcome = 'delivered' | 'retry' | 'exhausted' | 'gone' | 'refused';

export interface DeliverWebhookResult {
  outcome: DeliveryOutcome;
  httpStatus?: number;
  /** Server-requested delay (Retry-After on 429/502/503/504), ms. */
  retryAfterMs?: number;
  error?: string;
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(MAX_RETRY_AFTER_MS, Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - nowMs));
}

export function classifyResponse(status: number, finalAttempt = false): DeliveryOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'gone';
  return finalAttempt ? 'exhausted' : 'retry';
}

/**
 * One delivery attempt. The retry schedule lives in `webhookDeliveryWorkflow` (durable timers), so this activity
 * never throws for an HTTP outcome: it reports it. Redirects are not followed (a 3xx is a failure).
 */
export function createWebhookActivities(deps: WebhookActivityDeps) {
  const timeoutMs = deps.timeoutMs ?? 15_000;
  const now = deps.nowMs ?? Date.now;

  function post(url: URL, headers: Record<string, string>, body: string): Promise<IncomingMessage> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      // The lookup checks the addresses the socket connects to, on this URL's port (see target-guard.ts).
      const lookup = guardedLookup(deps.policy, urlPort(url), deps.resolve);
      const req = send(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup, timeout: timeoutMs }, (res) => {
        // Drain so the socket is released; the body is not needed.
        res.resume();
        res.on('end', () => resolve(res));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  return {
    async deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
      const log = deps.logger.child({ batchId: input.batchId, webhookId: input.webhookId, eventType: input.eventType, attempt: input.attempt });
      const record = (r: DeliverWebhookResult): DeliverWebhookResult => {
        deps.metrics?.onDelivery(r.outcome, input.eventType);
        return r;
      };
      const check = checkWebhookTarget(input.url, deps.policy);
      if (!check.ok) {
        log.warn({ reason: check.reason }, 'webhook target refused');
        return record({ outcome: 'refused', error: check.reason });
      }
      const secrets = await deps.secrets.secretsFor(input.clientService);
      if (secrets.length === 0) {
        log.warn({ clientService: input.clientService }, 'no webhook secret for client service');
        return record({ outcome: 'refused', error: 'no webhook secret configured for the client service' });
      }
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'rte-platform-webhooks/1',
        'x-batch-event-type': input.eventType,
        'x-batch-job-id': input.batchId,
        ...signedHeaders({ webhookId: input.webhookId, timestampSec: Math.floor(now() / 1000), body: input.body, secrets }),
      };
      try {
        const res = await post(check.url, headers, input.body);
        const status = res.statusCode ?? 0;
        const outcome = classifyResponse(status, input.finalAttempt === true);
        const retryAfterMs = [429, 502, 503, 504].includes(status)
          ? parseRetryAfter(typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : undefined, now())
          : undefined;
        if (outcome === 'exhausted') log.warn({ status, outcome }, 'webhook attempt failed; no attempt follows');
        else log.info({ status, outcome }, 'webhook attempt');
        return record({ outcome, httpStatus: status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      } catch (err) {
        if (err instanceof WebhookTargetRefused) {
          log.warn({ host: err.host }, 'webhook target resolves to a refused address');
          return record({ outcome: 'refused', error: err.message });
        }
        const message = err instanceof Error ? err.message : String(err);
        const outcome: DeliveryOutcome = input.finalAttempt === true ? 'exhausted' : 'retry';
        log.warn({ error: message, outcome }, 'webhook attempt failed');
        return record({ outcome, error: message });
      }
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
