import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';

/**
 * Retries of the typed client (client/index.ts), as a Connect interceptor.
 *
 * What is retried, and why it is safe:
 *  - `resource_exhausted` (a rate limit: SubmitBatch, WarmCache) on every unary RPC. The API refuses these before any
 *    side effect (docs/api-errors.md), so a later attempt is the first one that counts. Only when it carries
 *    `retry-after`, as every rate limit of the API does: without it (a request body over the API's 4 MiB) a repeat
 *    would be refused the same way, so the error goes to the caller at once.
 *  - `unavailable` (a platform dependency is down, or the API is unreachable) only on RPCs that are safe to repeat:
 *    CheckEligibility (NO_SIDE_EFFECTS), GetBatchStatus, ListBatches, GetWarmingStats, GetWarmingJob (reads), CancelBatch (a second
 *    cancel answers the batch's terminal status), SubmitBatch (idempotent per client_service_name + client_job_id,
 *    which the API requires), ScheduleWarming (idempotent create-or-update on schedule_name), and WarmCache only when
 *    the call carries an `idempotency-key` header (the same caller + key answers the same job).
 *  - A connection that broke before its answer (ECONNRESET / EPIPE: e.g. the API process serving it died,
 *    docs/scaling.md) is treated as `unavailable`: connect-node reports it as `aborted` or `internal` (see
 *    isConnectionReset); an error the server sent is never taken for one.
 *  - Streams (WatchBatchStatus) are never retried here: a dropped stream leaves the batch running; call
 *    WatchBatchStatus again to resume (it starts with the batch's current state).
 *  - Nothing else (invalid_argument, permission_denied, not_found, failed_precondition, deadline_exceeded, ...).
 *
 * The wait is the server's `retry-after` (seconds, from the error metadata: a Connect response header or a gRPC
 * trailer), else an exponential backoff with jitter. Attempts are bounded (`maxAttempts`, the first one included), and
 * a `retry-after` longer than `maxRetryAfterMs` is not waited out: the error goes to the caller at once, carrying
 * the header, so the caller decides.
 */
export interface RetryOptions {
  /** Attempts in all, the first included (default 3; 1 = no retries). */
  maxAttempts?: number;
  /** Longest server-requested wait the client sits out (default 30 s). */
  maxRetryAfterMs?: number;
  /** First backoff when the server sent no retry-after (default 250 ms, doubled per attempt, ±20 % jitter). */
  baseBackoffMs?: number;
  /** Called before each wait (e.g. to print "retrying in 5 s"). */
  onRetry?: (info: RetryInfo) => void;
  /** Injected in unit tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface RetryInfo {
  /** `rte.v1.Service/Method`. */
  method: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  code: Code;
  delayMs: number;
  /** True when delayMs came from the server's retry-after. */
  fromRetryAfter: boolean;
}

/** RPCs whose repeat cannot change the outcome (see the comment above). WarmCache: only with an idempotency-key. */
export const RETRY_SAFE_ON_UNAVAILABLE: ReadonlySet<string> = new Set([
  'rte.v1.EligibilityService/CheckEligibility',
  'rte.v1.BatchEligibilityService/GetBatchStatus',
  'rte.v1.BatchEligibilityService/ListBatches',
  'rte.v1.BatchEligibilityService/CancelBatch',
  'rte.v1.BatchEligibilityService/SubmitBatch',
  'rte.v1.CacheWarmingService/ScheduleWarming',
  'rte.v1.CacheWarmingService/GetWarmingStats',
  'rte.v1.CacheWarmingService/GetWarmingJob',
]);

const WARM_CACHE = 'rte.v1.CacheWarmingService/WarmCache';

/** Seconds from a `retry-after` value (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Whether `code` on `method` may be retried (headers: the request's, for WarmCache's idempotency-key). */
export function isRetryable(method: string, code: Code, requestHeader?: Headers): boolean {
  if (code === Code.ResourceExhausted) return true;
  if (code !== Code.Unavailable) return false;
  if (RETRY_SAFE_ON_UNAVAILABLE.has(method)) return true;
  return method === WARM_CACHE && !!requestHeader?.get('idempotency-key');
}

/**
 * True when the client's connection broke before the answer came (ECONNRESET or EPIPE in the error's cause chain:
 * e.g. the API process serving it died). connect-node reports that as `aborted` (a unary call) or `internal` (a stream
 * or a request still being written); an error the server sent has no such cause. The request may or may not have
 * run, exactly as with `unavailable`, so the same RPCs may be repeated.
 */
export function isConnectionReset(err: ConnectError): boolean {
  if (err.code !== Code.Aborted && err.code !== Code.Internal && err.code !== Code.Unknown) return false;
  const seen = new Set<unknown>();
  for (let c: unknown = err.cause; c !== undefined && c !== null && !seen.has(c); c = (c as { cause?: unknown }).cause) {
    seen.add(c);
    const code = (c as { code?: unknown }).code;
    if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  }
  return false;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export function createRetryInterceptor(opts: RetryOptions = {}): Interceptor {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3);
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
  const base = opts.baseBackoffMs ?? 250;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  return (next) => async (req) => {
    if (req.stream) return next(req);
    const method = `${req.service.typeName}/${req.method.name}`;
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        const ce = ConnectError.from(err);
        const code = isConnectionReset(ce) ? Code.Unavailable : ce.code;
        if (attempt >= maxAttempts || !isRetryable(method, code, req.header)) throw err;
        const retryAfter = parseRetryAfterMs(ce.metadata.get('retry-after'));
        if (retryAfter !== undefined && retryAfter > maxRetryAfterMs) throw err;
        if (code === Code.ResourceExhausted && retryAfter === undefined) throw err;
        const backoff = Math.round(base * 2 ** (attempt - 1) * (0.8 + 0.4 * random()));
        const delayMs = retryAfter ?? backoff;
        opts.onRetry?.({ method, attempt, code, delayMs, fromRetryAfter: retryAfter !== undefined });
        await sleep(delayMs, req.signal);
      }
    }
  };
}
