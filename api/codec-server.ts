import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from 'pino';
import { hasScope, Scope, type TokenVerifier } from './auth';

/**
 * Temporal codec server (https://docs.temporal.io/production-deployment/data-encryption): POST /decode and /encode
 * with `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`, as the Web UI ("Data Encoder") and
 * `temporal workflow show --codec-endpoint` call it. CORS for the configured Web UI origins (the UI calls it from
 * the operator's browser); auth: a Bearer JWT with rte:codec:decode (or rte:admin), or none on a loopback-only
 * local listener (lib/config.ts refuses "none" anywhere else).
 */
export interface CodecServerDeps {
  codec: PayloadCodec;
  logger: Logger;
  corsOrigins: string[];
  /** undefined: no authentication (local loopback only). */
  verifyToken: TokenVerifier | undefined;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});
const toJson = ({ metadata, data }: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(data ?? new Uint8Array()).toString('base64'),
});

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`body larger than ${limit} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createCodecServer(deps: CodecServerDeps): Server {
  const limit = deps.maxBodyBytes ?? 8 * 1024 * 1024;
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  return createServer((req, res) => {
    void (async () => {
      const origin = req.headers.origin;
      if (origin && deps.corsOrigins.includes(origin)) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-allow-credentials', 'true');
        res.setHeader('vary', 'Origin');
      }
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
        res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
      if (req.method !== 'POST' || (path !== '/decode' && path !== '/encode')) return send(res, 404, { error: 'POST /decode or /encode' });
      if (deps.verifyToken) {
        const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
        if (!match?.[1]) return send(res, 401, { error: 'missing bearer token (Authorization: Bearer <JWT>)' });
        let principal;
        try {
          principal = await deps.verifyToken(match[1]);
        } catch {
          return send(res, 401, { error: 'invalid or expired bearer token' });
        }
        if (!hasScope(principal, Scope.CodecDecode)) return send(res, 403, { error: `scope ${Scope.CodecDecode} required` });
        deps.logger.info({ audit: true, service: principal.service, path, namespace: req.headers['x-namespace'] }, 'codec request');
      }
      let payloads: Payload[];
      try {
        const body = JSON.parse(await readBody(req, limit)) as unknown;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return send(res, 400, { error: 'body: expected a JSON object {"payloads": [...]}' });
        const unknownField = Object.keys(body).find((k) => k !== 'payloads');
        if (unknownField !== undefined) return send(res, 400, { error: `${unknownField}: unknown field (expected payloads)` });
        // Proto3 JSON leaves out an empty repeated field: the temporal CLI sends `{}` for a query, signal or update
        // with no arguments (and for a history event such as batchAccepted's update, which takes none).
        const raw = (body as { payloads?: unknown }).payloads ?? [];
        if (!Array.isArray(raw)) return send(res, 400, { error: 'payloads: expected an array' });
        payloads = (raw as JsonPayload[]).map(fromJson);
      } catch (err) {
        return send(res, 400, { error: `body: ${(err as Error).message}` });
      }
      try {
        const out = path === '/decode' ? await deps.codec.decode(payloads) : await deps.codec.encode(payloads);
        send(res, 200, { payloads: out.map(toJson) });
      } catch (err) {
        // A payload under a key this server does not hold, or tampered ciphertext.
        send(res, 422, { error: (err as Error).message });
      }
    })().catch((err: unknown) => {
      deps.logger.error({ err }, 'codec server request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
}
