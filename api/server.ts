import { connectNodeAdapter } from '@connectrpc/connect-node';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { Metrics } from '../lib/metrics';
import { handleHealthRequest, sendJson, type DependencyCheck } from '../lib/health-server';
import { createAuthInterceptor, type TokenVerifier } from './auth';
import { createObservabilityInterceptor } from './interceptors';
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
}

/**
 * The API process: Connect, gRPC-Web and Connect over HTTP/1.1, gRPC and Connect over HTTP/2 (h2c), through
 * connect-node's adapter; both on one port, sharing routes and interceptors.
 */
export function createApiServer(deps: ApiServerDeps): ApiServer {
  let accepting = true;
  // Order: observability (outermost: ids, errors, metrics, audit) → auth → handler-specific.
  const interceptors: Interceptor[] = [
    createObservabilityInterceptor(deps.logger, deps.metrics),
    createAuthInterceptor(deps.verifyToken),
    // Unknown enum numbers / unknown fields (binary) refused with their field path, for every RPC.
    createStrictInputInterceptor(),
    ...(deps.extraInterceptors ?? []),
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
  };
}

/** The caller's x-request-id, else a new one (as the observability interceptor does). */
function requestIdOf(req: { headers: IncomingMessage['headers'] }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && given !== '' ? given : randomUUID();
}
