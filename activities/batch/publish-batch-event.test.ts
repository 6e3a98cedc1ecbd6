import { fromBinary } from '@bufbuild/protobuf';
import { BatchJobEventSchema } from '../../gen/rte/v1/events_pb';
import type { OutgoingEvent } from '../kafka/types';
import { webhookBody, type BatchEventPayload } from '../../lib/batch/events';
import { silentLogger } from '../../lib/logger';
import { emptyCounters } from '../../lib/batch/types';
import { percentDone } from '../../lib/batch/progress';
import { createBatchActivities, type BatchActivityDeps } from './activities';
import { realtimeTestOptions } from '../../test/helpers/batch-stand-ins';

/**
 * Probe p15 #5: for one event id, Kafka's BatchProgressUpdate.completed counts members processed (successes +
 * failures, its documented wire meaning) while the webhook's progress.completed counts successes and has `failed`
 * beside it. Kafka now carries `failed` too (additive field 5), so a consumer sees failures before the final event.
 */
function publisher() {
  const sent: OutgoingEvent[] = [];
  const acts = createBatchActivities({
    events: { publish: async (e: readonly OutgoingEvent[]) => void sent.push(...e), close: async () => undefined },
    logger: silentLogger(),
  } as unknown as BatchActivityDeps);
  return { acts, sent };
}

function progressEvent(): BatchEventPayload {
  const counters = { ...emptyCounters(10), completed: 7, failed: 1 };
  return {
    eventId: 'evt2_9_batch_2fsvc_2fjob',
    eventType: 'PROGRESS',
    occurredAtMs: 1_796_398_155_000,
    batchId: 'batch/svc/job',
    clientService: 'svc',
    clientJobId: 'job',
    jobType: 'RTE_BATCH',
    status: 'RUNNING',
    counters,
    percentDone: percentDone(counters),
    submittedAtMs: 1_796_398_100_000,
    startedAtMs: 1_796_398_101_000,
    options: realtimeTestOptions({ notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' } }),
  };
}

test('PROGRESS on Kafka: completed = processed (successes + failures), failed = the webhook failed; percent equal', async () => {
  const { acts, sent } = publisher();
  const e = progressEvent();
  await acts.publishBatchEvent({ topic: 'domain.rte.v1.batch_job_events', event: e });
  expect(sent).toHaveLength(1);
  const msg = fromBinary(BatchJobEventSchema, sent[0]!.value);
  if (msg.result.case !== 'progress') throw new Error(`expected progress, got ${msg.result.case}`);
  const kafka = msg.result.value;
  const webhook = (JSON.parse(webhookBody(e)) as { data: { progress: { completed: number; failed: number; percent_complete: number; total_members: number } } }).data.progress;
  expect({ completed: kafka.completed, failed: kafka.failed, total: kafka.total }).toEqual({ completed: 8, failed: 1, total: 10 });
  expect(webhook).toMatchObject({ completed: 7, failed: 1, total_members: 10 });
  expect(kafka.completed).toBe(webhook.completed + webhook.failed);
  expect(kafka.failed).toBe(webhook.failed);
  expect(kafka.percentComplete).toBeCloseTo(webhook.percent_complete, 5);
});

test('STARTED carries progress with failed 0', async () => {
  const { acts, sent } = publisher();
  const e = { ...progressEvent(), eventType: 'STARTED' as const, counters: emptyCounters(10), percentDone: 0 };
  await acts.publishBatchEvent({ topic: 'domain.rte.v1.batch_job_events', event: e });
  const msg = fromBinary(BatchJobEventSchema, sent[0]!.value);
  expect(msg.result.case).toBe('progress');
  expect(msg.result.value).toMatchObject({ completed: 0, failed: 0, total: 10 });
});
