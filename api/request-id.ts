import { randomUUID } from 'node:crypto';

/**
 * A client's `x-request-id` is kept when it is 1-128 of [A-Za-z0-9._:-] (UUIDs, ULIDs, trace ids); anything else,
 * or none, gets a fresh UUID. The id goes into the answer's header and every log and audit line, so an unchecked one
 * let a caller write 8 KB into each audit line, or bidi and control characters an operator's terminal would render
 * (probe p18 F3). It is a correlation id, not a unique one: two callers may send the same, and the audit line's
 * `caller` tells them apart.
 */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(given: string | string[] | null | undefined): string {
  return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}
