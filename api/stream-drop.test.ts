import { Code, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import pino from 'pino';
import { BatchEligibilityService } from '../gen/rte/v1/batch_pb';
import { mintDevToken } from '../lib/dev-token';
import { createMetrics } from '../lib/metrics';
import { fakeBatchService, fakeTemporal } from '../test/helpers/fake-batch-temporal';
import { createTokenVerifier } from './auth';
import { createApiServer, type ApiServer } from './server';
import { acceptErrorsOfEveryRealm } from '../test/helpers/node-error-realm';

/**
 * A client that drops a server stream (WatchBatchStatus / SubmitBatchStreaming) is normal: nothing is logged as an
 * error, the server's watch loop stops polling Temporal, and the open-stream gauge returns to 0. On a real HTTP
 * server (HTTP/1.1 Connect and HTTP/2 gRPC), because the in-memory transport does not carry a disconnect.
 */
describe('a dropped stream', () => {
  const secret = 'stream-drop-test';
  const lines: Array<Record<string, unknown>> = [];
  const metrics = createMetrics('stream-drop-test');
  const t = fakeTemporal();
  let statusCalls = 0;
  const realStatus = t.port.status.bind(t.port);
  t.port.status = async (id) => {
    statusCalls++;
    return realStatus(id);
  };
  let api: ApiServer;
  let cancels = 0;
  let url: string;
  const consoleErrors: unknown[][] = [];
  let restoreConsole: () => void;

  beforeAll(async () => {
    const orig = console.error;
    console.error = (...a: unknown[]) => void consoleErrors.push(a);
    // Outside jest, Node's own errors are `instanceof Error`; inside jest's sandbox they are not, so connect-node
    // classes a write to a closed socket (ERR_STREAM_DESTROYED) as internal instead of aborted and console.errors it.
    // Restore the production behaviour here, so the test sees what a dropped stream prints in a real process.
    const restoreRealm = acceptErrorsOfEveryRealm();
    restoreConsole = () => {
      console.error = orig;
      restoreRealm();
    };
    api = createApiServer({
      logger: pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) }),
      metrics,
      verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }),
      routes: (router) =>
        router.service(
          BatchEligibilityService,
          // A keepalive on every poll: the server writes every few ms, so a write lands on the closed socket.
          fakeBatchService(t.port, { pollIntervalMs: 2, keepaliveMs: 0 }),
        ),
      checks: {},
    });
    url = `http://127.0.0.1:${await api.server.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    restoreConsole();
    await api.server.close(500);
  });

  const openStreams = async () => (await metrics.rpcStreamsOpen.get()).values.reduce((n, v) => n + v.value, 0);
  const waitFor = async (ok: () => Promise<boolean> | boolean, ms = 5_000) => {
    for (const until = Date.now() + ms; Date.now() < until; ) {
      if (await ok()) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return ok();
  };

  test.each([
    ['Connect over HTTP/1.1', () => createConnectTransport({ baseUrl: url, httpVersion: '1.1' })],
    ['gRPC over HTTP/2', () => createGrpcTransport({ baseUrl: url })],
  ])('%s: WatchBatchStatus and SubmitBatchStreaming dropped mid-stream log no error and stop their watch', async (_name, transport) => {
    const client = createClient(BatchEligibilityService, transport());
    const headers = { authorization: `Bearer ${await mintDevToken({ service: 'svc-a', scopes: ['rte:batch:submit', 'rte:batch:read'], secret })}` };
    const jobId = `job-${Math.random().toString(36).slice(2)}`;
    const { batchId } = await client.submitBatch({ clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm_2'] } } }, { headers });
    const v = t.views.get(batchId)!;
    t.views.set(batchId, { ...v, status: 'RUNNING', startedAtMs: 1 });
    const drop = async (stream: (signal: AbortSignal) => AsyncIterable<unknown>) => {
      const ac = new AbortController();
      let seen = 0;
      await (async () => {
        for await (const _ of stream(ac.signal)) if (++seen === 20) ac.abort();
      })().catch(() => undefined);
      expect(seen).toBe(20);
    };
    const before = lines.length;
    await drop((signal) => client.watchBatchStatus({ batchId }, { headers, signal }));
    await drop((signal) => client.submitBatchStreaming({ clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm_2'] } } }, { headers, signal }));

    expect(await waitFor(async () => (await openStreams()) === 0)).toBe(true);
    // No poll after the streams closed.
    const calls = statusCalls;
    await new Promise((r) => setTimeout(r, 200));
    expect(statusCalls).toBe(calls);
    const logged = lines.slice(before);
    expect(logged.filter((l) => (l['level'] as number) >= 40)).toEqual([]);
    expect(consoleErrors).toEqual([]);
    const counted = Object.fromEntries((await metrics.rpcRequests.get()).values.filter((v) => v.labels['code'] === 'Canceled').map((v) => [v.labels['method'], v.value]));
    expect(counted).toEqual({ 'rte.v1.BatchEligibilityService/WatchBatchStatus': ++cancels, 'rte.v1.BatchEligibilityService/SubmitBatchStreaming': cancels });
    // Counted as the client's cancel, and said at debug level.
    expect(logged.filter((l) => l['msg'] === 'client closed the stream').map((l) => l['method'])).toEqual([
      'rte.v1.BatchEligibilityService/WatchBatchStatus',
      'rte.v1.BatchEligibilityService/SubmitBatchStreaming',
    ]);
  });

  test('a stream answer is never cacheable: no-store on its headers, its errors included (an unknown batch)', async () => {
    const token = await mintDevToken({ service: 'svc-a', scopes: ['rte:batch:read'], secret });
    const json = Buffer.from(JSON.stringify({ batchId: 'batch/svc-a/no-such-job' }));
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), json]);
    envelope.writeUInt32BE(json.length, 1);
    const res = await fetch(`${url}/rte.v1.BatchEligibilityService/WatchBatchStatus`, {
      method: 'POST',
      headers: { 'content-type': 'application/connect+json', authorization: `Bearer ${token}` },
      body: envelope,
    });
    const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
    expect(body).toContain('not_found');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  test.each([
    ['Connect over HTTP/1.1', () => createConnectTransport({ baseUrl: url, httpVersion: '1.1' })],
    ['gRPC over HTTP/2', () => createGrpcTransport({ baseUrl: url })],
  ])('%s: a stream error carries its request id once (headers, not repeated in the trailers), the one the caller sent', async (_name, transport) => {
    const client = createClient(BatchEligibilityService, transport());
    const headers = { authorization: `Bearer ${await mintDevToken({ service: 'svc-a', scopes: ['rte:batch:read'], secret })}`, 'x-request-id': 'req-stream-1' };
    const err = await (async () => {
      for await (const _ of client.watchBatchStatus({ batchId: 'batch/svc-a/no-such-job' }, { headers })) void _;
    })().then(
      () => undefined,
      (e: unknown) => e as { code: number; metadata: Headers },
    );
    expect(err?.code).toBe(Code.NotFound);
    // The typed client merges headers and trailers: a repeated id read "req-stream-1, req-stream-1".
    expect(err?.metadata.get('x-request-id')).toBe('req-stream-1');
    // Refused before the handler (no token): once too.
    const refused = await (async () => {
      for await (const _ of client.watchBatchStatus({ batchId: 'batch/svc-a/no-such-job' }, { headers: { 'x-request-id': 'req-stream-2' } })) void _;
    })().then(
      () => undefined,
      (e: unknown) => e as { code: number; metadata: Headers },
    );
    expect(refused?.code).toBe(Code.Unauthenticated);
    expect(refused?.metadata.get('x-request-id')).toBe('req-stream-2');
  });
});
