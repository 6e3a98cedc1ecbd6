import { clone, fromBinary, fromJson } from '@bufbuild/protobuf';
import type { WorkflowHandle } from '@temporalio/client';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createEventConsumer, createKafkaEventPublisher, type ConsumedEvent, type EventConsumer, type EventPublisher } from '../../activities/kafka';
import { createPgMemberDirectory } from '../../directory/pg-member-directory';
import { MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { Topics } from '../../lib/kafka-topics';
import {
  MEMBER_CRON_WORKFLOW_TYPE,
  memberCronProgressQuery,
  memberCronShardWorkflowId,
  type MemberCronInput,
  type MemberCronResult,
  type MemberQueryJson,
} from '../../workflows/member-cron.defs';
import { startWorkerProcess } from '../helpers/worker-process';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * Issue 6 acceptance: "Killing a worker mid-run still ends with every matching member emitted exactly
 * once." A real worker process (workers/main.ts) runs a member-cron tick over a few thousand seeded
 * members with the global emission rate held low, is SIGKILLed while events are flowing, and an
 * in-process worker built by the same composition root finishes the run. The shared
 * `member-cron-events` topic is then read with a fresh consumer group positioned at the offsets the
 * topic had before the run, so only this run's records (unique schedule name + scheduled time) count.
 */
jest.setTimeout(240_000);

const EMIT_RATE = 200; // events/s, shared by every worker through the Redis token bucket
const PAGE_SIZE = 500;
const MAX_CONCURRENT_SHARDS = 2;
/** Events per publish call in the shard activity (activities/member-cron/activities.ts default). */
const PUBLISH_CHUNK = 100;
const QUERY: MemberQueryJson = { hasRteEnabled: true };

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('member cron: a worker killed mid-run (integration)', () => {
  let p: TestPlatform | undefined;
  let child: ChildProcess | undefined;
  let kafka: Kafka;
  let admin: Admin | undefined;
  let consumer: EventConsumer | undefined;
  let dlqPublisher: EventPublisher | undefined;
  let handle: WorkflowHandle | undefined;
  const groupId = `member-cron-kill-it-${randomUUID().slice(0, 8)}`;

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (handle) await handle.terminate('test cleanup').catch(() => undefined);
    await consumer?.stop();
    await dlqPublisher?.close();
    await admin?.deleteGroups([groupId]).catch(() => undefined);
    await admin?.disconnect();
    await p?.close();
  });

  it('ends with every matching member emitted exactly once (per event id), and the run counts them once', async () => {
    p = await startTestPlatform({ population: 3000, workers: 0, env: { MEMBER_CRON_EMIT_RATE: String(EMIT_RATE) } });
    const platform = p;
    const name = `kill-it-${randomUUID().slice(0, 8)}`;
    const scheduledTime = new Date(Date.UTC(2024, 10, 15)).toISOString();

    // The same query, through the same directory adapter the worker uses.
    const directory = createPgMemberDirectory(platform.directory.pool);
    const q = clone(MemberQuerySchema, fromJson(MemberQuerySchema, QUERY as never));
    q.limit = 1000;
    const expected: string[] = [];
    for (;;) {
      const page = await directory.queryMembers(q);
      expected.push(...page.members.map((m) => m.memberId));
      if (!page.nextCursor) break;
      q.cursor = page.nextCursor;
    }
    expected.sort();
    // More pages than run at once, so some are still to start when the worker dies.
    expect(expected.length).toBeGreaterThan(2 * MAX_CONCURRENT_SHARDS * PAGE_SIZE);

    // A fresh consumer group, positioned at the topic's current end: it sees exactly the records written from now on.
    const topic = Topics.memberCronEvents;
    kafka = new Kafka({ clientId: groupId, brokers: platform.config.kafka.brokers, logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    const startOffsets = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: startOffsets.map((o) => ({ partition: o.partition, offset: o.high })) });
    const ours: ConsumedEvent[] = [];
    const consumedUpTo = new Map<number, number>(); // partition → next offset to read
    dlqPublisher = createKafkaEventPublisher(kafka);
    consumer = createEventConsumer({
      kafka,
      groupId,
      topic,
      dlqTopic: `${topic}.${groupId}.dlq`, // never used: this handler does not throw
      publisher: dlqPublisher,
      handler: async (e) => {
        consumedUpTo.set(e.partition, Number(e.offset) + 1);
        if (e.headers['schedule-name'] === name && e.headers['scheduled-time'] === scheduledTime) ours.push(e);
      },
    });
    await consumer.start();
    await consumer.ready();

    // A real worker process on the platform's task queue, Redis prefix and directory schema.
    // Random ports for /metrics and the SDK's Prometheus endpoint: their defaults (9464/9465) collide with
    // any other worker process on the machine, and a worker that cannot bind them never starts.
    const wp = await startWorkerProcess(platform, { MEMBER_CRON_EMIT_RATE: String(EMIT_RATE) }, waitFor);
    child = wp.child;
    const childAlive = wp.alive;
    const childExited = wp.exited;
    const readyAfterMs = wp.readyAfterMs;

    const input: MemberCronInput = {
      scheduleName: name,
      cronExpression: '@daily',
      memberQuery: QUERY,
      pageSize: PAGE_SIZE,
      maxConcurrentShards: MAX_CONCURRENT_SHARDS,
      scheduledTime,
    };
    handle = await platform.temporal.workflow.start(MEMBER_CRON_WORKFLOW_TYPE, {
      taskQueue: platform.config.temporal.taskQueue,
      workflowId: `member-cron/${name}-${scheduledTime}`,
      args: [input],
    });

    // Mid-run and mid-page: the first wave of shards shares the rate, so at a quarter of the run both
    // of its pages are part-way through their publishing.
    await waitFor(() => childAlive('the kill') && ours.length >= expected.length * 0.25, 90_000, 'the child worker to emit a quarter of the events').catch(
      (err: unknown) => {
        throw new Error(`${String(err)} (${ours.length} of ${expected.length} seen; worker stderr:\n${wp.stderr()})`);
      },
    );
    child.kill('SIGKILL');
    await childExited;
    const beforeKill = ours.length;
    expect(beforeKill).toBeLessThan(expected.length);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    // A replacement worker from the real composition root finishes the run once Temporal times the dead
    // worker's activities out (heartbeat timeout) and retries them.
    await platform.addWorker();
    const result = (await handle.result()) as MemberCronResult;

    const ends = await admin.fetchTopicOffsets(topic);
    await waitFor(() => ends.every((o) => (consumedUpTo.get(o.partition) ?? Number(startOffsets.find((s) => s.partition === o.partition)?.high)) >= Number(o.high)), 60_000, 'the consumer to reach the end of the topic');
    expect(ours.length).toBeGreaterThan(beforeKill); // the replacement worker emitted the rest

    // Every matching member is on the topic, and every record of a member carries the same event id.
    const eventIdsByMember = new Map<string, Set<string>>();
    const recordsByEventId = new Map<string, number>();
    for (const e of ours) {
      expect(e.key).not.toBeNull();
      expect(e.eventId).toBeDefined();
      const ev = fromBinary(MemberCronEventSchema, e.value);
      expect(ev.memberId).toBe(e.key);
      expect(ev.scheduleName).toBe(name);
      const key = e.key ?? '';
      const id = e.eventId ?? '';
      eventIdsByMember.set(key, (eventIdsByMember.get(key) ?? new Set()).add(id));
      recordsByEventId.set(id, (recordsByEventId.get(id) ?? 0) + 1);
    }
    expect([...eventIdsByMember.keys()].sort()).toEqual(expected);
    expect([...eventIdsByMember.values()].filter((ids) => ids.size !== 1)).toEqual([]);
    expect(recordsByEventId.size).toBe(expected.length);

    // Raw re-sends can only come from the publish calls in flight when the worker died (Kafka acked,
    // Redis `done` mark not written yet): at most one chunk per shard activity. Consumers drop them by event id.
    const rawDuplicates = ours.length - expected.length;
    const resentIds = [...recordsByEventId.values()].filter((n) => n > 1).length;
    console.log(
      `member-cron kill test: worker process ready after ${readyAfterMs} ms, ${expected.length} matching members, ${beforeKill} records before SIGKILL, ` +
        `${ours.length} records in total, ${rawDuplicates} raw duplicate(s) over ${resentIds} event id(s)`,
    );
    expect(rawDuplicates).toBeLessThanOrEqual(MAX_CONCURRENT_SHARDS * PUBLISH_CHUNK);

    // The kill really interrupted an emitting shard activity: at least one ran a second attempt.
    let retriedShards = 0;
    for (let page = 0; page < result.pagesStarted; page++) {
      const history = await platform.temporal.workflow.getHandle(memberCronShardWorkflowId(name, scheduledTime, page)).fetchHistory();
      if ((history.events ?? []).some((ev) => (ev.activityTaskStartedEventAttributes?.attempt ?? 1) > 1)) retriedShards++;
    }
    expect(retriedShards).toBeGreaterThanOrEqual(1);

    // The run's own accounting: every member scanned, matched and emitted once; nothing counted as a
    // duplicate of an earlier run (there was none) or dead-lettered; the query agrees with the result.
    expect(result).toMatchObject({
      status: 'COMPLETED',
      scanned: expected.length,
      matched: expected.length,
      emitted: expected.length,
      duplicates: 0,
      skipped: 0,
      deadLettered: 0,
      pagesStarted: Math.ceil(expected.length / PAGE_SIZE),
      pagesCompleted: Math.ceil(expected.length / PAGE_SIZE),
    });
    expect(await handle.query(memberCronProgressQuery)).toEqual(result);
    handle = undefined;
  });
});
