import { cors as connectCors } from '@connectrpc/connect';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CORS for browser clients (Connect and gRPC-Web) on the configured origins only, with the header lists
 * connect-es publishes for its protocols. A preflight from an allowed origin is answered 204 here; any other
 * request gets the CORS response headers and continues. Origins not listed get no CORS headers (the browser
 * then blocks the call), and `*` is not supported on purpose: the API takes bearer tokens.
 */
export function createCorsHandler(allowedOrigins: readonly string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const allowed = new Set(allowedOrigins);
  const allowMethods = connectCors.allowedMethods.join(', ');
  const allowHeaders = [...connectCors.allowedHeaders, 'Authorization', 'X-Request-Id', 'Rte-Request-Source'].join(', ');
  const exposeHeaders = [...connectCors.exposedHeaders, 'X-Request-Id', 'Rte-Cache-Status', 'Retry-After', 'X-Ratelimit-Limit', 'X-Ratelimit-Remaining', 'X-Ratelimit-Reset'].join(', ');
  /** Returns true when the request was fully answered (a preflight). */
  return (req, res) => {
    const origin = req.headers.origin;
    if (!origin || !allowed.has(origin)) return false;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', exposeHeaders);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', allowMethods);
      res.setHeader('Access-Control-Allow-Headers', allowHeaders);
      res.setHeader('Access-Control-Max-Age', '7200');
      res.statusCode = 204;
      res.end();
      return true;
    }
    return false;
  };
}
