import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Code } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { Metrics } from '../lib/metrics';
import { MUTATING_METHODS } from './interceptors';
import { requestIdFrom } from './request-id';

/**
 * connect-es decodes a unary request's body before its interceptors run (and api/fast-unary.ts does as it does), so a
 * body refused there (malformed JSON, an unknown field or enum name, a wrong type, too large) never reaches the
 * observability interceptor: the answer had no request id, no `Cache-Control: no-store`, was not counted, and a refused
 * mutating call left no audit line. No interceptor hook runs before decoding, so this watches the HTTP answer of a known
 * RPC instead: an error written without the interceptor's `x-request-id` was refused before the interceptors, and gets
 * what they would have given it. The caller is unknown there (the token is checked after decoding).
 */
export function createEdgeRefusalObserver(deps: { methods: () => ReadonlySet<string>; logger: Logger; metrics: Metrics }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const method = (q < 0 ? url : url.slice(0, q)).slice(1);
    if (!deps.methods().has(method)) return;
    const started = performance.now();
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
      res.writeHead = writeHead;
      const headers = rest.find((a): a is OutgoingHttpHeaders => typeof a === 'object' && a !== null && !Array.isArray(a));
      const code = refusalCode(status, headers);
      if (code !== undefined && headers?.['x-request-id'] === undefined && !res.hasHeader('x-request-id')) {
        const requestId = requestIdFrom(req.headers['x-request-id']);
        if (headers) {
          headers['x-request-id'] = requestId;
          if (headers['cache-control'] === undefined) headers['cache-control'] = 'no-store';
        } else {
          res.setHeader('x-request-id', requestId);
          res.setHeader('cache-control', 'no-store');
        }
        const codeName = Code[code];
        deps.metrics.rpcRequests.inc({ method, code: codeName });
        deps.metrics.rpcDuration.observe({ method }, (performance.now() - started) / 1000);
        if (MUTATING_METHODS.has(method)) {
          deps.metrics.auditEvents.inc({ method, outcome: codeName });
          deps.logger.info({ requestId, method, code: codeName, caller: undefined, refusedBefore: 'decoding the request', audit: true }, 'audit');
        }
      }
      return (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest);
    } as typeof res.writeHead;
  };
}

/** The code of an error answer (Connect: its HTTP status; gRPC / gRPC-Web: a trailers-only grpc-status), else undefined. */
export function refusalCode(status: number, headers: OutgoingHttpHeaders | undefined): Code | undefined {
  const grpc = headers?.['grpc-status'];
  if (grpc !== undefined) {
    const n = Number(grpc);
    return Number.isInteger(n) && n > 0 && n <= 16 ? (n as Code) : undefined;
  }
  if (status < 400) return undefined;
  return BY_STATUS[status] ?? Code.Unknown;
}

/**
 * Connect's code → HTTP status mapping, read backwards for the codes a decode step answers, plus the plain HTTP
 * refusals connect-node writes before any Connect code exists. Internal means "a bug" (docs/api-errors.md), so only a
 * 500 is counted as Internal; a status missing here is counted as Unknown, never Internal (probe p16 #3: a GET or a
 * CORS preflight on an RPC was counted and audited as Internal).
 */
const BY_STATUS: Readonly<Record<number, Code>> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  // Method Not Allowed (a GET on an RPC without GET support, a PUT, an OPTIONS preflight the CORS handler did not
  // grant): the endpoint does not implement that HTTP method, so Unimplemented (gRPC's code for "operation not
  // implemented / not supported"), the caller's mistake and not the server's.
  405: Code.Unimplemented,
  408: Code.DeadlineExceeded,
  409: Code.AlreadyExists,
  411: Code.InvalidArgument, // Length Required: the request is malformed
  413: Code.ResourceExhausted,
  414: Code.ResourceExhausted, // URI Too Long (a GET request's message)
  415: Code.InvalidArgument, // Unsupported Media Type: the content type is the caller's to fix
  429: Code.ResourceExhausted,
  431: Code.ResourceExhausted, // Request Header Fields Too Large
  499: Code.Canceled,
  500: Code.Internal,
  501: Code.Unimplemented,
  502: Code.Unavailable,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
};
