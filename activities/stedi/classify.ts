import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, type ErrorTypeName } from '../../lib/errors';
import type { StediAaaError } from './types';

/**
 * What a Stedi call's outcome means for retrying it. Pure and table-driven (see classify.test.ts); the gateway
 * attaches a classification to every answer and error, and activities turn failures into Temporal
 * ApplicationFailures with `toApplicationFailure`.
 *
 * Sources: stedi-api.md §1.6-1.7 (Stedi's eligibility troubleshooting page).
 */
export type StediFailureKind =
  /** HTTP 429: the account's concurrency limit; retry as soon as a slot frees. */
  | 'throttled'
  /** AAA 42/79/80 on HTTP 200, HTTP 503/504: payer connectivity; retry with backoff. */
  | 'payer-unavailable'
  /** A payer AAA rejection that resubmitting the same request cannot fix (72/73/75/..., or 79 on HTTP 400). */
  | 'do-not-resubmit'
  /** HTTP 400 schema violation (or 404/409/413/422): our request is wrong. */
  | 'validation'
  /** Other 5xx, network errors and timeouts. */
  | 'server'
  /** HTTP 401/403: credentials. */
  | 'auth';

export interface StediClassification {
  kind: 'ok' | StediFailureKind;
  retryable: boolean;
  /** lib/errors.ts type name; absent when kind is 'ok'. */
  errorType?: ErrorTypeName;
  /** Safe to log: never contains member data. */
  message: string;
  httpStatus?: number;
  /** AAA codes found anywhere in the response (top-level `errors` and entity `aaaErrors`). */
  aaaCodes: string[];
  /** Set where Stedi's guidance implies a specific wait (Temporal `nextRetryDelay`). */
  nextRetryDelayMs?: number;
}

export type StediOutcome =
  | { kind: 'http'; status: number; body: unknown; /** Stedi's `Retry-After` header, in ms, when present. */ retryAfterMs?: number }
  | { kind: 'network'; timedOut: boolean; message?: string };

import { CONNECTIVITY_AAA_CODES } from '../../lib/stedi-codes';
export { CONNECTIVITY_AAA_CODES };

/** Stedi: "On 429, retry straight away" - a short pause keeps a hot loop from hammering the gate. */
export const THROTTLED_RETRY_DELAY_MS = 1_000;

/** Stedi: `Resubmission Not Allowed` from an intermediary during a short outage - wait a few minutes. */
export const INTERMEDIARY_OUTAGE_RETRY_DELAY_MS = 5 * 60_000;

/** `Retry-After` (delta seconds or an HTTP date) in ms; undefined when absent or unreadable. Capped at 10 min. */
export function parseRetryAfterMs(header: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const v = header.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - nowMs);
  }
  return Math.min(ms, 10 * 60_000);
}

const WAIT_FOLLOWUPS = new Set([
  'Resubmission Not Allowed',
  'Do Not Resubmit; We Will Hold Your Request and Respond Again Shortly',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asErrors(v: unknown): StediAaaError[] {
  return Array.isArray(v) ? v.filter(isRecord).map((e) => e as StediAaaError) : [];
}

/** Every AAA error of an eligibility body: top-level `errors` plus entity-level `aaaErrors` (deduplicated). */
export function collectAaaErrors(body: unknown): StediAaaError[] {
  if (!isRecord(body)) return [];
  const all: StediAaaError[] = [...asErrors(body['errors'])];
  for (const entityKey of ['payer', 'provider', 'subscriber']) {
    const entity = body[entityKey];
    if (isRecord(entity)) all.push(...asErrors(entity['aaaErrors']));
  }
  const deps = body['dependents'];
  if (Array.isArray(deps)) for (const d of deps) if (isRecord(d)) all.push(...asErrors(d['aaaErrors']));
  const seen = new Set<string>();
  return all.filter((e) => {
    const k = `${e.code ?? ''}|${e.location ?? ''}|${e.followupAction ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function uniqueCodes(errors: StediAaaError[]): string[] {
  return [...new Set(errors.map((e) => e.code).filter((c): c is string => typeof c === 'string' && c.length > 0))];
}

function failure(
  kind: StediFailureKind,
  message: string,
  extra: { httpStatus?: number; aaaCodes?: string[]; nextRetryDelayMs?: number } = {},
): StediClassification {
  const table: Record<StediFailureKind, { retryable: boolean; errorType: ErrorTypeName }> = {
    throttled: { retryable: true, errorType: ErrorType.StediThrottled },
    'payer-unavailable': { retryable: true, errorType: ErrorType.StediPayerUnavailable },
    'do-not-resubmit': { retryable: false, errorType: ErrorType.StediDoNotResubmit },
    validation: { retryable: false, errorType: ErrorType.StediValidation },
    server: { retryable: true, errorType: ErrorType.StediServer },
    auth: { retryable: false, errorType: ErrorType.StediAuth },
  };
  const c: StediClassification = { kind, ...table[kind], message, aaaCodes: extra.aaaCodes ?? [] };
  if (extra.httpStatus !== undefined) c.httpStatus = extra.httpStatus;
  if (extra.nextRetryDelayMs !== undefined) c.nextRetryDelayMs = extra.nextRetryDelayMs;
  return c;
}

/** Classifies the AAA errors of an eligibility body received with `httpStatus` (200 or 400). */
export function classifyAaaErrors(errors: StediAaaError[], httpStatus: number): StediClassification {
  const codes = uniqueCodes(errors);
  const connectivity = errors.filter((e) => e.code !== undefined && CONNECTIVITY_AAA_CODES.has(e.code));
  if (connectivity.length > 0) {
    // AAA 79 on HTTP 400 means Stedi does not know the payer id or the payer is not set up for eligibility:
    // retrying cannot help (stedi-api.md §1.6). On HTTP 200 it is the payer's own connectivity rejection.
    if (httpStatus === 400 && connectivity.some((e) => e.code === '79')) {
      return failure('do-not-resubmit', 'payer not configured for eligibility (AAA 79 on HTTP 400)', { httpStatus, aaaCodes: codes });
    }
    const mustWait = connectivity.some((e) => e.followupAction !== undefined && WAIT_FOLLOWUPS.has(e.followupAction));
    return failure('payer-unavailable', `payer connectivity (AAA ${uniqueCodes(connectivity).join(',')})`, {
      httpStatus,
      aaaCodes: codes,
      ...(mustWait ? { nextRetryDelayMs: INTERMEDIARY_OUTAGE_RETRY_DELAY_MS } : {}),
    });
  }
  return failure('do-not-resubmit', `payer rejected the request (AAA ${codes.join(',') || '?'})`, { httpStatus, aaaCodes: codes });
}

const OK: StediClassification = { kind: 'ok', retryable: false, message: 'ok', aaaCodes: [] };

/** Maps any Stedi call outcome (HTTP status + body, or a network failure) to a classification. */
export function classifyStediOutcome(outcome: StediOutcome): StediClassification {
  if (outcome.kind === 'network') {
    return failure('server', outcome.timedOut ? 'Stedi request timed out' : `network error calling Stedi${outcome.message ? `: ${outcome.message}` : ''}`);
  }
  const { status, body } = outcome;
  const errors = collectAaaErrors(body);
  if (status >= 200 && status < 300) {
    if (errors.length > 0) return classifyAaaErrors(errors, status);
    if (isRecord(body) && body['status'] === 'ERROR') return failure('server', 'Stedi reported status ERROR without AAA errors', { httpStatus: status });
    return { ...OK, httpStatus: status };
  }
  const msg = isRecord(body) && typeof body['message'] === 'string' ? `: ${body['message']}` : '';
  if (status === 400) {
    if (errors.length > 0) return classifyAaaErrors(errors, status);
    return failure('validation', `Stedi rejected the request shape (HTTP 400)${msg}`, { httpStatus: status });
  }
  if (status === 401 || status === 403) return failure('auth', `Stedi rejected the credentials (HTTP ${status})`, { httpStatus: status });
  if (status === 429) {
    return failure('throttled', 'Stedi concurrency limit reached (HTTP 429)', { httpStatus: status, nextRetryDelayMs: outcome.retryAfterMs ?? THROTTLED_RETRY_DELAY_MS });
  }
  if (status === 503 || status === 504) return failure('payer-unavailable', `Stedi/payer unavailable (HTTP ${status})`, { httpStatus: status });
  if (status === 408) return failure('server', 'Stedi request timeout (HTTP 408)', { httpStatus: status });
  if (status >= 500) return failure('server', `Stedi server error (HTTP ${status})`, { httpStatus: status });
  // 404 unknown batch / wrong path, 409 duplicate batch name, 413, 422 and any other 4xx: resending the same
  // request cannot succeed.
  return failure('validation', `Stedi rejected the request (HTTP ${status})${msg}`, { httpStatus: status });
}

/**
 * Turns a failure classification into the ApplicationFailure an activity throws: type from lib/errors.ts,
 * `nonRetryable` from the table above, `nextRetryDelay` where Stedi's guidance implies one.
 */
export function toApplicationFailure(c: StediClassification, cause?: Error): ApplicationFailure {
  if (c.kind === 'ok' || c.errorType === undefined) {
    throw new Error('toApplicationFailure called with a successful classification');
  }
  return ApplicationFailure.create({
    message: c.message,
    type: c.errorType,
    nonRetryable: !c.retryable,
    details: [{ kind: c.kind, httpStatus: c.httpStatus ?? null, aaaCodes: c.aaaCodes }],
    ...(c.nextRetryDelayMs !== undefined ? { nextRetryDelay: c.nextRetryDelayMs } : {}),
    ...(cause ? { cause } : {}),
  });
}
