import { fromBinary } from '@bufbuild/protobuf';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { createBatchActivities, type BatchActivityDeps } from '../../activities/batch/activities';
import { createKafkaEventPublisher } from '../../activities/kafka';
import type { DeliverWebhookInput, DeliverWebhookResult } from '../../activities/webhooks/activities';
import { BatchJobEventSchema, type BatchJobEvent } from '../../gen/rte/v1/events_pb';
import type { ResolvedBatchOptions } from '../../lib/batch/types';
import { loadConfig } from '../../lib/config';
import { Topics } from '../../lib/kafka-topics';
import { silentLogger } from '../../lib/logger';
import { cancelBatchUpdate, pauseBatchSignal, resumeBatchSignal } from '../../workflows/batch.defs';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { idleStediLoad, planAllAsRefresh } from '../helpers/batch-stand-ins';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/**
 * Probe batch #15: batch-run-1 (4 members, real-time, one at a time, a webhook; paused, resumed, cancelled while its
 * third check ran) had evt2_5 then evt2_7 in Kafka and at the webhook, and no evt2_6 anywhere. The third check's
 * cancellation crossed a progress step inside the page's cancelled scope, and that PROGRESS event's Kafka publish and
 * webhook child were refused with it. The same shape here, on the real dev server and the real Kafka (the real
 * publishBatchEvent activity); only the checks, the planner and the webhook's HTTP delivery are stand-ins.
 */
const options = (): ResolvedBatchOptions => ({
  priority: 'HIGH',
  strategy: 'REALTIME_ONLY',
  schedulingWindow: 'ANY',
  maxConcurrentRequests: 1,
  timeoutMs: 3_600_000,
  retry: { maxAttempts: 1, initialIntervalMs: 200, maxIntervalMs: 1_000, backoffMultiplier: 2 },
  notifications: { kafkaTopic: Topics.batchJobEvents, callbackUrl: 'https://hooks.example.com/batch', eventTypes: [], deliveryMode: 'BEST_EFFORT' },
  cacheMode: 'DEFAULT',
});

const seqOf = (eventId: string): number => Number(/^evt2_(\d+)_/.exec(eventId)?.[1] ?? NaN);

async function until(ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

describe('batch event ids are consecutive in Kafka and at the webhook (integration)', () => {
  let ctx: TemporalTestContext;
  let kafka: Kafka;
  const groupId = `batch-event-seq-${randomUUID()}`;
  const byBatch = new Map<string, BatchJobEvent[]>();
  let consumer: ReturnType<Kafka['consumer']>;

  beforeAll(async () => {
    ctx = await connectTemporal();
    kafka = new Kafka({ clientId: 'batch-event-seq-test', brokers: loadConfig().kafka.brokers, logLevel: logLevel.NOTHING });
    consumer = kafka.consumer({ groupId });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topic: Topics.batchJobEvents, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.key || !message.value) return;
        const key = message.key.toString();
        byBatch.set(key, [...(byBatch.get(key) ?? []), fromBinary(BatchJobEventSchema, new Uint8Array(message.value))]);
      },
    });
    await joined;
  }, 60_000);
  afterAll(async () => {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
    await ctx.close();
  });

  it('a batch paused, resumed and cancelled while a check runs publishes evt2_1…evt2_n with no number skipped', async () => {
    const taskQueue = uniqueName('tq-event-seq');
    const members = ['m_0', 'm_1', 'm_2', 'm_3'];
    const delivered: DeliverWebhookInput[] = [];
    let started = 0;
    const publisher = createKafkaEventPublisher(kafka);
    // Only publishBatchEvent is used from the real activities: it needs the event publisher and a logger.
    const real = createBatchActivities({ events: publisher, logger: silentLogger() } as unknown as BatchActivityDeps);
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        getStediLoad: idleStediLoad,
        planMembers: planAllAsRefresh(members),
        async refreshEligibility(input: EligibilityRefreshInput) {
          started += 1;
          // The third check is still running when the batch is cancelled (the workflow does not wait for it).
          await new Promise((r) => setTimeout(r, input.memberId === 'm_2' ? 4_000 : 300));
          return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
        },
        async recordMemberErrors() {},
        publishBatchEvent: real.publishBatchEvent,
        async releaseMemberList() {},
        async deliverWebhook(input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
          delivered.push(input);
          return { outcome: 'delivered', httpStatus: 200 };
        },
      },
    });
    try {
      await worker.runUntil(async () => {
        const batchId = uniqueName('batch/event-seq-test/job');
        const handle = await ctx.client.workflow.start('batchWorkflow', {
          taskQueue,
          workflowId: batchId,
          args: [{ batchId, clientService: 'event-seq-test', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 4 }, options: options() }],
        });
        // Paused and resumed while running (PROGRESS events for both status changes), then cancelled during m_2.
        await until(() => started >= 1, 30_000);
        await handle.signal(pauseBatchSignal, { by: 'event-seq-test' });
        await new Promise((r) => setTimeout(r, 1_000));
        await handle.signal(resumeBatchSignal);
        await until(() => started >= 3, 30_000);
        await new Promise((r) => setTimeout(r, 500));
        const final = await handle.executeUpdate(cancelBatchUpdate, { args: [{ reason: 'event-seq-test cancel' }] });
        expect(final.status).toBe('CANCELLED');
        expect(final.counters.cancelled).toBeGreaterThanOrEqual(1);

        await until(() => (byBatch.get(batchId) ?? []).some((e) => e.eventType === 'CANCELLED'), 30_000);
        await until(() => delivered.some((d) => d.eventType === 'CANCELLED'), 30_000);
        // A moment more, so a late event would be seen.
        await new Promise((r) => setTimeout(r, 1_000));
        const kafkaIds = (byBatch.get(batchId) ?? []).map((e) => e.eventId);
        const seqs = kafkaIds.map(seqOf);
        // Consecutive from 1, in order, each once: a consumer's gap detection sees no loss.
        expect(seqs).toEqual(seqs.map((_, k) => k + 1));
        expect((byBatch.get(batchId) ?? []).map((e) => e.eventType)[seqs.length - 1]).toBe('CANCELLED');
        // The PROGRESS event of the cancelled check's step (75 %) is there.
        expect((byBatch.get(batchId) ?? []).filter((e) => e.eventType === 'PROGRESS').length).toBeGreaterThanOrEqual(4);
        // No event_types filter: the webhook got the same events, with the same ids.
        expect([...new Set(delivered.map((d) => d.webhookId))].sort()).toEqual([...kafkaIds].sort());
      });
    } finally {
      await publisher.close();
    }
  }, 120_000);
});
