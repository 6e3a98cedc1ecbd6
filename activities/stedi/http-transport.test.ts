import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ErrorType } from '../../lib/errors';
import { createHttpStediGateway, type HttpStediGatewayOptions } from './gateway';
import { createNodeHttpTransport } from './http-transport';
import type { EligibilityCheckRequest } from './types';
import { failureOf } from './test-support';

/** The gateway's default transport (node:http(s), no injected fetch) against real servers on port 0. */

const request: EligibilityCheckRequest = {
  tradingPartnerServiceId: '60054',
  provider: { organizationName: 'Included Health', npi: '1999999984' },
  subscriber: { memberId: 'AETNA12345', firstName: 'Jöhn', lastName: 'Doe', dateOfBirth: '20040404' },
  encounter: { serviceTypeCodes: ['30'] },
};

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

interface Running {
  url: string;
  seen: Seen[];
  connections: () => number;
}

const servers: Array<http.Server | https.Server> = [];
const sockets = new Set<Socket>();

async function listen(server: http.Server | https.Server, scheme: string, seen: Seen[], handler: Handler): Promise<Running> {
  let connections = 0;
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', () => undefined);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `${scheme}://127.0.0.1:${port}`, seen, connections: () => connections };
}

function serve(handler: Handler): Promise<Running> {
  return listen(http.createServer(), 'http', [], handler);
}

function gateway(url: string, extra: Partial<HttpStediGatewayOptions> = {}) {
  return createHttpStediGateway({ baseUrl: url, apiKey: 'k1', timeoutMs: 5_000, ...extra });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

describe('the Stedi gateway over node:http', () => {
  it('posts the JSON request with Stedi\'s headers and reads status, body, request id and Retry-After', async () => {
    const srv = await serve((_req, res) => sendJson(res, 429, { message: 'throttled' }, { 'stedi-request-id': 'req-7', 'retry-after': '3' }));
    const err = await failureOf(gateway(srv.url).checkEligibility(request));
    expect(srv.seen).toHaveLength(1);
    const seen = srv.seen[0]!;
    expect(seen).toMatchObject({ method: 'POST', url: '/2024-04-01/change/medicalnetwork/eligibility/v3' });
    expect(seen.headers).toMatchObject({
      authorization: 'Key k1',
      accept: 'application/json',
      'accept-encoding': 'gzip',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(seen.body)),
    });
    expect(JSON.parse(seen.body)).toEqual(request);
    expect(err.classification).toMatchObject({ errorType: ErrorType.StediThrottled, retryable: true, nextRetryDelayMs: 3_000 });
    expect(err.httpStatus).toBe(429);
    expect(err.requestId).toBe('req-7');
    expect(err.body).toEqual({ message: 'throttled' });
  });

  it('returns a 200 verdict and reuses one kept-alive connection for calls in sequence', async () => {
    const srv = await serve((_req, res) => sendJson(res, 200, { id: 'ec_1', errors: [] }, { 'x-amzn-requestid': 'amzn-1' }));
    const gw = gateway(srv.url);
    for (let i = 0; i < 3; i++) {
      const out = await gw.checkEligibility(request);
      expect([out.httpStatus, out.classification.kind, out.response.id, out.requestId]).toEqual([200, 'ok', 'ec_1', 'amzn-1']);
    }
    expect(srv.connections()).toBe(1);
  });

  it('decodes a gzipped answer and GETs with the query string', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(Buffer.from(JSON.stringify({ items: [{ batchId: 'b-1' }], nextPageToken: 'tok2' }))));
    });
    const page = await gateway(srv.url).pollBatchResults({ batchId: 'b 1', pageSize: 50 });
    expect(page).toEqual({ items: [{ batchId: 'b-1' }], nextPageToken: 'tok2' });
    expect(srv.seen[0]).toMatchObject({ method: 'GET', url: '/2024-04-01/eligibility-manager/polling/batch-eligibility?batchId=b+1&pageSize=50', body: '' });
    expect(srv.seen[0]!.headers['content-type']).toBeUndefined();
  });

  it('classifies a non-JSON 502 page as a retryable server error', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    const err = await failureOf(gateway(srv.url).checkEligibility(request));
    expect(err.classification).toMatchObject({ errorType: ErrorType.StediServer, retryable: true, httpStatus: 502 });
    expect(err.body).toBe('<html>bad gateway</html>');
  });

  it('times out a call that is never answered, retryable, and frees the connection', async () => {
    const srv = await serve(() => undefined);
    const err = await failureOf(gateway(srv.url, { timeoutMs: 50 }).checkEligibility(request));
    expect(err.classification).toMatchObject({ kind: 'server', retryable: true, errorType: ErrorType.StediServer });
    expect(err.classification.message).toMatch(/timed out/);
    for (let i = 0; i < 2_000 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(sockets.size).toBe(0);
  });

  it('waits for an answer slower than the idle-socket timeout (Stedi answers in seconds), then closes the idle socket', async () => {
    const srv = await serve((_req, res) => setTimeout(() => sendJson(res, 200, { id: 'ec_slow' }), 150));
    const transport = createNodeHttpTransport({ maxSockets: 2, idleSocketMs: 30 });
    const answer = await transport({ method: 'GET', url: `${srv.url}/x`, headers: {}, timeoutMs: 5_000 });
    expect([answer.status, answer.text]).toEqual([200, JSON.stringify({ id: 'ec_slow' })]);
    for (let i = 0; i < 2_000 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(sockets.size).toBe(0);
  });

  it('times out an answer whose body never ends', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
    });
    const err = await failureOf(gateway(srv.url, { timeoutMs: 50 }).checkEligibility(request));
    expect(err.classification.message).toMatch(/timed out/);
  });

  it('propagates the caller\'s cancellation untouched, before and during the call', async () => {
    const srv = await serve(() => undefined);
    const gw = gateway(srv.url);
    const before = new AbortController();
    before.abort(new Error('cancelled before'));
    await expect(gw.checkEligibility(request, { signal: before.signal })).rejects.toThrow('cancelled before');
    expect(srv.seen).toHaveLength(0);

    const during = new AbortController();
    const p = gw.checkEligibility(request, { signal: during.signal });
    for (let i = 0; i < 2_000 && srv.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const reason = new Error('activity cancelled');
    during.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it('turns a refused connection and a reset mid-answer into retryable server failures', async () => {
    const closed = await serve(() => undefined);
    const url = closed.url;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const refused = await failureOf(gateway(url).checkEligibility(request));
    expect(refused.classification).toMatchObject({ kind: 'server', retryable: true, errorType: ErrorType.StediServer });
    expect(refused.classification.message).toMatch(/network error calling Stedi/);

    const srv = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"id":');
      setTimeout(() => req.socket.destroy(), 10);
    });
    const reset = await failureOf(gateway(srv.url).checkEligibility(request));
    expect(reset.classification).toMatchObject({ kind: 'server', retryable: true, errorType: ErrorType.StediServer });
  });
});

/** A self-signed certificate for 127.0.0.1 from the openssl CLI (absent: the https case cannot run here). */
function selfSignedCert(): { key: string; cert: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'stedi-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tlsPair = selfSignedCert();
(tlsPair ? describe : describe.skip)('the Stedi gateway over node:https (needs the openssl CLI)', () => {
  it('calls an https URL over TLS and refuses a certificate it does not trust', async () => {
    const srv = await listen(https.createServer({ key: tlsPair!.key, cert: tlsPair!.cert }), 'https', [], (_req, res) => sendJson(res, 200, { id: 'ec_tls', errors: [] }));
    const out = await gateway(srv.url, { ca: tlsPair!.cert }).checkEligibility(request);
    expect([out.httpStatus, out.response.id]).toEqual([200, 'ec_tls']);

    const untrusted = await failureOf(gateway(srv.url).checkEligibility(request));
    expect(untrusted.classification).toMatchObject({ kind: 'server', retryable: true });
    expect(untrusted.classification.message).toMatch(/certificate/);
    expect(srv.seen).toHaveLength(1);
  });
});
