import { connectNodeAdapter } from '@connectrpc/connect-node';
import { expressConnectMiddleware } from '@connectrpc/connect-express';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import express from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../lib/metrics';
import { handleHealthRequest, sendJson, type DependencyCheck } from '../lib/health-server';
import { createAuthInterceptor, type TokenVerifier } from './auth';
import { createObservabilityInterceptor } from './interceptors';
import { createDualProtocolServer, type DualProtocolServer } from './listener';
import { createCorsHandler } from './cors';
import { createStrictInputInterceptor, installBinaryParseErrorMapping, STRICT_JSON_OPTIONS } from './strict-input';

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
  /** GraphQL over HTTP/1.1 at /graphql (issue 16, api/graphql/), given the same token verifier as Connect. */
  graphql?: (verifyToken: TokenVerifier) => (req: express.Request, res: express.Response) => unknown;
}

export interface ApiServer {
  server: DualProtocolServer;
  /** Flip /readyz to 503 before draining so load balancers stop routing to us. */
  stopAccepting(): void;
}

/**
 * The API process: Connect, gRPC-Web and Connect-over-HTTP/1.1 through Express; gRPC and Connect over
 * HTTP/2 (h2c) through the Node adapter; both on one port, sharing routes and interceptors.
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
  const health = { registry: deps.metrics.registry, checks: deps.checks, ...(deps.degradedChecks ? { degradedChecks: deps.degradedChecks } : {}), isAccepting: () => accepting };
  const connectOptions = {
    routes: deps.routes,
    interceptors,
    // 4 MiB keeps a 10,000-id SubmitBatch well inside bounds while refusing abusive bodies.
    readMaxBytes: 4 * 1024 * 1024,
    // Unknown JSON fields and enum strings are refused, never ignored (api/strict-input.ts).
    jsonOptions: STRICT_JSON_OPTIONS,
  };
  installBinaryParseErrorMapping();

  const app = express();
  app.disable('x-powered-by');
  const cors = createCorsHandler(deps.corsAllowedOrigins ?? []);
  app.use((req, res, next) => {
    if (!cors(req, res)) next();
  });
  app.use((req, res, next) => {
    handleHealthRequest(req, res, health)
      .then((handled) => {
        if (!handled) next();
      })
      .catch(next);
  });
  if (deps.graphql) {
    const graphql = deps.graphql(deps.verifyToken);
    app.all('/graphql', (req, res) => void graphql(req, res));
  }
  app.use(expressConnectMiddleware(connectOptions));
  app.use((_req: express.Request, res: express.Response) => sendJson(res, 404, { error: 'not found' }));

  const h2 = connectNodeAdapter({
    ...connectOptions,
    fallback: (req, res) => {
      handleHealthRequest(req as never, res as never, health)
        .then((handled) => {
          if (!handled) sendJson(res as never, 404, { error: 'not found' });
        })
        .catch(() => sendJson(res as never, 500, { error: 'internal error' }));
    },
  });

  const h2WithCors = (req: never, res: never) => {
    if (!cors(req, res)) (h2 as (req: never, res: never) => void)(req, res);
  };
  const server = createDualProtocolServer(app, h2WithCors as never);
  return {
    server,
    stopAccepting: () => {
      accepting = false;
    },
  };
}
