import { RteBatchStatus } from '../../workflows/search-attributes';
import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createPgMemberListStore } from '../../activities/batch/pg-stores';
import { generateWebhookSecret } from '../../activities/webhooks/signing';
import { createTemporalBatchPort } from '../../api/services/batch-service';
import {
  allBatchErrors,
  batchClient,
  historyEvents,
  simCounts,
  spawnWorkerProcess,
  subscribeToBatchEvents,
  waitFor,
  waitForBatchEnd,
  type BatchEventSubscriber,
  type SimCounts,
  type WorkerProcess,
} from '../../bench/batch-harness';
import {
  BatchEventType,
  BatchExecutionOptions_Priority as Priority,
  BatchExecutionOptions_Strategy as Strategy,
  BatchStatus,
  NotificationPreferences_DeliveryMode as DeliveryMode,
  SubmitBatchRequestSchema,
  type BatchStatusUpdate,
  type GetBatchStatusResponse,
  type SubmitBatchResponse,
} from '../../gen/rte/v1/batch_pb';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import type { ResolvedBatchOptions } from '../../lib/batch/types';
import { silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { SIM_PATHS } from '../../stedi-sim/server';
import { batchStatusQuery, batchWorkflowId, DEFAULT_BATCH_OPERATION, pauseBatchSignal, resumeBatchSignal, type BatchTuning, type BatchWorkflowResult } from '../../workflows/batch.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { listenOnLocalWebhookPort } from '../helpers/webhook-receiver';
import { uniqueName } from '../helpers/temporal';

/**
 * The Batch RPC end to end on the real platform (test/helpers/platform.ts): Temporal dev server, workers built by
 * the production composition root (Redis slot pool and cache, PostgreSQL directory and batch stores, Kafka
 * publisher), the real API, and the Stedi simulator with compressed latency (13.5 s × 0.01 ≈ 135 ms; a Stedi
 * batch takes 120 s × 0.01 ≈ 1.2 s). Every check is something a client sees: RPC answers, Kafka events, webhook
 * deliveries, the eligibility cache, and what Stedi received.
 *
 * Two platforms run side by side to keep the wall time down:
 *  - "big": 25,000 seeded members and NO in-process worker. A real worker process (workers/main.ts) is SIGKILLed the
 *    moment Stedi accepts its first batch, before the answer reaches it; a second worker process finishes the job.
 *    This scenario waits on production timers (2 min heartbeat timeout of the orphaned submission, 2 min first poll
 *    of the Stedi batch API), so it starts in beforeAll and the last test awaits it.
 *  - "main": 1,700 members and an in-process worker, for everything else.
 */

const HOOK_SERVICE = 'svc-hooks';
const hookSecret = generateWebhookSecret();

/** Members the simulator answers on the first try (no payer connectivity codes). */
const answerable = (members: MemberRecord[]) => members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode));

const fastRetry = { maxAttempts: 3, initialInterval: durationFromMs(200), maxInterval: durationFromMs(1_000), backoffMultiplier: 2 };

describe('Batch RPC on the real platform (integration)', () => {
  let main: TestPlatform;
  let big: TestPlatform;
  let events: BatchEventSubscriber;
  let crash: Promise<CrashOutcome>;
  let proxy: KillingProxy | undefined;
  const processes: WorkerProcess[] = [];
  const crashBatchId: { value?: string } = {};

  const ids = (start: number, count: number) => main.members.slice(start, start + count).map((m) => m.memberId);

  beforeAll(async () => {
    [main, big] = await Promise.all([
      startTestPlatform({
        population: 1_700,
        sim: { logger: silentLogger() },
        env: { BATCH_SUBMIT_RATE_LIMIT: '3', WEBHOOK_SECRETS: `${HOOK_SERVICE}=${hookSecret}` },
      }),
      startTestPlatform({ population: 25_000, workers: 0, sim: { logger: silentLogger() } }),
    ]);
    events = await subscribeToBatchEvents(main, uniqueName('batch-it'));
    proxy = await startKillingProxy(big.config.stedi.baseUrl);
    crash = runCrashScenario(big, proxy, processes, crashBatchId);
    crash.catch(() => undefined); // awaited (and reported) by the last test
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(processes.map((w) => w.stop(10_000)));
    // A run filtered with -t leaves the background batch without workers: do not leave it running on the dev server.
    if (crashBatchId.value) await big?.temporal.workflow.getHandle(crashBatchId.value).terminate('test run ended').catch(() => undefined);
    await proxy?.close();
    await events?.stop();
    await Promise.allSettled([main?.close(), big?.close()]);
  }, 120_000);

  it('a 1,000-member real-time batch: one batch per job id, streamed to completion, every member accounted for, at most 15 Stedi calls in flight', async () => {
    const service = 'svc-rt';
    const c = await batchClient(main, service);
    const memberIds = ids(0, 1_000);
    const jobId = uniqueName('job-1000');
    main.sim.resetStats();
    const req = create(SubmitBatchRequestSchema, {
      clientJobId: jobId,
      memberSelector: { case: 'memberIds', value: { memberIds } },
      options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, retryConfig: fastRetry },
    });
    const first = await c.submitBatch(req);
    expect(first.batchId).toBe(`batch/${service}/${jobId}`);
    expect(first.totalMembers).toBe(1_000);
    expect(first.resolvedOptions?.strategy).toBe(Strategy.REALTIME_ONLY);
    // Resubmitting the same job (a client retry) returns the same batch and starts nothing new.
    expect((await c.submitBatch(req)).batchId).toBe(first.batchId);

    // A second watcher asks for per-member updates too.
    const members = watchMembers(c, first.batchId);
    const updates: BatchStatusUpdate[] = [];
    for await (const u of c.watchBatchStatus({ batchId: first.batchId })) if (u.update.case !== undefined) updates.push(u);
    expect(updates[0]?.eventType).toBe(BatchEventType.EVENT_TYPE_STARTED);
    expect(updates[0]?.update.case === 'started' && updates[0].update.value.totalMembers).toBe(1_000);
    const progress = updates.flatMap((u) => (u.update.case === 'progress' ? [u.update.value.completed + u.update.value.failed] : []));
    expect(progress.length).toBeGreaterThan(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress); // never goes backwards
    const last = updates[updates.length - 1]!;
    expect(last.eventType).toBe(BatchEventType.EVENT_TYPE_COMPLETED);
    if (last.update.case !== 'completed') throw new Error(`stream ended with ${last.update.case}`);
    expect(last.update.value.finalProgress!.completed + last.update.value.finalProgress!.failed).toBe(1_000);

    const st = await c.getBatchStatus({ batchId: first.batchId, errorsPageSize: 1_000 });
    expect([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED]).toContain(st.status);
    expect(st.status).toBe(last.update.value.status);
    expect(st.progress!.completed + st.progress!.failed).toBe(1_000);
    expect(st.progress!.pending).toBe(0);
    // Every failed member is reported once, by id, and is one of the submitted members.
    expect(st.totalErrors).toBe(st.progress!.failed);
    const failedIds = new Set(st.errors.map((e) => e.memberId));
    expect(failedIds.size).toBe(st.progress!.failed);
    for (const id of failedIds) expect(memberIds).toContain(id);
    // The member stream named every member exactly once, with the same verdict as the status, then ended.
    const streamed = await members;
    expect(streamed.duplicates).toBe(0);
    expect(streamed.terminal).toBe('completed');
    expect([...streamed.outcomes.keys()].sort()).toEqual([...memberIds].sort());
    expect([...streamed.outcomes].filter(([, ok]) => !ok).map(([id]) => id).sort()).toEqual([...failedIds].sort());

    // Every member that completed now has a cached answer for the operation batches check (CACHE_ONLY never calls
    // Stedi). NB: CheckEligibility's default operation ("check_eligibility") is not the batch's ("coverage").
    const elig = main.eligibilityClient();
    const headers = { authorization: `Bearer ${await main.token(['rte:eligibility:read'])}` };
    const completedIds = memberIds.filter((id) => !failedIds.has(id));
    const statuses = await mapLimit(completedIds, 25, async (memberId) => (await elig.checkEligibility({ memberId, operation: DEFAULT_BATCH_OPERATION, cacheControl: CacheControl.CACHE_ONLY }, { headers })).cacheStatus);
    expect(statuses.filter((s) => s !== CacheStatus.HIT)).toEqual([]);

    // What Stedi saw: at least one real-time check per member, never more than 15 at once, never throttled.
    const sim = simCounts(main.sim);
    expect(sim.realtimeCalls).toBeGreaterThanOrEqual(1_000);
    expect(sim.peakInFlight).toBeLessThanOrEqual(15);
    expect(sim.peakInFlight).toBeGreaterThanOrEqual(5); // the checks really ran in parallel
    expect(main.sim.stats().throttled).toBe(0);
    expect(sim.batchesAccepted).toBe(0);

    // Listed once (visibility is eventually consistent), and a resubmission after the end still answers with it.
    let listed: string[] = [];
    await waitFor('ListBatches to show the finished batch', async () => {
      listed = (await c.listBatches({ statuses: [st.status] })).batches.filter((b) => b.clientJobId === jobId).map((b) => b.batchId);
      return listed.length > 0;
    }, 30_000, 250);
    expect(listed).toEqual([first.batchId]);
    expect((await c.submitBatch(req)).batchId).toBe(first.batchId);
  });

  it('CACHE_ONLY answers from the cache and makes zero Stedi calls', async () => {
    const c = await batchClient(main, 'svc-cache');
    const pool = answerable(main.members.slice(1_000, 1_100));
    const warm = pool.slice(0, 60).map((m) => m.memberId);
    const cold = main.members.slice(1_100, 1_140).map((m) => m.memberId);
    // Warm 60 members the way a client would: a real-time batch.
    const w = await c.submitBatch({ clientJobId: uniqueName('warm'), memberSelector: { case: 'memberIds', value: { memberIds: warm } }, options: { strategy: Strategy.REALTIME_ONLY, retryConfig: fastRetry } });
    const warmEnd = await waitForBatchEnd(c, w.batchId, 120_000);
    const warmFailed = new Set((await allBatchErrors(c, w.batchId)).map((e) => e.memberId));
    expect(warmEnd.progress!.completed + warmEnd.progress!.failed).toBe(60);

    const before = simCounts(main.sim);
    const r = await c.submitBatch({
      clientJobId: uniqueName('cache-only'),
      memberSelector: { case: 'memberIds', value: { memberIds: [...warm, ...cold] } },
      cacheControl: CacheControl.CACHE_ONLY,
    });
    const end = await waitForBatchEnd(c, r.batchId, 120_000);
    const after = simCounts(main.sim);
    expect(after.stediRequests).toBe(before.stediRequests); // nothing reached Stedi, of any kind
    expect(end.status).toBe(BatchStatus.PARTIALLY_COMPLETED);
    expect(end.progress).toMatchObject({ totalMembers: 100, completed: warmEnd.progress!.completed, failed: 40 + warmEnd.progress!.failed, pending: 0 });
    const errors = await allBatchErrors(c, r.batchId);
    const notCached = errors.filter((e) => e.errorCode === 'NOT_CACHED').map((e) => e.memberId);
    // No member needed a Stedi call: none is a cache miss (or "refreshed"); the not-cached ones are NOT_CACHED failures.
    expect(end.progress!.cacheMisses).toBe(0);
    expect(end.progress!.cacheHits + notCached.length).toBe(100);
    // Exactly the members nobody had checked are "not cached" (plus any warm member whose check left nothing cached).
    for (const id of cold) expect(notCached).toContain(id);
    for (const id of notCached) expect([...cold, ...warmFailed]).toContain(id);
    expect(new Set(errors.map((e) => e.memberId))).toEqual(new Set([...cold, ...warmFailed]));
  });

  it('CancelBatch mid-run ends CANCELLED with counts that add up; pause (Temporal signal) holds dispatching', async () => {
    const c = await batchClient(main, 'svc-cancel');
    const memberIds = ids(1_140, 300);
    const r = await c.submitBatch({
      clientJobId: uniqueName('cancel'),
      memberSelector: { case: 'memberIds', value: { memberIds } },
      cacheControl: CacheControl.BYPASS_CACHE,
      options: { strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 2, retryConfig: fastRetry },
    });
    const done = async () => {
      const p = (await c.getBatchStatus({ batchId: r.batchId })).progress!;
      return p.completed + p.failed;
    };
    await waitFor('10 members done', async () => (await done()) >= 10, 60_000);

    // Pause through the workflow contract other Temporal services use; at most the 2 in-flight checks still finish.
    const handle = main.temporal.workflow.getHandle(r.batchId);
    await handle.signal(pauseBatchSignal);
    await waitFor('the batch to report paused', async () => (await handle.query(batchStatusQuery)).paused, 10_000);
    const atPause = await done();
    // PAUSED is a status of its own (it used to read RUNNING everywhere but the query's `paused` flag): the query,
    // GetBatchStatus, the RteBatchStatus search attribute, a PROGRESS event on Kafka, and the Web UI's current details.
    expect((await handle.query(batchStatusQuery)).status).toBe('PAUSED');
    expect((await c.getBatchStatus({ batchId: r.batchId })).status).toBe(BatchStatus.PAUSED);
    expect((await handle.describe()).typedSearchAttributes.get(RteBatchStatus)).toBe('PAUSED');
    await waitFor('a PAUSED event on Kafka', () => events.of(r.batchId).some((e) => e.event.details?.status === BatchStatus.PAUSED), 30_000);
    const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
    expect(metadata.currentDetails).toMatch(/^paused · \d+ \/ 300 done/);
    await new Promise((res) => setTimeout(res, 1_500));
    expect(await done()).toBeLessThanOrEqual(atPause + 2);
    await handle.signal(resumeBatchSignal);
    await waitFor('the batch to report RUNNING again', async () => (await c.getBatchStatus({ batchId: r.batchId })).status === BatchStatus.RUNNING, 10_000);
    expect((await handle.describe()).typedSearchAttributes.get(RteBatchStatus)).toBe('RUNNING');
    await waitFor('dispatching to resume', async () => (await done()) >= atPause + 5, 60_000);

    const cancelled = await c.cancelBatch({ batchId: r.batchId, reason: 'integration test cancel' });
    expect(cancelled.status).toBe(BatchStatus.CANCELLED);
    expect(cancelled.completed + cancelled.failed + cancelled.cancelled).toBe(300);
    expect(cancelled.cancelled).toBeGreaterThan(0);
    expect(cancelled.completed + cancelled.failed).toBeGreaterThanOrEqual(atPause + 5);

    // Status, stream and Kafka all agree with what CancelBatch answered.
    const st = await c.getBatchStatus({ batchId: r.batchId });
    expect(st.status).toBe(BatchStatus.CANCELLED);
    expect(st.progress).toMatchObject({ completed: cancelled.completed, failed: cancelled.failed, pending: 0 });
    const updates: BatchStatusUpdate[] = [];
    for await (const u of c.watchBatchStatus({ batchId: r.batchId })) updates.push(u);
    const lastUpdate = updates[updates.length - 1];
    expect(lastUpdate?.update.case === 'failed' && lastUpdate.update.value.status).toBe(BatchStatus.CANCELLED);
    await waitFor('the CANCELLED event on Kafka', () => events.of(r.batchId).some((e) => e.event.eventType === 'CANCELLED'), 30_000);
    // Cancelling again is a no-op that reports the same final counts.
    const again = await c.cancelBatch({ batchId: r.batchId, reason: 'again' });
    expect([again.status, again.completed, again.failed, again.cancelled]).toEqual([BatchStatus.CANCELLED, cancelled.completed, cancelled.failed, cancelled.cancelled]);
  });

  it('webhooks: every delivery verifies with the Standard Webhooks reference verifier; a 500 is retried with the same webhook-id; event filter honoured', async () => {
    const receiver = await startWebhookReceiver([500]); // the first delivery fails once
    try {
      const c = await batchClient(main, HOOK_SERVICE);
      const r = await c.submitBatch({
        clientJobId: uniqueName('hooks'),
        memberSelector: { case: 'memberIds', value: { memberIds: ids(1_440, 20) } },
        options: {
          strategy: Strategy.REALTIME_ONLY,
          retryConfig: fastRetry,
          notifications: { callbackUrl: receiver.url, eventTypes: ['STARTED', 'COMPLETED', 'PARTIALLY_COMPLETED'], deliveryMode: DeliveryMode.DELIVERY_AT_LEAST_ONCE },
        },
      });
      const end = await waitForBatchEnd(c, r.batchId, 120_000);
      const terminalType = `batch.${BatchStatus[end.status].toLowerCase()}`;
      // Standard Webhooks schedule: the retry after a failure comes ~5 s (± 20 %) later.
      await waitFor('both events delivered with 200, one after a retry', () => receiver.received.filter((x) => x.status === 200).length >= 2 && receiver.received.length >= 3, 60_000);

      const wh = new Webhook(hookSecret);
      const payloads = receiver.received.map((x) => wh.verify(x.body, x.headers as Record<string, string>) as { type: string; data: { batch_id: string } });
      expect(payloads.every((pl) => pl.data.batch_id === r.batchId)).toBe(true);
      expect(payloads.map((pl) => pl.type).filter((t) => t !== 'batch.started' && t !== terminalType)).toEqual([]); // no PROGRESS
      const ok = receiver.received.filter((x) => x.status === 200).map((x) => (JSON.parse(x.body) as { type: string }).type);
      expect([...ok].sort()).toEqual(['batch.started', terminalType].sort());
      // The delivery answered 500 came again, with the same webhook-id (receivers de-duplicate on it).
      const failed = receiver.received[0]!;
      expect(failed.status).toBe(500);
      const redelivered = receiver.received.slice(1).filter((x) => x.headers['webhook-id'] === failed.headers['webhook-id']);
      expect(redelivered).toHaveLength(1);
      expect(redelivered[0]!.body).toBe(failed.body);
      // A receiver with another secret rejects the deliveries: the signature really binds to this client's secret.
      expect(() => new Webhook(generateWebhookSecret()).verify(failed.body, failed.headers as Record<string, string>)).toThrow();
    } finally {
      await receiver.close();
    }
  });

  it('webhooks: a delivery the receiver refuses (410) shows in GetBatchStatus as failed, saying why, beside the delivered one', async () => {
    const receiver = await startWebhookReceiver([410]); // STARTED is answered 410 Gone; the terminal event 200
    try {
      const c = await batchClient(main, HOOK_SERVICE);
      const r = await c.submitBatch({
        clientJobId: uniqueName('hooks-gone'),
        memberSelector: { case: 'memberIds', value: { memberIds: ids(1_440, 3) } },
        cacheControl: CacheControl.CACHE_ONLY,
        options: { notifications: { callbackUrl: receiver.url, eventTypes: ['STARTED', 'COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED'], deliveryMode: DeliveryMode.DELIVERY_AT_LEAST_ONCE } },
      });
      await waitForBatchEnd(c, r.batchId, 120_000);
      await waitFor('both events answered by the receiver', () => receiver.received.length >= 2, 60_000);
      let st = await c.getBatchStatus({ batchId: r.batchId });
      await waitFor(
        'the deliveries in GetBatchStatus (visibility lags a little)',
        async () => {
          st = await c.getBatchStatus({ batchId: r.batchId });
          return st.webhookDeliveries?.pending === 0 && (st.webhookDeliveries?.delivered ?? 0) + (st.webhookDeliveries?.failed ?? 0) === 2;
        },
        30_000,
      );
      expect(st.webhookDeliveries).toMatchObject({ delivered: 1, failed: 1, pending: 0 });
      expect(st.webhookDeliveries?.lastFailure).toMatch(/gone after 1 attempt\(s\) \(last HTTP 410\)/);
      expect(st.webhookDeliveries?.lastFailureAt).toBeDefined();
    } finally {
      await receiver.close();
    }
  });

  it('webhooks: a receiver answering 500 shows in GetBatchStatus from its first failed attempt (retrying, why, when next), then delivered', async () => {
    const receiver = await startWebhookReceiver([500, 500]); // the first attempt of each event fails; the retries (5 s later) get 200
    try {
      const c = await batchClient(main, HOOK_SERVICE);
      const r = await c.submitBatch({
        clientJobId: uniqueName('hooks-retry'),
        memberSelector: { case: 'memberIds', value: { memberIds: ids(1_460, 2) } },
        cacheControl: CacheControl.CACHE_ONLY,
        options: { notifications: { callbackUrl: receiver.url, deliveryMode: DeliveryMode.DELIVERY_AT_LEAST_ONCE } },
      });
      let st = await c.getBatchStatus({ batchId: r.batchId });
      await waitFor(
        'a retrying delivery in GetBatchStatus',
        async () => {
          st = await c.getBatchStatus({ batchId: r.batchId });
          return (st.webhookDeliveries?.retrying ?? 0) > 0;
        },
        30_000,
        100,
      );
      expect(st.webhookDeliveries?.lastAttemptError).toBe('HTTP 500');
      expect(st.webhookDeliveries?.pending).toBeGreaterThanOrEqual(st.webhookDeliveries!.retrying);
      expect(Number(st.webhookDeliveries?.nextAttemptAt?.seconds ?? 0n) * 1000).toBeGreaterThan(Number(st.webhookDeliveries?.lastAttemptAt?.seconds ?? 0n) * 1000);
      await waitFor(
        'both events delivered on their retry',
        async () => {
          st = await c.getBatchStatus({ batchId: r.batchId });
          return st.webhookDeliveries?.delivered === 2;
        },
        60_000,
      );
      expect(st.webhookDeliveries).toMatchObject({ delivered: 2, pending: 0, failed: 0, retrying: 0, lastAttemptError: '' });
    } finally {
      await receiver.close();
    }
  });

  it('Kafka: a subscriber (own consumer group, real broker) reads STARTED, PROGRESS and the terminal BatchJobEvent, keyed by batch id', async () => {
    const c = await batchClient(main, 'svc-kafka');
    const r = await c.submitBatch({
      clientJobId: uniqueName('kafka'),
      memberSelector: { case: 'memberIds', value: { memberIds: ids(1_460, 100) } },
      options: { strategy: Strategy.REALTIME_ONLY, retryConfig: fastRetry },
    });
    const end = await waitForBatchEnd(c, r.batchId, 120_000);
    const terminal = BatchStatus[end.status];
    await waitFor('the terminal event on Kafka', () => events.of(r.batchId).some((e) => e.event.eventType === terminal), 60_000);
    const mine = events.of(r.batchId);
    const types = mine.map((e) => e.event.eventType);
    expect(types[0]).toBe('STARTED');
    expect(types[types.length - 1]).toBe(terminal);
    expect(types.filter((t) => t === 'PROGRESS').length).toBeGreaterThanOrEqual(5); // every 10 %
    expect(mine.every((e) => e.event.batchId === r.batchId && e.schema === 'rte.v1.BatchJobEvent')).toBe(true);
    expect(new Set(mine.map((e) => e.eventId)).size).toBe(mine.length);
    const progress = mine.flatMap((e) => (e.event.result.case === 'progress' ? [e.event.result.value.completed] : []));
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    const last = mine[mine.length - 1]!.event;
    if (last.result.case !== 'completed') throw new Error(`terminal event carries ${last.result.case}`);
    expect(last.result.value).toMatchObject({ totalMembers: 100, successful: end.progress!.completed, failed: end.progress!.failed });
    expect(last.details?.clientServiceName).toBe('svc-kafka');
  });

  it('rate limit (Redis): past 3 submissions per hour a service gets resource_exhausted with retry-after; resubmits of known jobs still answer', async () => {
    const c = await batchClient(main, 'svc-rl');
    const mk = (jobId: string) => create(SubmitBatchRequestSchema, { clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds: ids(1_560, 1) } }, cacheControl: CacheControl.CACHE_ONLY });
    const jobs = [uniqueName('rl'), uniqueName('rl'), uniqueName('rl')];
    const accepted: SubmitBatchResponse[] = [];
    for (const j of jobs) accepted.push(await c.submitBatch(mk(j)));
    const err = await c.submitBatch(mk(uniqueName('rl'))).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(Number(err?.metadata.get('retry-after'))).toBeGreaterThan(0);
    expect((await c.submitBatch(mk(jobs[0]!))).batchId).toBe(accepted[0]!.batchId);
  });

  it('workflow contract (started directly, as another Temporal service would): exact counts across continue-as-new, and the overall timeout ends PARTIALLY_COMPLETED', async () => {
    const start = (jobId: string, memberIds: string[], options: Partial<ResolvedBatchOptions>, tuning: Partial<BatchTuning>) =>
      startBatchWorkflow(main, 'svc-contract', jobId, memberIds, options, tuning);
    const can = await start(uniqueName('can'), ids(1_570, 120), { cacheMode: 'BYPASS_CACHE' }, { realtimePageSize: 20, continueAsNewAfterEvents: 50 });
    const slow = await start(uniqueName('timeout'), ids(1_200, 300), { cacheMode: 'BYPASS_CACHE', maxConcurrentRequests: 1, timeoutMs: 1_500 }, {});
    const canResult = (await can.result()) as BatchWorkflowResult;
    expect(canResult.counters.completed + canResult.counters.failed).toBe(120);
    expect(canResult.counters.stediRealtimeCalls).toBe(120);
    expect((await historyEvents(main.temporal, can.workflowId)).runs).toBeGreaterThan(1);
    const slowResult = (await slow.result()) as BatchWorkflowResult;
    expect(slowResult.status).toBe('PARTIALLY_COMPLETED');
    expect(slowResult.failure?.code).toBe('TIMEOUT');
    expect(slowResult.counters.completed + slowResult.counters.failed + slowResult.counters.cancelled).toBe(300);
    expect(slowResult.counters.cancelled).toBeGreaterThan(0);
  });

  it('ListBatches shows a batch that continued as new once, with its final status (its earlier runs are not listed as RUNNING)', async () => {
    const service = uniqueName('svc-list');
    const handle = await startBatchWorkflow(main, service, uniqueName('can'), ids(1_640, 60), { cacheMode: 'BYPASS_CACHE' }, { realtimePageSize: 10, continueAsNewAfterEvents: 30 });
    const result = (await handle.result()) as BatchWorkflowResult;
    expect((await historyEvents(main.temporal, handle.workflowId)).runs).toBeGreaterThan(1);
    const finalStatus = BatchStatus[result.status as keyof typeof BatchStatus];
    const c = await batchClient(main, service);
    let rows: Array<[string, BatchStatus]> = [];
    await waitFor('ListBatches to show the finished batch', async () => {
      rows = (await c.listBatches({})).batches.map((b) => [b.batchId, b.status]);
      return rows.some(([, st]) => st === finalStatus);
    }, 30_000, 250);
    expect(rows).toEqual([[handle.workflowId, finalStatus]]);
    expect((await c.listBatches({ statuses: [BatchStatus.RUNNING] })).batches.map((b) => b.batchId)).toEqual([]);
    // A page exactly full with nothing after it has no next_page_token (probe p18 contract F4: it led to an empty page).
    const full = await c.listBatches({ pageSize: 1 });
    expect(full.batches.map((b) => b.batchId)).toEqual([handle.workflowId]);
    expect(full.nextPageToken).toBe('');
  });

  it(
    'a 25,000-member batch takes the Stedi batch API in exactly 3 batches; a worker process SIGKILLed before it heard Stedi accept the first one is restarted and finishes with exact counts and no duplicate Stedi batch',
    async () => {
      const o = await crash;
      expect(o.submitted.totalMembers).toBe(25_000);
      // Killed exactly between "Stedi accepted chunk 0" and "the worker recorded it".
      expect(o.atKill.batchesAccepted).toBe(1);
      expect(o.killedWorkerExit).toBe('SIGKILL');

      expect([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED]).toContain(o.final.status);
      expect(o.final.resolvedOptions?.strategy).toBe(Strategy.BATCH_ONLY); // OPTIMAL resolved to the batch API
      expect(o.final.progress).toMatchObject({ totalMembers: 25_000, pending: 0 });
      expect(o.final.progress!.completed + o.final.progress!.failed).toBe(25_000);
      expect(o.errors).toHaveLength(o.final.progress!.failed);
      expect(new Set(o.errors).size).toBe(o.errors.length);
      // A watcher asking for member updates saw each of the 25,000 once, across the crash, with the status's verdicts.
      expect(o.members.terminal).toBe(o.final.status === BatchStatus.COMPLETED || o.final.status === BatchStatus.PARTIALLY_COMPLETED ? 'completed' : 'failed');
      expect(o.members.duplicates).toBe(0);
      expect(o.members.outcomes.size).toBe(25_000);
      expect([...o.members.outcomes].filter(([, ok]) => !ok).map(([id]) => id).sort()).toEqual([...o.errors].sort());

      // Stedi: three batches (10,000 + 10,000 + 5,000), every member exactly once, no real-time calls. The restarted
      // worker's resubmission of chunk 0 was refused by name and the existing batch was reused.
      expect(o.sim.batchesAccepted).toBe(3);
      expect(o.sim.batchItems).toBe(25_000);
      expect(o.sim.batchNameConflicts).toBeGreaterThanOrEqual(1);
      expect(o.sim.realtimeCalls).toBe(0);

      // Results landed in the eligibility cache: members that completed are cache hits for CheckEligibility.
      expect(o.sampleCacheStatuses.length).toBeGreaterThan(0);
      expect(o.sampleCacheStatuses.filter((s) => s !== CacheStatus.HIT)).toEqual([]);
    },
    10 * 60_000,
  );
});

const CONTRACT_OPTIONS: ResolvedBatchOptions = {
  priority: 'NORMAL',
  strategy: 'REALTIME_ONLY',
  schedulingWindow: 'ANY',
  maxConcurrentRequests: 15,
  timeoutMs: 3_600_000,
  retry: { maxAttempts: 3, initialIntervalMs: 200, maxIntervalMs: 1_000, backoffMultiplier: 2 },
  notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
  cacheMode: 'DEFAULT',
};

/** Starts the batch workflow the way the API does (member ids staged in PostgreSQL), with workflow tuning. */
async function startBatchWorkflow(p: TestPlatform, clientService: string, clientJobId: string, memberIds: string[], options: Partial<ResolvedBatchOptions>, tuning: Partial<BatchTuning>) {
  const batchId = batchWorkflowId(clientService, clientJobId);
  const listRef = `${batchId}#ids`;
  await createPgMemberListStore(p.directory.pool).write(listRef, 0, memberIds);
  await createTemporalBatchPort(p.temporal).start(
    { batchId, clientService, clientJobId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef, total: memberIds.length }, options: { ...CONTRACT_OPTIONS, ...options }, tuning },
    p.config.temporal.taskQueue,
  );
  return p.temporal.workflow.getHandle(batchId);
}

// ---- the crash scenario --------------------------------------------------------------------------------------

interface CrashOutcome {
  submitted: SubmitBatchResponse;
  atKill: SimCounts;
  killedWorkerExit: string | null;
  final: GetBatchStatusResponse;
  errors: string[];
  sim: SimCounts;
  sampleCacheStatuses: CacheStatus[];
  members: MemberStream;
}

interface MemberStream {
  outcomes: Map<string, boolean>;
  duplicates: number;
  terminal: string | undefined;
}

/** WatchBatchStatus asking for MEMBER_COMPLETED: each member's verdict, duplicates, and the terminal update's kind. */
async function watchMembers(c: Awaited<ReturnType<typeof batchClient>>, batchId: string): Promise<MemberStream> {
  const outcomes = new Map<string, boolean>();
  let duplicates = 0;
  let terminal: string | undefined;
  const eventTypes = [BatchEventType.EVENT_TYPE_MEMBER_COMPLETED, BatchEventType.EVENT_TYPE_COMPLETED, BatchEventType.EVENT_TYPE_FAILED];
  for await (const u of c.watchBatchStatus({ batchId, eventTypes })) {
    if (u.update.case === 'memberCompleted') {
      if (outcomes.has(u.update.value.accountId)) duplicates++;
      outcomes.set(u.update.value.accountId, u.update.value.success);
    } else if (u.update.case !== undefined) terminal = u.update.case;
  }
  return { outcomes, duplicates, terminal };
}

async function runCrashScenario(p: TestPlatform, proxy: KillingProxy, processes: WorkerProcess[], batchId: { value?: string }): Promise<CrashOutcome> {
  // Worker process 1 talks to Stedi through the proxy, which SIGKILLs it once Stedi has accepted its first batch.
  const first = spawnWorkerProcess(p, { STEDI_BASE_URL: proxy.url });
  processes.push(first);
  proxy.onFirstAcceptedBatch(() => first.child.kill('SIGKILL'));
  await first.ready;
  const c = await batchClient(p, 'svc-big');
  const memberIds = p.members.map((m) => m.memberId);
  const submitted = await c.submitBatch({ clientJobId: uniqueName('job-25k'), memberSelector: { case: 'memberIds', value: { memberIds } }, options: { priority: Priority.NORMAL } });
  batchId.value = submitted.batchId;
  const members = watchMembers(c, submitted.batchId);
  await first.exited;
  const atKill = simCounts(p.sim);
  // The "restarted pod": a fresh worker process straight to Stedi.
  const second = spawnWorkerProcess(p);
  processes.push(second);
  await second.ready;
  const final = await waitForBatchEnd(c, submitted.batchId, 9 * 60_000, 1_000);
  const errors = (await allBatchErrors(c, submitted.batchId)).map((e) => e.memberId);
  const failed = new Set(errors);
  const sample = memberIds.filter((id) => !failed.has(id)).filter((_, i) => i % 1_000 === 0);
  const elig = p.eligibilityClient();
  const headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` };
  const sampleCacheStatuses = await mapLimit(sample, 5, async (memberId) => (await elig.checkEligibility({ memberId, operation: DEFAULT_BATCH_OPERATION, cacheControl: CacheControl.CACHE_ONLY }, { headers })).cacheStatus);
  const m = await members;
  return { submitted, atKill, killedWorkerExit: first.child.signalCode, final, errors, sim: simCounts(p.sim), sampleCacheStatuses, members: m };
}

interface KillingProxy {
  url: string;
  onFirstAcceptedBatch(fn: () => void): void;
  close(): Promise<void>;
}

/**
 * A transparent HTTP hop in front of the simulator. When Stedi answers 200 to the first batch submission, it calls
 * the trigger (which SIGKILLs the worker) and drops the answer: Stedi has the batch, the worker never learns its id.
 */
async function startKillingProxy(targetUrl: string): Promise<KillingProxy> {
  const target = new URL(targetUrl);
  let trigger: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    const up = httpRequest({ hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      const isSubmit = req.method === 'POST' && (req.url ?? '').split('?')[0] === SIM_PATHS.batchEligibility;
      if (isSubmit && upRes.statusCode === 200 && trigger) {
        const t = trigger;
        trigger = undefined;
        t();
        upRes.resume();
        req.socket.destroy();
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    onFirstAcceptedBatch: (fn) => (trigger = fn),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---- small helpers -------------------------------------------------------------------------------------------

interface WebhookReceiver {
  url: string;
  received: Array<{ headers: IncomingHttpHeaders; body: string; status: number }>;
  close(): Promise<void>;
}

/** A client's webhook endpoint on 127.0.0.1 (ports 9800-9899): answers the scripted statuses in order, then 200. */
async function startWebhookReceiver(answers: number[]): Promise<WebhookReceiver> {
  const received: WebhookReceiver['received'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      received.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  // In the local profile's webhook ports: the platform's allowlist refuses any other loopback port.
  const port = await listenOnLocalWebhookPort(server);
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
