import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { loadConfig } from '../../lib/config';
import type { WarmingIntake, WarmingIntakeRequest } from '../../lib/warming/types';
import { headersToRecord } from '../kafka/consumer';
import { KafkaEventPublisher } from '../kafka/kafka-publisher';
import type { OutgoingEvent } from '../kafka/types';
import { createMemberCronConsumer, type MemberCronConsumer } from './member-cron-consumer';
import { eventually as waitUntil } from '../../test/helpers/sim-checks';

/**
 * The member-cron consumer on the real broker: MemberCronEvents on a unique two-partition topic, a recording fake
 * WarmingIntake (the port; the real adapter is warm-core's), a unique consumer group. Asserts routing by
 * probability, grouping (bounded, never one job per event), offsets committed only after accept() resolved,
 * the poison record on the dead-letter topic, and that a replay from offset 0 produces the same dedupe keys.
 */
jest.setTimeout(180_000);

const config = loadConfig();
const id = randomUUID().slice(0, 8);
const topic = `member-cron-consumer-it-${id}`;
const dlqTopic = `${topic}.rte-cache-warmer.dlq`;
const groupId = `rte-cache-warmer-it-${id}`;
const replayGroupId = `rte-cache-warmer-it-replay-${id}`;
const H = 3_600_000;
const MAX_GROUP = 20;

let kafka: Kafka;
let admin: Admin;
let publisher: KafkaEventPublisher;
const consumers: MemberCronConsumer[] = [];

const eventually = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> => waitUntil(what, cond, timeoutMs, 100);

/** Recording intake; while `gate` is set, accept() waits for it (so the test can look at commits meanwhile). */
class RecordingIntake implements WarmingIntake {
  calls: WarmingIntakeRequest[] = [];
  resolved: WarmingIntakeRequest[] = [];
  private gate: Promise<void> | null = null;
  private open: () => void = () => undefined;
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.gate = null;
    this.open();
  }
  async accept(req: WarmingIntakeRequest) {
    this.calls.push(req);
    if (this.gate) await this.gate;
    this.resolved.push(req);
    return { jobId: `warming/${req.dedupeKey}`, accepted: req.memberIds.length };
  }
}

const PROBABILITIES = [0.95, 0.8, 0.3, 0.72, 0.99, 0.5, 0.91, 0.65, 0.7, 0.9];
const emittedAt = Date.now();
// Predicted windows 8 h after the next full hour, 0/10/20 min apart: one URGENT notBefore bucket.
const firstWindow = Math.ceil(emittedAt / H) * H + 8 * H;
const members = Array.from({ length: 60 }, (_, i) => ({ memberId: `it-${id}-m${i}`, p: PROBABILITIES[i % PROBABILITIES.length] as number, windowStart: firstWindow + (i % 3) * 600_000 }));

function memberCronEvent(m: (typeof members)[number]): OutgoingEvent {
  const ev = create(MemberCronEventSchema, {
    memberId: m.memberId,
    accountId: m.memberId,
    scheduleName: 'daily-rte-warmup',
    cronExpression: '0 4 * * *',
    emittedAt: timestampFromMs(emittedAt),
    context: {
      hasRteEnabled: true,
      predictedActivity: {
        appUsageProbability: m.p,
        predictedOperations: ['check_eligibility'],
        confidence: 0.9,
        modelVersion: 'rule-based/2',
        predictedWindowStart: timestampFromMs(m.windowStart),
        predictedWindowEnd: timestampFromMs(m.windowStart + 3 * H),
      },
    },
  });
  return { topic, key: m.memberId, value: toBinary(MemberCronEventSchema, ev), eventId: `evt-${m.memberId}`, schema: 'rte.v1.MemberCronEvent' };
}

function consumerFor(group: string, intake: WarmingIntake): MemberCronConsumer {
  const c = createMemberCronConsumer({
    kafka,
    groupId: group,
    topic,
    dlqTopic,
    publisher,
    intake,
    routing: { leadScale: 1 },
    maxGroupSize: MAX_GROUP,
    maxDelayMs: 1_000,
    fromBeginning: true,
    shutdownFlushMs: 5_000,
  });
  consumers.push(c);
  return c;
}

async function committed(group: string): Promise<Map<number, bigint>> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

beforeAll(async () => {
  kafka = new Kafka({ clientId: `member-cron-consumer-it-${id}`, brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 2, replicationFactor: config.kafka.replicationFactor },
      { topic: dlqTopic, numPartitions: 1, replicationFactor: config.kafka.replicationFactor },
    ],
  });
  publisher = new KafkaEventPublisher(kafka);
});

afterAll(async () => {
  for (const c of consumers) await c.stop().catch(() => undefined);
  await publisher?.close();
  await admin?.deleteGroups([groupId, replayGroupId]).catch(() => undefined);
  await admin?.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
  await admin?.disconnect();
});

test('member-cron events become grouped warming requests; offsets follow accept(); poison → DLQ; replay → same dedupe keys', async () => {
  const poisonKey = `it-${id}-poison`;
  const events = members.map(memberCronEvent);
  events.splice(17, 0, { topic, key: poisonKey, value: new TextEncoder().encode('not a protobuf MemberCronEvent'), eventId: `evt-${poisonKey}`, schema: 'rte.v1.MemberCronEvent' });
  await publisher.publish(events);
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.offset)]));

  const intake = new RecordingIntake();
  intake.hold();
  const consumer = consumerFor(groupId, intake);
  await consumer.start();

  // While the intake has not resolved, no partition is committed past the first record of a group in flight.
  await eventually('accept() calls to arrive', () => intake.calls.length >= 2);
  await new Promise((r) => setTimeout(r, 2_500)); // several flush/commit timer periods
  const held = await committed(groupId);
  const inFlightFirst = new Map<number, bigint>();
  for (const c of intake.calls) {
    const [, , partition, range] = /^(.*)\/(\d+)\/(\d+)-\d+\//.exec(c.dedupeKey) ?? [];
    const p = Number(partition);
    const first = BigInt(range ?? '0');
    if (!inFlightFirst.has(p) || first < (inFlightFirst.get(p) as bigint)) inFlightFirst.set(p, first);
  }
  expect(inFlightFirst.size).toBeGreaterThan(0);
  for (const [p, first] of inFlightFirst) {
    const c = held.get(p) ?? -1n; // -1: nothing committed yet
    expect(c).toBeLessThanOrEqual(first);
  }
  expect(intake.resolved).toHaveLength(0);

  intake.release();
  // Every partition ends up committed to its end offset, and only after the intake resolved its groups.
  await eventually('the group to commit to the end of every partition', async () => {
    const now = await committed(groupId);
    return [...ends].every(([p, end]) => now.get(p) === end);
  });

  // Routing: exactly the members at or above 0.7, URGENT strictly above 0.9, the rest never touched.
  const accepted = intake.resolved;
  const routed = new Map<string, string>();
  for (const r of accepted) for (const m of r.memberIds) routed.set(m, r.priority);
  const expected = new Map(members.filter((m) => Math.fround(m.p) >= Math.fround(0.7)).map((m) => [m.memberId, Math.fround(m.p) > Math.fround(0.9) ? 'URGENT' : 'PRELOAD']));
  expect(new Map([...routed].sort())).toEqual(new Map([...expected].sort()));
  for (const r of accepted) {
    expect(r.source).toBe('member-cron-daily-rte-warmup');
    expect(r.strategy).toBe('INTELLIGENT');
    expect(r.operations).toEqual(['check_eligibility']);
    expect(r.memberIds.length).toBeLessThanOrEqual(MAX_GROUP);
    if (r.priority === 'URGENT') {
      // Held until 2–4 h before the earliest window of its members.
      const windows = members.filter((m) => r.memberIds.includes(m.memberId)).map((m) => m.windowStart);
      expect(r.notBeforeMs).toBeGreaterThanOrEqual(Math.max(...windows) - 4 * H);
      expect(r.notBeforeMs).toBeLessThanOrEqual(Math.min(...windows) - 2 * H);
    }
  }
  expect(accepted.length).toBeLessThan(expected.size / 2); // grouped, not one job per event
  expect(new Set(accepted.map((r) => r.dedupeKey)).size).toBe(accepted.length);

  // The poison record is on the consumer's dead-letter topic once, with the reason and its source position.
  const dead: { key: string | null; headers: Record<string, string> }[] = [];
  const reader = kafka.consumer({ groupId: `it-reader-${randomUUID().slice(0, 8)}` });
  await reader.connect();
  await reader.subscribe({ topic: dlqTopic, fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void dead.push({ key: message.key?.toString() ?? null, headers: headersToRecord(message.headers) }) });
  await eventually('the dead letter', () => dead.length >= 1);
  await new Promise((r) => setTimeout(r, 500));
  await reader.disconnect();
  expect(dead).toHaveLength(1);
  expect(dead[0]?.key).toBe(poisonKey);
  expect(dead[0]?.headers['dlq-reason']).toMatch(/^undecodable rte.v1.MemberCronEvent/);
  expect(dead[0]?.headers['dlq-source-topic']).toBe(topic);
  expect(dead[0]?.headers['dlq-consumer-group']).toBe(groupId);
  expect(dead[0]?.headers['event-id']).toBe(`evt-${poisonKey}`);

  // A restarted consumer of the same group has nothing left to do.
  await consumer.stop();
  const afterRestart = new RecordingIntake();
  const restarted = consumerFor(groupId, afterRestart);
  await restarted.start();
  await restarted.ready();
  await new Promise((r) => setTimeout(r, 3_000));
  expect(afterRestart.calls).toHaveLength(0);
  await restarted.stop();

  // Replaying the topic from offset 0 (a new group) asks for exactly the same warming jobs: same dedupe keys,
  // same members, so the intake maps every group to the job it already has.
  const replayIntake = new RecordingIntake();
  const replay = consumerFor(replayGroupId, replayIntake);
  await replay.start();
  await eventually('the replay to accept every member', () => replayIntake.resolved.reduce((n, r) => n + r.memberIds.length, 0) >= expected.size);
  await new Promise((r) => setTimeout(r, 1_500));
  const key = (r: WarmingIntakeRequest) => `${r.dedupeKey} ${[...r.memberIds].sort().join(',')} ${r.notBeforeMs ?? 'now'} ${r.horizonUntilMs}`;
  expect(replayIntake.resolved.map(key).sort()).toEqual(accepted.map(key).sort());
  await replay.stop();
});
