import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import zlib from 'node:zlib';

/**
 * The HTTP exchange the Stedi gateway needs: one request with a JSON (or no) body, the whole answer as text.
 *
 * Why not Node's global `fetch`: a CPU profile of the worker (docs/performance.md, orchestration fourth pass) put
 * ≥ 19 % of its busy time in fetch's own layers (undici's fetch algorithm, web streams, `Headers`, `Response`) around
 * small JSON answers. `node:http`/`node:https` with a keep-alive agent does the exchange with no new dependency;
 * what is hand-written here (one deadline, abort, decoding the gzip we ask for) is the part fetch did for us. The
 * standalone `undici` package's `request` (no web streams either) would be the library alternative; it is not a
 * dependency of this project (Node's bundled copy is internal) and was not measured against this.
 */
export interface HttpAnswer {
  status: number;
  text: string;
  /** A response header by lower-case name (repeated headers joined with ', ', as fetch's `Headers.get` does). */
  header(name: string): string | undefined;
}

export interface HttpCall {
  method: 'GET' | 'POST';
  /** Absolute http(s) URL. */
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The caller's cancellation: the call rejects with `signal.reason`, as fetch does. */
  signal?: AbortSignal;
  /** Whole-call deadline (waiting for a socket, sending, the answer and its body); rejects with `HttpTimeoutError`. */
  timeoutMs: number;
}

export type HttpTransport = (call: HttpCall) => Promise<HttpAnswer>;

/** The call's deadline passed (named like the DOMException `AbortSignal.timeout` produces). */
export class HttpTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`request timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

export interface NodeHttpTransportOptions {
  /**
   * Sockets per origin. A worker has at most its slot limit of real-time calls at Stedi (plus the odd batch
   * submit or poll), so the limit plus headroom never queues a call behind the agent.
   */
  maxSockets: number;
  /**
   * Idle keep-alive sockets close after this long (undici's default, 4 s): below the 5 s keep-alive of Node
   * servers (the simulator), so a reused socket is not one the server is closing at the same moment.
   */
  idleSocketMs?: number;
  /** Extra trusted CA certificates (PEM) for https, e.g. a private CA; Node's own list is trusted regardless. */
  ca?: string;
}

function decode(encoding: string | undefined, raw: Buffer, done: (err: Error | null, out?: Buffer) => void): void {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      done(null, raw);
      return;
    case 'gzip':
    case 'x-gzip':
      // Like fetch: tolerate a truncated end rather than fail an otherwise complete answer.
      zlib.gunzip(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH }, done);
      return;
    case 'deflate':
      zlib.inflate(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH }, done);
      return;
    case 'br':
      zlib.brotliDecompress(raw, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }, done);
      return;
    default:
      // An encoding we never asked for and cannot decode: hand the bytes on, as fetch does.
      done(null, raw);
  }
}

/** An `HttpTransport` over `node:http`/`node:https` with one keep-alive agent per scheme. */
export function createNodeHttpTransport(options: NodeHttpTransportOptions): HttpTransport {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, timeout: options.idleSocketMs ?? 4_000 };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(options.ca ? { ...agentOptions, ca: [...tls.rootCertificates, options.ca] } : agentOptions);

  return (call) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const { signal } = call;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let url: URL;
      try {
        url = new URL(call.url);
      } catch (err) {
        reject(err);
        return;
      }
      const secure = url.protocol === 'https:';
      if (!secure && url.protocol !== 'http:') {
        reject(new TypeError(`unsupported protocol ${url.protocol}`));
        return;
      }
      const headers: Record<string, string | number> = { ...call.headers };
      if (call.body !== undefined) headers['Content-Length'] = Buffer.byteLength(call.body);

      let settled = false;
      const finish = (err: unknown, answer?: HttpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (answer) resolve(answer);
        else reject(err);
      };
      const req = (secure ? https : http).request({
        protocol: url.protocol,
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || undefined,
        path: url.pathname + url.search,
        method: call.method,
        headers,
        agent: secure ? httpsAgent : httpAgent,
      });
      function onAbort(): void {
        finish(signal?.reason);
        req.destroy();
      }
      // Unref'd like `AbortSignal.timeout`'s timer: an open call keeps the process alive through its socket.
      const timer = setTimeout(() => {
        finish(new HttpTimeoutError(call.timeoutMs));
        req.destroy();
      }, call.timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });

      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => finish(err));
        res.on('close', () => {
          if (!res.complete) finish(new Error('the connection closed before the answer was complete'));
        });
        res.on('end', () => {
          if (settled) return;
          const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          const encoding = res.headers['content-encoding'];
          decode(encoding, raw, (err, body) => {
            if (err || !body) {
              finish(err ?? new Error('empty decoded body'));
              return;
            }
            let text = body.toString('utf8');
            // fetch's `text()` drops a UTF-8 byte order mark.
            if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
            const h = res.headers;
            finish(null, {
              status: res.statusCode ?? 0,
              text,
              header: (name) => {
                const v = h[name];
                return Array.isArray(v) ? v.join(', ') : v;
              },
            });
          });
        });
      });
      req.end(call.body);
    });
}

/** An `HttpTransport` over a fetch implementation (the gateway's test seam, and the transport before this one). */
export function fetchTransport(doFetch: typeof fetch): HttpTransport {
  return async (call) => {
    const timeout = AbortSignal.timeout(call.timeoutMs);
    const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
    try {
      const res = await doFetch(call.url, {
        method: call.method,
        headers: call.headers,
        signal,
        ...(call.body !== undefined ? { body: call.body } : {}),
      });
      const text = await res.text();
      return { status: res.status, text, header: (name) => res.headers.get(name) ?? undefined };
    } catch (err) {
      // The caller's own cancellation propagates untouched; our deadline is reported as one.
      if (!call.signal?.aborted && timeout.aborted) throw new HttpTimeoutError(call.timeoutMs);
      throw err;
    }
  };
}
