import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport } from '@connectrpc/connect-node';
import { Redis } from 'ioredis';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthInterceptor, createTokenVerifier } from '../../api/auth';
import { createObservabilityInterceptor } from '../../api/interceptors';
import { createBatchService, createTemporalBatchPort } from '../../api/services/batch-service';
import { FAST_TUNING, startBatchHarness, type BatchHarness } from '../../bench/batch-harness';
import { BatchEligibilityService, BatchEventType, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { createRedisSubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';
import { loadConfig } from '../../lib/config';
import { mintDevToken } from '../../lib/dev-token';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { connectTemporal, uniqueName, type TemporalTestContext } from '../helpers/temporal';

jest.setTimeout(300_000);

/**
 * End to end through the public API: a real HTTP server with the batch service, the Temporal dev server, a worker
 * with the batch workflows, Redis for the rate limit, and the Stedi simulator (13.5 s latency × 0.004).
 */
describe('Batch API over HTTP (integration)', () => {
  let ctx: TemporalTestContext;
  let h: BatchHarness;
  let server: Server;
  let redis: Redis;
  let baseUrl: string;
  const secret = 'integration-secret';
  const taskQueue = uniqueName('tq-batch-api-e2e');
  const service = uniqueName('svc-e2e');
  let stopWorker: () => void;
  let workerDone: Promise<void>;

  beforeAll(async () => {
    const config = loadConfig();
    ctx = await connectTemporal();
    h = await startBatchHarness({ members: 1_200, timeScale: 0.004 });
    redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
    const batch = createBatchService({
      temporal: createTemporalBatchPort(ctx.client),
      lists: h.lists,
      errors: h.errors,
      rateLimiter: createRedisSubmitRateLimiter(redis, { limit: 3, windowMs: 3_600_000 }, `test:${uniqueName('rl')}:`),
      taskQueue,
      tuning: FAST_TUNING,
      watch: { pollIntervalMs: 200, keepaliveMs: 1_000 },
    });
    const handler = connectNodeAdapter({
      routes: (router) => router.service(BatchEligibilityService, batch),
      interceptors: [createObservabilityInterceptor(silentLogger(), createMetrics('batch-e2e')), createAuthInterceptor(createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }))],
    });
    server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const worker = await h.createWorker(ctx.nativeConnection, ctx.namespace, taskQueue);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    stopWorker = release;
    workerDone = worker.runUntil(gate);
  });

  afterAll(async () => {
    stopWorker?.();
    await workerDone;
    await new Promise<void>((r) => server.close(() => r()));
    redis?.disconnect();
    await h?.stop();
    await ctx?.close();
  });

  async function client() {
    const token = await mintDevToken({ service, scopes: ['rte:batch:submit', 'rte:batch:read', 'rte:batch:cancel'], secret });
    const transport = createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [(next) => (req) => (req.header.set('authorization', `Bearer ${token}`), next(req))] });
    return createClient(BatchEligibilityService, transport);
  }

  it('a 1,000-member real-time batch: idempotent submit, streamed to completion, every member accounted for, ≤ 15 in flight, listed by visibility', async () => {
    const c = await client();
    h.sim.resetStats();
    const jobId = uniqueName('job-1000');
    const memberIds = h.members.slice(0, 1000).map((m) => m.memberId);
    const req = create(SubmitBatchRequestSchema, {
      clientJobId: jobId,
      memberSelector: { case: 'memberIds', value: { memberIds } },
      options: { priority: 2, strategy: 2 },
    });
    const first = await c.submitBatch(req);
    expect(first.batchId).toBe(`batch/${service}/${jobId}`);
    expect(first.totalMembers).toBe(1000);
    // Resubmitting the same job returns the same batch, never a second one.
    const again = await c.submitBatch(req);
    expect(again.batchId).toBe(first.batchId);

    const seen: BatchEventType[] = [];
    let last;
    for await (const u of c.watchBatchStatus({ batchId: first.batchId })) {
      if (u.update.case !== undefined) seen.push(u.eventType);
      last = u;
    }
    expect(seen[0]).toBe(BatchEventType.EVENT_TYPE_STARTED);
    expect(last?.update.case).toBe('completed');

    const st = await c.getBatchStatus({ batchId: first.batchId, errorsPageSize: 1000 });
    expect([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED]).toContain(st.status);
    expect(st.progress!.completed + st.progress!.failed).toBe(1000);
    expect(st.progress!.pending).toBe(0);
    expect(st.errors).toHaveLength(st.progress!.failed);
    expect(st.totalErrors).toBe(st.progress!.failed);
    const stats = await h.simStats();
    expect(stats.peak).toBeLessThanOrEqual(15);
    expect(stats.realtimeCalls).toBeGreaterThanOrEqual(1000);

    // Visibility is eventually consistent: poll ListBatches until the batch shows with its final status.
    let listed;
    for (let i = 0; i < 50 && !listed; i++) {
      const r = await c.listBatches({ statuses: [st.status] });
      listed = r.batches.find((b) => b.batchId === first.batchId);
      if (!listed) await new Promise((r2) => setTimeout(r2, 200));
    }
    expect(listed?.clientJobId).toBe(jobId);

    // A closed batch still answers (from its result), and resubmitting it still returns it.
    expect((await c.submitBatch(req)).batchId).toBe(first.batchId);
  });

  it('rate limit (Redis): submissions past the limit are resource_exhausted with retry-after', async () => {
    const c = await client();
    const mk = (j: string) => create(SubmitBatchRequestSchema, { clientJobId: j, memberSelector: { case: 'memberIds', value: { memberIds: ['m_000001'] } }, cacheControl: 1 });
    // The limit is 3 per hour and the first test used 1.
    await c.submitBatch(mk(uniqueName('rl')));
    await c.submitBatch(mk(uniqueName('rl')));
    try {
      await c.submitBatch(mk(uniqueName('rl')));
      throw new Error('expected resource_exhausted');
    } catch (err) {
      const e = ConnectError.from(err);
      expect(e.code).toBe(Code.ResourceExhausted);
      expect(Number(e.metadata.get('retry-after'))).toBeGreaterThan(0);
    }
  });
});
