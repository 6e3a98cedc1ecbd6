import { createHmac, timingSafeEqual } from 'node:crypto';
import { FieldError } from './errors';

/**
 * Opaque page tokens: `<payload>.<mac>` (base64url), the MAC an HMAC-SHA256 over the token kind, the scope it
 * was issued for (a batch id, a list query) and the payload, under a server secret. A token that was not issued
 * by us, was edited, or belongs to another batch or query is refused with `invalid_argument` naming the field,
 * before anything reads it; a valid one decodes to exactly what we put in.
 */
export interface PageTokenCodec {
  encode(kind: string, scope: string, data: unknown): string;
  /** Throws FieldError(field) unless `token` was issued by `encode(kind, scope, …)` with our secret. */
  decode<T>(kind: string, scope: string, token: string, field: string): T;
}

const MAC_BYTES = 18;

export function createPageTokenCodec(secret: string): PageTokenCodec {
  if (secret === '') throw new Error('page token secret must not be empty');
  const mac = (kind: string, scope: string, payload: string) =>
    createHmac('sha256', secret).update(`rte-page-token\n${kind}\n${scope}\n${payload}`).digest().subarray(0, MAC_BYTES);
  return {
    encode(kind, scope, data) {
      const payload = Buffer.from(JSON.stringify(data)).toString('base64url');
      return `${payload}.${mac(kind, scope, payload).toString('base64url')}`;
    },
    decode<T>(kind: string, scope: string, token: string, field: string): T {
      const bad = () => new FieldError(field, 'not a page token issued for this request (pass back next_…_page_token unchanged, with the same request)');
      if (token.length > 4096) throw bad();
      const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
      if (!m) throw bad();
      // Compare the encoded text: base64url decoding ignores trailing junk, so a decoded comparison would not.
      const given = Buffer.from(m[2]!);
      const want = Buffer.from(mac(kind, scope, m[1]!).toString('base64url'));
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw bad();
      try {
        return JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as T;
      } catch {
        throw bad();
      }
    },
  };
}
