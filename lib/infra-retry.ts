/**
 * Infrastructure faults (Redis, PostgreSQL unreachable or restarting) are transient: an activity retries the
 * one operation that failed, with jittered exponential backoff, inside its own time budget, instead of failing
 * the attempt (and, after a few, the member). Pure plumbing: no Temporal imports; callers pass heartbeat and
 * cancellation.
 */

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'NR_CLOSED',
  // PostgreSQL: connection exceptions (class 08), admin shutdown / crash shutdown / cannot connect now (57P0x).
  '57P01',
  '57P02',
  '57P03',
]);

const MESSAGE_PATTERNS = [
  /max retries per request/i,
  /connection is closed/i,
  /connection (terminated|ended|refused|reset)/i,
  /stream isn't writeable/i,
  /^LOADING\b/,
  /^READONLY\b/,
  /^(MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Command timed out/i,
  // pg: a pooled client whose server went away (PostgreSQL killed or restarted).
  /not queryable/i,
  /unexpected postmaster exit/i,
];

const ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'SlotAcquireTimeoutError', 'SlotLeaseLostError', 'InfrastructureUnavailableError']);

function isErrorLike(e: unknown): e is Error {
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string' && typeof (e as { name?: unknown }).name === 'string';
}

/** True for errors that say a backing service was unreachable or restarting (worth retrying the same operation). */
export function isInfrastructureError(err: unknown): boolean {
  // Error-like, not `instanceof Error`: Node's own socket errors (ECONNREFUSED from net) come from another realm
  // than the caller's Error under a vm sandbox such as Jest's, and must still be recognised.
  if (!isErrorLike(err)) return false;
  // A classified failure (e.g. a Stedi network error) has its own retry policy: never retried as infrastructure.
  if (err.name === 'ApplicationFailure') return err.message.startsWith('infrastructure unavailable:');
  if (ERROR_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  if (MESSAGE_PATTERNS.some((p) => p.test(err.message))) return true;
  const cause = (err as { cause?: unknown }).cause;
  return cause !== undefined && cause !== err && isInfrastructureError(cause);
}

export interface InfraRetryOptions {
  /** Give up (rethrow the last error) once the next wait would end after this time (ms since epoch). */
  readonly deadlineMs: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called before each wait (e.g. heartbeat, log). */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn`, retrying it while it fails with an infrastructure error and the deadline allows. */
export async function withInfraRetry<T>(fn: () => Promise<T>, o: InfraRetryOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const initial = o.initialDelayMs ?? 250;
  const max = o.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isInfrastructureError(err) || o.signal?.aborted) throw err;
      const delay = Math.min(max, initial * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      if (now() + delay > o.deadlineMs) throw err;
      o.onRetry?.(err, attempt, delay);
      await sleep(delay, o.signal);
    }
  }
}
