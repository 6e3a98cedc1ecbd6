import { Kafka, logLevel, type Admin } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../lib/config';
import { consumerGroupId, createEventConsumer, headersToRecord, type ConsumedEvent, type EventConsumer } from './consumer';
import { KafkaEventPublisher } from './kafka-publisher';
import type { EventPublisher, OutgoingEvent } from './types';

/**
 * The subscriber library's dead-letter path on the real broker: a handler that keeps failing for some
 * records gets them retried, then sent to the subscriber's dead-letter topic with the reason, and the
 * group moves on to the records behind them. Topics are unique per run (one partition, so "moves on"
 * means past a poison record in the same partition) and deleted afterwards.
 */
jest.setTimeout(120_000);

const config = loadConfig();
const id = randomUUID().slice(0, 8);
const topic = `consumer-dlq-it-${id}`;
const dlqTopic = `${topic}.it-subscriber.dlq`;
const groupId = consumerGroupId(`it-subscriber-${id}`, topic);
const otherGroupId = consumerGroupId(`it-other-${id}`, topic);

let kafka: Kafka;
let admin: Admin;
let publisher: KafkaEventPublisher;
const consumers: EventConsumer[] = [];

async function eventually(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads a whole topic with a throwaway consumer group (raw kafkajs, so the library under test is not involved). */
async function readAll(t: string, expected: number) {
  const out: { key: string | null; value: string; headers: Record<string, string> }[] = [];
  const c = kafka.consumer({ groupId: `it-reader-${randomUUID().slice(0, 8)}` });
  await c.connect();
  await c.subscribe({ topic: t, fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => {
      out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', headers: headersToRecord(message.headers) });
    },
  });
  try {
    await eventually(`${expected} records on ${t}`, () => out.length >= expected);
  } finally {
    await c.disconnect();
  }
  return out;
}

const event = (n: number, poison: boolean): OutgoingEvent => ({
  topic,
  key: `member-${n}`,
  value: new TextEncoder().encode(JSON.stringify({ n, poison })),
  eventId: `evt-${id}-${n}`,
  schema: 'rte.v1.Test',
});

beforeAll(async () => {
  kafka = new Kafka({ clientId: `consumer-dlq-it-${id}`, brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, dlqTopic].map((t) => ({ topic: t, numPartitions: 1, replicationFactor: config.kafka.replicationFactor })),
  });
  publisher = new KafkaEventPublisher(kafka);
});

afterAll(async () => {
  for (const c of consumers) await c.stop().catch(() => undefined);
  await publisher?.close();
  await admin?.deleteGroups([groupId, otherGroupId]).catch(() => undefined);
  await admin?.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
  await admin?.disconnect();
});

test('a record whose handler keeps failing goes to the dead-letter topic with the reason after its retries, and the group moves on', async () => {
  // Ten records in one partition; records 2 and 6 are poison for this subscriber.
  const poison = new Set([2, 6]);
  await publisher.publish(Array.from({ length: 10 }, (_, n) => event(n, poison.has(n))));

  const attempts = new Map<string, number>();
  const handled: string[] = [];
  let failDlqPublishes = 1;
  // The subscriber's DLQ writes go through a publisher whose first write fails: the library must not lose
  // the record (kafkajs re-delivers it, the handler is retried again, and the second dead-letter write lands).
  const flakyDlq: EventPublisher = {
    publish: async (events) => {
      if (failDlqPublishes-- > 0) throw new Error('injected dead-letter write failure');
      await publisher.publish(events);
    },
    close: async () => undefined,
  };
  const consumer = createEventConsumer({
    kafka,
    groupId,
    topic,
    dlqTopic,
    publisher: flakyDlq,
    fromBeginning: true,
    maxAttempts: 3,
    retryBackoffMs: 20,
    handler: async (e: ConsumedEvent) => {
      const key = e.key ?? '';
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      const body = JSON.parse(new TextDecoder().decode(e.value)) as { poison: boolean };
      if (body.poison) throw new Error(`cannot warm ${key}: payer unknown`);
      handled.push(key);
    },
  });
  consumers.push(consumer);
  await consumer.start();

  // Every healthy record is handled, including those behind the poison ones in the same partition.
  await eventually('the 8 healthy records to be handled', () => new Set(handled).size === 8);
  expect([...new Set(handled)].sort()).toEqual(['member-0', 'member-1', 'member-3', 'member-4', 'member-5', 'member-7', 'member-8', 'member-9']);

  // The poison records are on the dead-letter topic once each, with the reason and where they came from.
  const dead = await readAll(dlqTopic, 2);
  expect(dead.map((d) => d.key).sort()).toEqual(['member-2', 'member-6']);
  for (const d of dead) {
    const n = Number(d.key?.split('-')[1]);
    expect(d.value).toBe(JSON.stringify({ n, poison: true })); // the original payload, untouched
    expect(d.headers['dlq-reason']).toBe(`cannot warm ${d.key}: payer unknown`);
    expect(d.headers['dlq-source-topic']).toBe(topic);
    expect(d.headers['dlq-source-partition']).toBe('0');
    expect(d.headers['dlq-source-offset']).toBe(String(n));
    expect(d.headers['dlq-consumer-group']).toBe(groupId);
    expect(d.headers['dlq-attempts']).toBe('3');
    expect(d.headers['event-id']).toBe(`evt-${id}-${n}`); // consumers of the DLQ can still de-duplicate
    expect(d.headers['schema']).toBe('rte.v1.Test');
  }
  // Each poison record was tried maxAttempts times per delivery; the first one twice over (its first
  // dead-letter write failed, so it was delivered again).
  expect(attempts.get('member-2')).toBe(6);
  expect(attempts.get('member-6')).toBe(3);

  // The group committed past everything: a restarted subscriber of the same group gets nothing again.
  await eventually('the group to commit to the end of the topic', async () => {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return committed?.partitions[0]?.offset === '10';
  });
  await consumer.stop();
  const redelivered: string[] = [];
  const restarted = createEventConsumer({
    kafka,
    groupId,
    topic,
    dlqTopic,
    publisher,
    fromBeginning: true,
    handler: async (e) => void redelivered.push(e.key ?? ''),
  });
  consumers.push(restarted);
  // Another service's group reads the same topic independently and sees all ten records.
  const other: string[] = [];
  const otherService = createEventConsumer({
    kafka,
    groupId: otherGroupId,
    topic,
    dlqTopic: `${topic}.it-other.dlq`,
    publisher,
    fromBeginning: true,
    handler: async (e) => void other.push(e.key ?? ''),
  });
  consumers.push(otherService);
  await Promise.all([restarted.start(), otherService.start()]);
  await eventually('the other service to read all ten records', () => other.length === 10);
  await restarted.ready();
  // The restarted member has joined and fetched; with the group at the end of the partition there is nothing for it.
  await publisher.publish([event(10, false)]);
  await eventually('the restarted subscriber to receive the new record', () => redelivered.length >= 1);
  expect(redelivered).toEqual(['member-10']);
});
