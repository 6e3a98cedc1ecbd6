import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret } from '../../activities/webhooks/signing';
import { startBatch, startBatchHarness, type BatchHarness } from '../../bench/batch-harness';
import { batchStatusQuery, cancelBatchUpdate, pauseBatchSignal, resumeBatchSignal } from '../../workflows/batch.defs';
import { RteBatchStatus } from '../../workflows/search-attributes';
import { connectTemporal, uniqueName, type TemporalTestContext } from '../helpers/temporal';

jest.setTimeout(300_000);

/**
 * The batch workflow on the real dev server with the Stedi simulator (latency compressed by its time scale).
 * Every test checks what a client would see: final status, exact counts, what reached Stedi, cache contents.
 */
describe('batchWorkflow (integration)', () => {
  let ctx: TemporalTestContext;
  let h: BatchHarness;
  const secret = generateWebhookSecret();
  const received: Array<{ headers: IncomingHttpHeaders; body: string; status: number }> = [];
  let answers: number[] = [];
  let receiver: Server;
  let receiverUrl: string;

  beforeAll(async () => {
    ctx = await connectTemporal();
    // 13.5 s mean latency × 0.004 ≈ 54 ms; a Stedi batch "takes" 120 s × 0.004 ≈ 0.5 s.
    h = await startBatchHarness({ members: 26_000, timeScale: 0.004, webhookSecrets: { 'svc-hooks': secret } });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const status = answers.shift() ?? 200;
        received.push({ headers: req.headers, body, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => receiver.close(() => r()));
    await h?.stop();
    await ctx?.close();
  });

  const ids = (n: number, offset = 0) => h.members.slice(offset, offset + n).map((m) => m.memberId);
  const eventsOf = (batchId: string) => h.events.filter((e) => e.key === batchId).map((e) => e.decoded.eventType);

  async function run<T>(taskQueue: string, fn: () => Promise<T>): Promise<T> {
    const worker = await h.createWorker(ctx.nativeConnection, ctx.namespace, taskQueue);
    return worker.runUntil(fn);
  }

  it('real-time path: every member accounted for, at most 15 Stedi calls in flight, Kafka events STARTED → PROGRESS → terminal', async () => {
    const tq = uniqueName('tq-batch-rt');
    h.sim.resetStats();
    const before = await h.simStats();
    const result = await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, { taskQueue: tq, clientService: 'svc-rt', clientJobId: uniqueName('job'), memberIds: ids(300), options: { strategy: 'REALTIME_ONLY' } });
      return handle.result();
    });
    const stats = await h.simStats();
    expect(result.path).toBe('REALTIME');
    expect(result.counters.total).toBe(300);
    expect(result.counters.completed + result.counters.failed).toBe(300);
    expect(result.counters.cancelled).toBe(0);
    expect(result.counters.stediRealtimeCalls).toBe(300);
    expect(stats.realtimeCalls - before.realtimeCalls).toBeGreaterThanOrEqual(300);
    expect(stats.peak).toBeLessThanOrEqual(15);
    expect(['COMPLETED', 'PARTIALLY_COMPLETED']).toContain(result.status);
    // Failed members are in the error store (ids included), exactly once each.
    expect((await h.errors.page(result.batchId, -1, 1000)).total).toBe(result.counters.failed);
    const types = eventsOf(result.batchId);
    expect(types[0]).toBe('STARTED');
    expect(types.filter((t) => t === 'PROGRESS').length).toBeGreaterThanOrEqual(5);
    expect(types[types.length - 1]).toBe(result.status);
  });

  it('CACHE_ONLY answers from the cache and makes zero Stedi calls', async () => {
    const tq = uniqueName('tq-batch-co');
    // Warm 40 of 50 members through the cache port (as earlier checks would have).
    const warmed = await h.cache.getMany(ids(50, 1000).map((memberId) => ({ memberId, operation: 'coverage' })));
    expect(warmed.every((e) => e === null)).toBe(true);
    for (const memberId of ids(40, 1000)) {
      await h.cache.put({ memberId, operation: 'coverage', summary: { status: 'active', payer: { id: null, name: null }, plan: { name: null, number: null, groupNumber: null, insuranceType: null }, coverage: { start: null, end: null }, benefits: [], errors: [] }, outcome: 'success', source: 'realtime', fetchedAt: Date.now() });
    }
    const before = await h.simStats();
    const result = await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, { taskQueue: tq, clientService: 'svc-co', clientJobId: uniqueName('job'), memberIds: ids(50, 1000), options: { cacheMode: 'CACHE_ONLY', strategy: 'BATCH_ONLY' } });
      return handle.result();
    });
    const after = await h.simStats();
    expect(after.realtimeCalls).toBe(before.realtimeCalls);
    expect(after.batchesSubmitted).toBe(before.batchesSubmitted);
    expect(result.counters).toMatchObject({ total: 50, completed: 40, failed: 10, cacheHits: 40, cacheMisses: 10, stediBatches: 0, stediRealtimeCalls: 0 });
    expect(result.status).toBe('PARTIALLY_COMPLETED');
    const errs = await h.errors.page(result.batchId, -1, 100);
    expect(errs.total).toBe(10);
    expect(errs.errors.every((e) => e.errorCode === 'NOT_CACHED')).toBe(true);
  });

  it('batch-API path: 25,000 members go to Stedi as 3 batches, results land in the cache, counts are exact', async () => {
    const tq = uniqueName('tq-batch-api');
    const before = await h.simStats();
    const t0 = Date.now();
    const memberIds = ids(25_000);
    const result = await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, { taskQueue: tq, clientService: 'svc-api', clientJobId: uniqueName('job'), memberIds });
      return handle.result();
    });
    const after = await h.simStats();
    expect(result.path).toBe('BATCH_API');
    expect(result.strategyRule).toBe('large');
    expect(after.batchesSubmitted - before.batchesSubmitted).toBe(3);
    expect(after.itemsSubmitted - before.itemsSubmitted).toBe(25_000 - result.counters.cacheHits);
    expect(result.counters.stediBatches).toBe(3);
    expect(result.counters.completed + result.counters.failed).toBe(25_000);
    const cached = await h.cache.getMany(memberIds.map((memberId) => ({ memberId, operation: 'coverage' })));
    expect(cached.filter((e) => e !== null)).toHaveLength(25_000);
    // Members already cached by earlier tests were hits; every other member was written from Stedi's batch results.
    expect(cached.filter((e) => e !== null && e.fetchedAt >= t0).length).toBe(25_000 - result.counters.cacheHits);
  });

  it('a Stedi submission whose answer was lost (worker died) is recovered by name: no second Stedi batch', async () => {
    const tq = uniqueName('tq-batch-dup');
    // Let the first submission reach Stedi, then fail the activity as if the worker died before recording it.
    let failNext = true;
    const realSubmit = h.deps.stedi.submitBatch.bind(h.deps.stedi);
    h.deps.stedi.submitBatch = async (req, o) => {
      const r = await realSubmit(req, o);
      if (failNext) {
        failNext = false;
        throw new Error('worker crashed after Stedi accepted the batch');
      }
      return r;
    };
    const before = await h.simStats();
    try {
      const result = await run(tq, async () => {
        const handle = await startBatch(ctx.client, h, { taskQueue: tq, clientService: 'svc-dup', clientJobId: uniqueName('job'), memberIds: ids(150, 25_500), options: { strategy: 'BATCH_ONLY' } });
        return handle.result();
      });
      const after = await h.simStats();
      expect(after.batchesSubmitted - before.batchesSubmitted).toBe(1);
      expect(result.counters.stediBatches).toBe(1);
      expect(result.counters.completed + result.counters.failed + result.counters.cacheHits).toBeGreaterThanOrEqual(150);
      expect(result.counters.completed + result.counters.failed).toBe(150);
    } finally {
      h.deps.stedi.submitBatch = realSubmit;
    }
  });

  it('cancel mid-run ends CANCELLED with consistent counts; pause holds dispatching', async () => {
    const tq = uniqueName('tq-batch-cancel');
    await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, {
        taskQueue: tq,
        clientService: 'svc-cancel',
        clientJobId: uniqueName('job'),
        memberIds: ids(400, 5000),
        options: { strategy: 'REALTIME_ONLY', maxConcurrentRequests: 2, cacheMode: 'BYPASS_CACHE' },
      });
      await waitFor(async () => (await handle.query(batchStatusQuery)).counters.completed + (await handle.query(batchStatusQuery)).counters.failed >= 10);
      await handle.signal(pauseBatchSignal);
      const paused = await handle.query(batchStatusQuery);
      expect(paused.paused).toBe(true);
      await sleep(500);
      const stillPaused = await handle.query(batchStatusQuery);
      // At most the 2 in-flight checks finished after the pause.
      expect(stillPaused.counters.completed + stillPaused.counters.failed).toBeLessThanOrEqual(paused.counters.completed + paused.counters.failed + 2);
      await handle.signal(resumeBatchSignal);
      await waitFor(async () => (await handle.query(batchStatusQuery)).counters.completed >= stillPaused.counters.completed + 5);
      const final = await handle.executeUpdate(cancelBatchUpdate, { args: [{ reason: 'test cancel' }] });
      expect(final.status).toBe('CANCELLED');
      const cnt = final.counters;
      expect(cnt.completed + cnt.failed + cnt.cancelled).toBe(400);
      expect(cnt.cancelled).toBeGreaterThan(0);
      expect(final.failure).toEqual({ code: 'CANCELLED', message: 'test cancel' });
      const result = await handle.result();
      expect(result.counters).toEqual(cnt);
      const desc = await handle.describe();
      expect(desc.typedSearchAttributes.get(RteBatchStatus)).toBe('CANCELLED');
    });
  });

  it('times out into PARTIALLY_COMPLETED with reason TIMEOUT', async () => {
    const tq = uniqueName('tq-batch-timeout');
    const result = await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, {
        taskQueue: tq,
        clientService: 'svc-timeout',
        clientJobId: uniqueName('job'),
        memberIds: ids(500, 7000),
        options: { strategy: 'REALTIME_ONLY', maxConcurrentRequests: 1, cacheMode: 'BYPASS_CACHE', timeoutMs: 1_500 },
      });
      return handle.result();
    });
    expect(result.status).toBe('PARTIALLY_COMPLETED');
    expect(result.failure?.code).toBe('TIMEOUT');
    expect(result.counters.completed + result.counters.failed + result.counters.cancelled).toBe(500);
    expect(result.counters.cancelled).toBeGreaterThan(0);
  });

  it('webhooks: signed per Standard Webhooks, filtered, retried after a 500', async () => {
    const tq = uniqueName('tq-batch-hooks');
    received.length = 0;
    answers = [500]; // the first delivery fails once
    const result = await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, {
        taskQueue: tq,
        clientService: 'svc-hooks',
        clientJobId: uniqueName('job'),
        memberIds: ids(20, 9000),
        options: { strategy: 'REALTIME_ONLY', notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', callbackUrl: receiverUrl, eventTypes: ['STARTED', 'COMPLETED', 'PARTIALLY_COMPLETED'], deliveryMode: 'AT_LEAST_ONCE' } },
      });
      const r = await handle.result();
      await waitFor(async () => received.filter((x) => x.status === 200).length >= 2);
      return r;
    });
    const wh = new Webhook(secret);
    const payloads = received.map((x) => wh.verify(x.body, x.headers as Record<string, string>) as { type: string; data: { batch_id: string; event: string } });
    expect(payloads.every((p) => p.data.batch_id === result.batchId)).toBe(true);
    const types = payloads.map((p) => p.type);
    // Webhooks of different events are independent deliveries (no ordering promise); STARTED was retried once.
    expect([...types].sort()).toEqual(['batch.started', 'batch.started', `batch.${result.status.toLowerCase()}`].sort());
    expect(received[0]!.status).toBe(500);
    expect(types).not.toContain('batch.progress');
    // The retry carried the same webhook-id (consumers dedupe on it).
    const startedIds = received.filter((x) => x.body.includes('"batch.started"')).map((x) => x.headers['webhook-id']);
    expect(startedIds).toHaveLength(2);
    expect(startedIds[0]).toBe(startedIds[1]);
  });

  it('keeps exact counts across continue-as-new', async () => {
    const tq = uniqueName('tq-batch-can');
    const result = await run(tq, async () => {
      const handle = await startBatch(ctx.client, h, {
        taskQueue: tq,
        clientService: 'svc-can',
        clientJobId: uniqueName('job'),
        memberIds: ids(120, 11_000),
        options: { strategy: 'REALTIME_ONLY', cacheMode: 'BYPASS_CACHE' },
        tuning: { realtimePageSize: 20, continueAsNewAfterEvents: 50 },
      });
      const r = await handle.result();
      const desc = await ctx.client.workflow.getHandle(r.batchId).describe();
      expect(desc.runId).not.toBe(handle.firstExecutionRunId);
      return r;
    });
    expect(result.counters.completed + result.counters.failed).toBe(120);
    expect(result.counters.stediRealtimeCalls).toBe(120);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(pred: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(50);
  }
}

