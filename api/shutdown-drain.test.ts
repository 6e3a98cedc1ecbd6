import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import pino from 'pino';
import { BatchEligibilityService } from '../gen/rte/v1/batch_pb';
import { CheckEligibilityResponseSchema, EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { mintDevToken } from '../lib/dev-token';
import { createMetrics } from '../lib/metrics';
import { fakeBatchService, fakeTemporal } from '../test/helpers/fake-batch-temporal';
import { acceptErrorsOfEveryRealm } from '../test/helpers/node-error-realm';
import { createTokenVerifier, Scope } from './auth';
import { createApiServer, DRAIN_RETRY_AFTER_SECONDS } from './server';

/**
 * SIGTERM's drain (api/main.ts → `drain`, probe p17 #4): /readyz answers 503 `draining` while the listener stays open
 * for the readiness window, open server streams end at once with `unavailable` + `retry-after` (not at grace end
 * with a reset), in-flight unary calls finish, and the drain is done as soon as nothing is open. On a real HTTP server
 * (HTTP/1.1 Connect and HTTP/2 gRPC), since the drain is about sockets.
 */
describe('API drain on shutdown', () => {
  const secret = 'shutdown-drain-test';
  const GRACE_MS = 20_000;
  const WINDOW_MS = 1_200;
  const UNARY_MS = 1_500;
  let restoreRealm: () => void;
  beforeAll(() => {
    // As in stream-drop.test.ts: Node's errors are not `instanceof Error` in jest's sandbox.
    restoreRealm = acceptErrorsOfEveryRealm();
  });
  afterAll(() => restoreRealm());

  const start = async () => {
    const t = fakeTemporal();
    const api = createApiServer({
      logger: pino({ level: 'silent' }),
      metrics: createMetrics('shutdown-drain-test'),
      verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }),
      routes: (router) => {
        router.service(
          BatchEligibilityService,
          // Nothing changes and the keepalive is far off: without the drain the stream would just sit there.
          fakeBatchService(t.port, { pollIntervalMs: 50, keepaliveMs: 120_000 }),
        );
        // A unary call that takes a while (a live check): it must finish although the drain starts meanwhile.
        router.service(EligibilityService, {
          async checkEligibility(req: { memberId: string }) {
            await new Promise((r) => setTimeout(r, req.memberId === 'SLOW' ? UNARY_MS : 0));
            return create(CheckEligibilityResponseSchema, { stediCheckId: `ec_${req.memberId}` });
          },
        } as never);
      },
      checks: {},
    });
    const url = `http://127.0.0.1:${await api.server.listen(0, '127.0.0.1')}`;
    return { t, api, url };
  };

  test.each([
    ['Connect over HTTP/1.1', (url: string) => createConnectTransport({ baseUrl: url, httpVersion: '1.1' })],
    ['gRPC over HTTP/2', (url: string) => createGrpcTransport({ baseUrl: url })],
  ])('%s: readyz 503 draining, the stream ends unavailable + retry-after at once, the unary call finishes, done right after it', async (_name, transport: (url: string) => Transport) => {
    const { t, api, url } = await start();
    let drained: Promise<void> | undefined;
    try {
      const batch = createClient(BatchEligibilityService, transport(url));
      const eligibility = createClient(EligibilityService, transport(url));
      const headers = { authorization: `Bearer ${await mintDevToken({ service: 'svc-a', scopes: [Scope.BatchSubmit, Scope.BatchRead, Scope.EligibilityRead], secret })}` };
      const { batchId } = await batch.submitBatch({ clientJobId: 'job-drain', memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm_2'] } } }, { headers });
      t.views.set(batchId, { ...t.views.get(batchId)!, status: 'RUNNING', startedAtMs: 1 });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);

      const stream = batch.watchBatchStatus({ batchId }, { headers })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.update.case).toBe('started');
      expect((await stream.next()).value?.update.case).toBe('progress');
      const unaryStarted = Date.now();
      const unary = eligibility.checkEligibility({ memberId: 'SLOW' }, { headers }).then((r) => ({ r, at: Date.now() }));
      await new Promise((r) => setTimeout(r, 200));

      const t0 = Date.now();
      drained = api.drain({ readinessDelayMs: WINDOW_MS, graceMs: GRACE_MS }).then(() => void (drainedAt = Date.now()));
      let drainedAt = 0;

      // The open stream ends at once: unavailable, says why, and when to reconnect.
      const ended = await stream.next().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(Date.now() - t0).toBeLessThan(500);
      expect(ended?.code).toBe(Code.Unavailable);
      expect(ended?.rawMessage).toMatch(/shutting down; reconnect/);
      expect(ended?.metadata.get('retry-after')).toBe(String(DRAIN_RETRY_AFTER_SECONDS));

      // During the readiness window the listener is open and says it is draining.
      const ready = await fetch(`${url}/readyz`, { headers: { connection: 'close' } });
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, draining: true, status: 'draining' });
      expect(Date.now() - t0).toBeLessThan(WINDOW_MS);
      // A stream that starts now is refused the same way, at once.
      const refused = await (async () => {
        for await (const _ of batch.watchBatchStatus({ batchId }, { headers })) void _;
      })().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect([refused?.code, refused?.metadata.get('retry-after')]).toEqual([Code.Unavailable, String(DRAIN_RETRY_AFTER_SECONDS)]);

      // A unary call that arrives in the window is served (the load balancer may not have seen the 503 yet).
      expect((await eligibility.checkEligibility({ memberId: 'NEW' }, { headers })).stediCheckId).toBe('ec_NEW');

      // The unary call that was in flight finishes normally.
      const { r, at } = await unary;
      expect(r.stediCheckId).toBe('ec_SLOW');
      expect(at - unaryStarted).toBeGreaterThanOrEqual(UNARY_MS - 50);

      // Done right after the window and the last request, far from the grace.
      await drained;
      expect(drainedAt - t0).toBeGreaterThanOrEqual(WINDOW_MS - 20);
      expect(drainedAt - Math.max(at, t0 + WINDOW_MS)).toBeLessThan(1_000);
      expect(drainedAt - t0).toBeLessThan(GRACE_MS / 4);
      // And the port is closed.
      await expect(fetch(`${url}/readyz`)).rejects.toThrow();
    } finally {
      if (!drained) await api.server.close(500);
    }
  });

  test('readiness window 0 (tests): no window, the stream still ends unavailable and the drain is done at once', async () => {
    const { t, api, url } = await start();
    const batch = createClient(BatchEligibilityService, createConnectTransport({ baseUrl: url, httpVersion: '1.1' }));
    const headers = { authorization: `Bearer ${await mintDevToken({ service: 'svc-a', scopes: [Scope.BatchSubmit, Scope.BatchRead], secret })}` };
    const { batchId } = await batch.submitBatch({ clientJobId: 'job-drain-0', memberSelector: { case: 'memberIds', value: { memberIds: ['m_1'] } } }, { headers });
    t.views.set(batchId, { ...t.views.get(batchId)!, status: 'RUNNING', startedAtMs: 1 });
    const stream = batch.watchBatchStatus({ batchId }, { headers })[Symbol.asyncIterator]();
    await stream.next();
    await stream.next();
    const t0 = Date.now();
    const drained = api.drain({ readinessDelayMs: 0, graceMs: GRACE_MS });
    const ended = await stream.next().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(ended?.code).toBe(Code.Unavailable);
    await drained;
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
