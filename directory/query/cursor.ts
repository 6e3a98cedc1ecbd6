import { createHash } from 'node:crypto';
import { toJson } from '@bufbuild/protobuf';
import { FieldError } from '../../lib/errors';
import { MemberQuerySchema, type MemberQuery } from '../../gen/rte/v1/member_query_pb';

/**
 * Opaque keyset cursor: base64url(JSON) of the last row's sort key and member id, the evaluation time
 * of the first page (so relative filters such as within_last stay fixed while paging) and a hash of the
 * query without limit/cursor (so a cursor cannot be replayed against a different query). Not signed:
 * a tampered cursor can only move the position within the same query, and every value in it reaches
 * SQL as a typed parameter.
 */
export interface CursorState {
  /** Query hash. */
  h: string;
  /** Last sort key (ISO timestamp, YYYY-MM-DD, number or string depending on the sort field; null for member-id order). */
  k: string | number | null;
  /** Last member id. */
  id: string;
  /** Evaluation time of the first page (ISO). */
  t: string;
}

function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Hash of everything that selects or orders members (all fields except limit and cursor). */
export function queryHash(query: MemberQuery): string {
  const json = toJson(MemberQuerySchema, query) as Record<string, unknown>;
  delete json['limit'];
  delete json['cursor'];
  return createHash('sha256').update(stable(json)).digest('base64url').slice(0, 22);
}

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

const FIELD = 'member_query.cursor';

export function decodeCursor(cursor: string, expectedHash: string): CursorState {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length > 2048) throw new Error('bad alphabet');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new FieldError(FIELD, 'malformed cursor');
  }
  const c = parsed as Partial<CursorState> | null;
  if (
    !c ||
    typeof c !== 'object' ||
    typeof c.h !== 'string' ||
    typeof c.id !== 'string' ||
    typeof c.t !== 'string' ||
    Number.isNaN(Date.parse(c.t)) ||
    !(c.k === null || typeof c.k === 'string' || (typeof c.k === 'number' && Number.isFinite(c.k)))
  ) {
    throw new FieldError(FIELD, 'malformed cursor');
  }
  if (c.h !== expectedHash) throw new FieldError(FIELD, 'cursor was issued for a different query');
  return { h: c.h, k: c.k, id: c.id, t: c.t };
}
