import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks v1 signing (symmetric `v1`, HMAC-SHA256). The signed content is
 * `{webhook-id}.{webhook-timestamp}.{raw body}`; the header lists `v1,<base64>` entries separated by spaces, so
 * several secrets can sign during a rotation. Secrets are `whsec_` + base64 of 24–64 random bytes.
 */
export const SECRET_PREFIX = 'whsec_';

export function generateWebhookSecret(bytes = 32): string {
  return SECRET_PREFIX + randomBytes(bytes).toString('base64');
}

export function secretKey(secret: string): Buffer {
  const raw = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(raw, 'base64');
  if (key.length < 24 || key.length > 64) throw new Error('webhook secret must be base64 of 24-64 bytes (whsec_...)');
  return key;
}

export interface SignInput {
  /** Event id: identical on every retry (the consumer's idempotency key). Must not contain '.'. */
  webhookId: string;
  /** Unix seconds of this attempt. */
  timestampSec: number;
  /** Exact bytes sent. */
  body: string;
  /** Current secret first; older ones during rotation. */
  secrets: readonly string[];
}

export function signatureHeader(input: SignInput): string {
  if (input.webhookId.includes('.')) throw new Error('webhook-id must not contain "."');
  if (!Number.isInteger(input.timestampSec)) throw new Error('webhook-timestamp must be integer seconds');
  const content = `${input.webhookId}.${input.timestampSec}.${input.body}`;
  return input.secrets.map((s) => `v1,${createHmac('sha256', secretKey(s)).update(content).digest('base64')}`).join(' ');
}

export function signedHeaders(input: SignInput): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': input.webhookId,
    'webhook-timestamp': String(input.timestampSec),
    'webhook-signature': signatureHeader(input),
  };
}
