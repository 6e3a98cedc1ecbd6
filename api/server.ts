import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Code, ConnectError, type ConnectRouter, type Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { Metrics } from '../lib/metrics';
import { handleHealthRequest, sendJson, type DependencyCheck } from '../lib/health-server';
import { createAuthInterceptor, type TokenVerifier } from './auth';
import { createObservabilityInterceptor } from './interceptors';
import { requestIdFrom } from './request-id';
import { createDualProtocolServer, type DualProtocolServer } from './listener';
import { createCorsHandler } from './cors';
import { createEdgeRefusalObserver } from './edge-refusals';
import { createStrictInputInterceptor, installBinaryParseErrorMapping, STRICT_JSON_OPTIONS } from './strict-input';
import { createFastUnaryHandler, type FastUnaryRoute } from './fast-unary';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';

/** Largest request body (Connect's readMaxBytes; GraphQL by Content-Length). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ApiServerDeps {
  logger: Logger;
  metrics: Metrics;
  verifyToken: TokenVerifier;
  routes: (router: ConnectRouter) => void;
  checks: Record<string, DependencyCheck>;
  /** Browser origins allowed cross-origin (CORS for Connect and gRPC-Web); empty or absent: none. */
  corsAllowedOrigins?: readonly string[];
  /** Reported under `degraded` by /readyz without failing it (see lib/health-server.ts). */
  degradedChecks?: Record<string, DependencyCheck>;
  /** Connect unary GET (side-effect-free RPCs) responses may be cached by HTTP caches; see api/http-caching.ts. */
  extraInterceptors?: Interceptor[];
  /** GraphQL at /graphql (issue 16, api/graphql/), given the same token verifier as Connect. */
  graphql?: (verifyToken: TokenVerifier) => (req: IncomingMessage, res: ServerResponse) => unknown;
  /** CheckEligibility over Connect JSON on HTTP/1.1 through api/fast-unary.ts (default on; off: connect-node only). */
  fastUnary?: boolean;
  /** /metrics text other than this process's registry (API_PROCESSES > 1: all copies', api/cluster.ts). */
  metricsText?: () => Promise<string>;
}

export interface ApiServer {
  server: DualProtocolServer;
  /** Flip /readyz to 503 before draining so load balancers stop routing to us. */
  stopAccepting(): void;
  /**
   * Graceful shutdown (SIGTERM): /readyz answers 503 `draining` at once and open server streams end at once with
   * `unavailable` + `retry-after` (the client reconnects to another process); the listener stays open for
   * `readinessDelayMs` (probes see the 503; requests that still arrive are served, see `drainInterceptor`), then
   * closes; resolves as soon as no request is open, or when `graceMs` (counted from the call, the window included)
   * runs out, when whatever is left is cut.
   */
  drain(opts: { readinessDelayMs: number; graceMs: number }): Promise<void>;
}

/** How soon a client whose stream was ended by a drain should reconnect (to another process). */
export const DRAIN_RETRY_AFTER_SECONDS = 1;

const drainError = () =>
  new ConnectError(
    'this API process is shutting down; reconnect (another process serves the stream) after the retry-after seconds',
    Code.Unavailable,
    { 'retry-after': String(DRAIN_RETRY_AFTER_SECONDS) },
  );

/**
 * Ends server streams when the process drains (probe p17 #4: an open WatchBatchStatus got keepalives until the grace
 * ran out, then a reset without a retry hint). A stream open at the drain ends at once with `unavailable` +
 * `retry-after`; its handler's signal is aborted, so its watch loop stops polling. A stream that starts during the
 * drain is refused the same way before its handler runs (SubmitBatchStreaming submits nothing: the retry does).
 * Unary calls are not touched: those open at the drain finish, and those arriving during the readiness window are
 * served — the load balancer still routes to us until it has seen /readyz 503, and a unary answer takes as long as
 * it takes anyway, while a refusal would turn each such call into a client-visible error and a retry.
 * Innermost interceptor: the handler gets the linked signal, and the observability interceptor counts the ending as
 * `unavailable`.
 */
function drainInterceptor(draining: AbortSignal): Interceptor {
  return (next) => async (req) => {
    if (req.method.methodKind !== 'server_streaming' && req.method.methodKind !== 'bidi_streaming') return next(req);
    if (draining.aborted) throw drainError();
    const stop = new AbortController();
    const res = await next({ ...req, signal: AbortSignal.any([req.signal, stop.signal]) });
    if (!res.stream) return res;
    return { ...res, message: endOnDrain(res.message, draining, stop) };
  };
}

async function* endOnDrain<T>(messages: AsyncIterable<T>, draining: AbortSignal, stop: AbortController): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let onDrain = () => undefined as void;
  const drained = new Promise<'drained'>((resolve) => {
    onDrain = () => resolve('drained');
    if (draining.aborted) onDrain();
    else draining.addEventListener('abort', onDrain, { once: true });
  });
  let done = false;
  try {
    for (;;) {
      const pending = it.next();
      const r = await Promise.race([pending, drained]);
      if (r === 'drained') {
        // The handler's loop is suspended (a poll, a sleep): its signal makes it return; whatever it yields or throws
        // from here on is dropped.
        pending.catch(() => undefined);
        stop.abort(drainError());
        done = true;
        it.return?.(undefined)?.catch(() => undefined);
        throw drainError();
      }
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    draining.removeEventListener('abort', onDrain);
    // The caller stopped reading (client gone): stop the handler as a plain for-await would.
    if (!done) await it.return?.(undefined);
  }
}

/**
 * The API process: Connect, gRPC-Web and Connect over HTTP/1.1, gRPC and Connect over HTTP/2 (h2c), through
 * connect-node's adapter; both on one port, sharing routes and interceptors.
 */
export function createApiServer(deps: ApiServerDeps): ApiServer {
  let accepting = true;
  const draining = new AbortController();
  // Order: observability (outermost: ids, errors, metrics, audit) → auth → handler-specific.
  const interceptors: Interceptor[] = [
    createObservabilityInterceptor(deps.logger, deps.metrics),
    createAuthInterceptor(deps.verifyToken),
    // Unknown enum numbers / unknown fields (binary) refused with their field path, for every RPC.
    createStrictInputInterceptor(),
    ...(deps.extraInterceptors ?? []),
    drainInterceptor(draining.signal),
  ];
  const health = {
    registry: deps.metrics.registry,
    checks: deps.checks,
    ...(deps.degradedChecks ? { degradedChecks: deps.degradedChecks } : {}),
    ...(deps.metricsText ? { metricsText: deps.metricsText } : {}),
    isAccepting: () => accepting,
  };
  const connectOptions = {
    routes: deps.routes,
    interceptors,
    // 4 MiB keeps a 10,000-id SubmitBatch well inside bounds while refusing abusive bodies.
    readMaxBytes: MAX_BODY_BYTES,
    // Unknown JSON fields and enum strings are refused, never ignored (api/strict-input.ts).
    jsonOptions: STRICT_JSON_OPTIONS,
  };
  installBinaryParseErrorMapping();

  // One handler for HTTP/1.1 (Connect, gRPC-Web, health, metrics) and HTTP/2 (gRPC, Connect): connect-node's
  // adapter serves both. No Express in front of it: its router walk cost ~10 % of a cached CheckEligibility (issue 14).
  const cors = createCorsHandler(deps.corsAllowedOrigins ?? []);
  // GraphQL (api/graphql/, Yoga is itself a Node request listener) at /graphql; everything else is Connect's.
  const graphql = deps.graphql ? deps.graphql(deps.verifyToken) : undefined;
  // Issue 14: the implementations the routes register, so the hottest unary RPC can be served by api/fast-unary.ts.
  const implementations = new Map<string, Record<string, unknown>>();
  // Every RPC the routes serve (`rte.v1.X/Method`): requests refused while their body is decoded are observed per method.
  const rpcMethods = new Set<string>();
  const observeRefusals = createEdgeRefusalObserver({ methods: () => rpcMethods, logger: deps.logger, metrics: deps.metrics });
  const rpc = connectNodeAdapter({
    ...connectOptions,
    routes: (router) =>
      deps.routes({
        get handlers() {
          return router.handlers;
        },
        service(service, impl, options) {
          implementations.set(service.typeName, impl as Record<string, unknown>);
          for (const m of service.methods) rpcMethods.add(`${service.typeName}/${m.name}`);
          return router.service(service, impl, options);
        },
        rpc: router.rpc.bind(router),
      } as ConnectRouter),
    fallback: (req, res) => {
      handleHealthRequest(req as never, res as never, health)
        .then((handled) => {
          // Every error answer carries x-request-id (docs/api-errors.md), an unknown path's 404 too (probe p16 #11b).
          if (!handled) sendJson(res as never, 404, { error: 'not found' }, { 'x-request-id': requestIdOf(req) });
        })
        .catch((err: unknown) => {
          const requestId = requestIdOf(req);
          deps.logger.warn({ err, path: req.url, requestId }, 'health/metrics request failed');
          sendJson(res as never, 500, { error: 'internal error' }, { 'x-request-id': requestId });
        });
    },
  });
  // CheckEligibility over Connect JSON on HTTP/1.1 (the cache-read path) skips connect-node's generic machinery;
  // same interceptors, implementation, parser and error JSON (api/fast-unary.ts). Anything unusual goes to Connect.
  const fastRoutes: FastUnaryRoute[] = [];
  const eligibility = implementations.get(EligibilityService.typeName);
  if (deps.fastUnary !== false && typeof eligibility?.['checkEligibility'] === 'function') {
    fastRoutes.push({ method: EligibilityService.method.checkEligibility, impl: (eligibility['checkEligibility'] as FastUnaryRoute['impl']).bind(eligibility), memoFields: ['coverage', 'errors', 'cacheMetadata'] });
  }
  const fast = createFastUnaryHandler(fastRoutes, { interceptors, jsonOptions: STRICT_JSON_OPTIONS });
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    // Draining: an HTTP/1.1 client is told to take its next request elsewhere (HTTP/2 sessions get GOAWAY at close).
    if (draining.signal.aborted && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    if (cors(req as never, res as never)) return;
    observeRefusals(req, res);
    if (fast(req, res)) return;
    if (graphql && (req.url === '/graphql' || req.url?.startsWith('/graphql?'))) {
      // The same body cap as Connect's readMaxBytes, before Yoga reads (and parses) anything.
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
        sendJson(res as never, 413, { errors: [{ message: `request body over ${MAX_BODY_BYTES} bytes`, extensions: { code: 'RESOURCE_EXHAUSTED' } }] }, { 'x-request-id': requestIdOf(req) });
        req.resume();
        return;
      }
      void graphql(req, res);
    }
    else (rpc as (req: IncomingMessage, res: ServerResponse) => void)(req, res);
  };
  const server = createDualProtocolServer(handler as never, handler as never);
  return {
    server,
    stopAccepting: () => {
      accepting = false;
    },
    drain: async ({ readinessDelayMs, graceMs }) => {
      const started = Date.now();
      accepting = false;
      draining.abort();
      const windowMs = Math.min(readinessDelayMs, graceMs);
      if (windowMs > 0) await new Promise((r) => setTimeout(r, windowMs));
      await server.close(Math.max(0, graceMs - (Date.now() - started)));
    },
  };
}

/** The caller's x-request-id when well-formed, else a new one (as the observability interceptor does). */
function requestIdOf(req: { headers: IncomingMessage['headers'] }): string {
  return requestIdFrom(req.headers['x-request-id']);
}
