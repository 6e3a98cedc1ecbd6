import { Code, ConnectError, type Interceptor, type UnaryRequest, type UnaryResponse } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { Metrics } from '../lib/metrics';
import { BatchStatus } from '../gen/rte/v1/batch_pb';
import { FieldError } from '../lib/errors';
import { isInfrastructureError } from '../lib/infra-retry';
import { principalKey } from './auth';
import { methodPath } from './method-path';
import { requestIdFrom } from './request-id';

/** RPCs that change state: every call is written to the audit log, allowed or not. */
export const MUTATING_METHODS: ReadonlySet<string> = new Set([
  'rte.v1.BatchEligibilityService/SubmitBatch',
  'rte.v1.BatchEligibilityService/CancelBatch',
  'rte.v1.BatchEligibilityService/PauseBatch',
  'rte.v1.BatchEligibilityService/ResumeBatch',
  'rte.v1.BatchEligibilityService/SubmitBatchStreaming',
  'rte.v1.CacheWarmingService/WarmCache',
  'rte.v1.CacheWarmingService/ScheduleWarming',
]);

/** Retry hint sent with `unavailable` answers caused by a dependency outage. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** A Temporal client call that failed because the frontend is unreachable (gRPC UNAVAILABLE / DEADLINE_EXCEEDED). */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'ServiceError' || e.name === 'GrpcError' || typeof code === 'number') {
      if (code === 14 || code === 4) return true;
    }
    if (/\b(UNAVAILABLE|DEADLINE_EXCEEDED)\b|failed to connect to temporal|connection refused/i.test(e.message) && e.name !== 'ApplicationFailure') return true;
  }
  return false;
}

/**
 * One line for a log: each error of the cause chain as `Name: message` with its gRPC code and details when it has them
 * (a Temporal ServiceError says only "Failed to query Workflow"; its cause says why).
 */
export function errorChainText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (!(e instanceof Error)) {
      parts.push(String(e));
      break;
    }
    const code = (e as { code?: unknown }).code;
    const details = (e as { details?: unknown }).details;
    parts.push(`${e.name}: ${e.message}${typeof code === 'number' || typeof code === 'string' ? ` [code ${code}]` : ''}${typeof details === 'string' && details && !e.message.includes(details) ? ` (${details})` : ''}`);
  }
  return parts.join(' <- ');
}

/**
 * What an audit line says about the target of a mutating call: batch id, client job id, cancel reason, the
 * service acted for (never member ids). Request fields first; the response's batch id when the call succeeded.
 */
export function auditTarget(request: unknown, response?: unknown, method?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pick = (m: unknown, key: string, as: string, max = 200) => {
    const v = m && typeof m === 'object' ? (m as Record<string, unknown>)[key] : undefined;
    if (typeof v === 'string' && v !== '' && out[as] === undefined) out[as] = v.length > max ? `${v.slice(0, max)}…` : v;
  };
  pick(request, 'batchId', 'batchId');
  pick(response, 'batchId', 'batchId');
  pick(request, 'clientJobId', 'clientJobId');
  pick(request, 'clientServiceName', 'actingFor');
  // A cancel's reason is `cancelReason` (as before); a pause's or resume's is `reason`, not mistaken for a cancel.
  pick(request, 'reason', method === undefined || method.endsWith('/CancelBatch') ? 'cancelReason' : 'reason', 500);
  pick(request, 'scheduleName', 'scheduleName');
  pick(response, 'warmingJobId', 'warmingJobId');
  // What a cancel, pause or resume left the batch as: a cancel of a batch that had already finished answers ok with its
  // terminal status, and its audit line says so rather than read as if it had cancelled something.
  if (method !== undefined && BATCH_CONTROL_METHODS.has(method)) {
    const status = response && typeof response === 'object' ? (response as Record<string, unknown>)['status'] : undefined;
    if (typeof status === 'number' && BatchStatus[status] !== undefined) out['resultStatus'] = BatchStatus[status];
  }
  return out;
}

const BATCH_CONTROL_METHODS: ReadonlySet<string> = new Set([
  'rte.v1.BatchEligibilityService/CancelBatch',
  'rte.v1.BatchEligibilityService/PauseBatch',
  'rte.v1.BatchEligibilityService/ResumeBatch',
]);

/** The client closed the call (HTTP/1.1 socket closed, HTTP/2 stream reset): its signal aborted for a reason other than a deadline. */
export function clientGone(signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  const reason: unknown = signal.reason;
  return !(reason instanceof ConnectError && reason.code === Code.DeadlineExceeded);
}

/**
 * A write to a client that went away. Matched by code, not class: Node's errors are not `instanceof Error` inside
 * jest's sandbox, which is why connect-node itself sometimes misses them.
 */
export function isClientDisconnect(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END' || code === 'ERR_HTTP2_INVALID_STREAM' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  }
  return false;
}

/**
 * Maps whatever a handler throws to a ConnectError from the closed Code set. Domain validation errors
 * keep their field path in the message; anything unexpected becomes `internal` with the cause kept
 * server-side only.
 */
export function toConnectError(err: unknown, logger: Logger, method: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof FieldError) return new ConnectError(err.message, Code.InvalidArgument, undefined, undefined, err);
  if (isInfrastructureError(err) || isTemporalUnavailable(err)) {
    // A backing service (Redis, PostgreSQL, Temporal) is down or restarting: transient, say so and when to retry.
    logger.warn({ err: err instanceof Error ? err.message : String(err), method }, 'dependency unavailable');
    return new ConnectError(
      'a platform dependency is temporarily unavailable; retry after the retry-after seconds',
      Code.Unavailable,
      { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      undefined,
      err,
    );
  }
  logger.error({ err, method }, 'unhandled error in RPC handler');
  return new ConnectError('internal error', Code.Internal, undefined, undefined, err);
}

/**
 * Outermost interceptor: request id, error mapping, metrics, an access log line, and an audit line for
 * mutating calls. Runs before auth so refused calls are counted and audited too.
 */
export function createObservabilityInterceptor(logger: Logger, metrics: Metrics): Interceptor {
  /** A failed unary call's error as the client gets it: its request id, and never cacheable. */
  const failedCall = (err: unknown, requestId: string, method: string): ConnectError => {
    const ce = toConnectError(err, logger, method);
    ce.metadata.set('x-request-id', requestId);
    // An error is never a cacheable answer (a CACHE_ONLY miss over GET must not be replayed by an HTTP cache).
    if (!ce.metadata.has('cache-control')) ce.metadata.set('cache-control', 'no-store');
    return ce;
  };
  // Issue 14: a unary call (CheckEligibility's cache reads) takes a path that builds only what a unary call uses;
  // streams keep the general one below. Same ids, metrics, audit and log lines either way.
  const unary = async (next: Parameters<Interceptor>[0], req: UnaryRequest, method: string): Promise<UnaryResponse> => {
    const requestId = requestIdFrom(req.header.get('x-request-id'));
    const started = performance.now();
    let code: Code | 'ok' = 'ok';
    let responseMessage: unknown;
    try {
      const res = (await next(req)) as UnaryResponse;
      responseMessage = res.message;
      res.header.set('x-request-id', requestId);
      return res;
    } catch (err) {
      const ce = failedCall(err, requestId, method);
      code = ce.code;
      throw ce;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const codeName = code === 'ok' ? 'ok' : Code[code];
      metrics.rpcRequests.inc({ method, code: codeName });
      metrics.rpcDuration.observe({ method }, seconds);
      const audit = MUTATING_METHODS.has(method);
      if (audit || logger.isLevelEnabled('debug')) {
        const principal = req.contextValues.get(principalKey);
        const line = { requestId, method, code: codeName, durationMs: Math.round(seconds * 1000), caller: principal?.service };
        if (audit) {
          metrics.auditEvents.inc({ method, outcome: code === 'ok' ? 'allowed' : codeName });
          logger.info({ ...line, ...auditTarget(req.message, responseMessage, method), audit: true }, 'audit');
        } else {
          logger.debug(line, 'rpc');
        }
      }
    }
  };
  return (next) => async (req) => {
    const method = methodPath(req);
    if (!req.stream && req.method.methodKind === 'unary') return unary(next, req, method);
    const requestId = requestIdFrom(req.header.get('x-request-id'));
    const started = process.hrtime.bigint();
    let code: Code | 'ok' = 'ok';
    let responseMessage: unknown;
    // A mutating server stream (SubmitBatchStreaming): its handler runs only once the response is read, so its audit
    // line is written then, with the request (captured as it is read), the outcome, and the first update's batch id.
    const auditStream = MUTATING_METHODS.has(method) && req.stream;
    let streamRequest: unknown;
    let auditDeferred = false;
    const writeAudit = (codeName: string, request: unknown, response: unknown) => {
      const line = { requestId, method, code: codeName, durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6), caller: req.contextValues.get(principalKey)?.service };
      metrics.auditEvents.inc({ method, outcome: codeName === 'ok' ? 'allowed' : codeName });
      logger.info({ ...line, ...auditTarget(request, response, method), audit: true }, 'audit');
    };
    // A server stream's outcome is known only when it ends (WatchBatchStatus and SubmitBatchStreaming refuse a bad
    // request while the response is read): its rpc_requests_total line is counted then, once, with that code.
    let countDeferred = false;
    let counted = false;
    const countOnce = (codeName: string) => {
      if (counted) return;
      counted = true;
      metrics.rpcRequests.inc({ method, code: codeName });
    };
    const capture = <T>(input: AsyncIterable<T>) =>
      (async function* () {
        for await (const m of input) yield (streamRequest = m);
      })();
    try {
      const res = await next(auditStream && req.stream ? { ...req, message: capture(req.message) } : req);
      if (!res.stream) responseMessage = res.message;
      res.header.set('x-request-id', requestId);
      if (res.stream) {
        // Server streams (WatchBatchStatus, SubmitBatchStreaming). Their handlers throw while the response is read,
        // after next() returned: map those errors the same way (a FieldError is invalid_argument, not internal). A
        // mutating stream's audit line is written once its outcome is known (ok at the first update). A client that
        // goes away is normal: the stream stops at once (ending the handler's watch loop), is counted Canceled and
        // logged at debug, and nothing more is written to its closed socket.
        countDeferred = true;
        auditDeferred = auditStream;
        // A stream's headers go out before its outcome is known: never cacheable, its errors included (no-store).
        if (!res.header.has('cache-control')) res.header.set('cache-control', 'no-store');
        const messages = res.message;
        let audited = false;
        const auditOnce = (codeName: string, first?: unknown) => {
          if (!auditStream || audited) return;
          audited = true;
          writeAudit(codeName, streamRequest, first);
        };
        const wrapped = async function* () {
          metrics.rpcStreamsOpen.inc({ method });
          try {
            for await (const m of messages) {
              auditOnce('ok', m);
              if (clientGone(req.signal)) return;
              yield m;
            }
            // A watch loop ends quietly when its client goes away (batch-status-stream.ts): that is not an ok stream.
            if (clientGone(req.signal)) return;
            auditOnce('ok');
            countOnce('ok');
          } catch (err) {
            if (clientGone(req.signal) || isClientDisconnect(err)) return;
            const ce = toConnectError(err, logger, method);
            // The id already went out with the stream's headers; clients merge headers and trailers, so setting it
            // here too made it read "<id>, <id>".
            auditOnce(Code[ce.code]);
            countOnce(Code[ce.code]);
            throw ce;
          } finally {
            metrics.rpcStreamsOpen.dec({ method });
            if (!counted) logger.debug({ requestId, method, caller: req.contextValues.get(principalKey)?.service }, 'client closed the stream');
            // The caller went away (before the first update: the handler may still have started the batch).
            auditOnce(Code[Code.Canceled]);
            countOnce(Code[Code.Canceled]);
          }
        };
        return { ...res, message: wrapped() };
      }
      return res;
    } catch (err) {
      const ce = failedCall(err, requestId, method);
      code = ce.code;
      throw ce;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const codeName = code === 'ok' ? 'ok' : Code[code];
      if (!countDeferred) countOnce(codeName);
      metrics.rpcDuration.observe({ method }, seconds);
      const audit = !auditDeferred && MUTATING_METHODS.has(method);
      // Issue 14: the debug line of a read is not even built unless debug is on (one object fewer per call).
      if (audit || logger.isLevelEnabled('debug')) {
        const principal = req.contextValues.get(principalKey);
        const line = { requestId, method, code: codeName, durationMs: Math.round(seconds * 1000), caller: principal?.service };
        if (audit) {
          metrics.auditEvents.inc({ method, outcome: code === 'ok' ? 'allowed' : codeName });
          logger.info({ ...line, ...auditTarget(req.stream ? streamRequest : req.message, responseMessage, method), audit: true }, 'audit');
        } else {
          logger.debug(line, 'rpc');
        }
      }
    }
  };
}
