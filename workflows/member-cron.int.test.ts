import { clone, fromBinary } from '@bufbuild/protobuf';
import { fromJson } from '@bufbuild/protobuf';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { createPgMemberListStore } from '../activities/batch/pg-stores';
import { createMemberCronActivities } from '../activities/member-cron/activities';
import { RedisEmissionLedger } from '../activities/member-cron/emission-ledger';
import { PgMemberCronSources } from '../activities/member-cron/pg-member-sources';
import { createEventConsumer, type ConsumedEvent } from '../activities/kafka/consumer';
import { KafkaEventPublisher } from '../activities/kafka/kafka-publisher';
import { RedisTokenBucket } from '../activities/kafka/rate-limiter';
import { PgFeatureFlagProvider } from '../directory/feature-flags';
import { PgMemberDirectory } from '../directory/pg-member-directory';
import { createTestDirectory, TEST_REFERENCE_TIME, type TestDirectory } from '../directory/test-support';
import { MemberCronEventSchema } from '../gen/rte/v1/events_pb';
import { MemberQuerySchema } from '../gen/rte/v1/member_query_pb';
import { loadConfig } from '../lib/config';
import { temporalDataConverter } from '../lib/temporal/connect';
import { ensureTopics } from '../lib/kafka-topics';
import { silentLogger } from '../lib/logger';
import { hashMemberId } from '../lib/member-hash';
import { RULE_BASED_MODEL_VERSION, RuleBasedActivityPredictor } from '../lib/prediction/rule-based';
import { applySchedules, createTemporalScheduleStore, type ApplyReport } from '../schedules/apply';
import { parseScheduleFile, ScheduleFileError } from '../schedules/load';
import { connectTemporal, type TemporalTestContext } from '../test/helpers/temporal';
import { decodedHistoryText, memberIdsIn } from '../test/helpers/history-text';
import { EncryptionCodec } from '../lib/temporal/codec';
import {
  MEMBER_CRON_WORKFLOW_TYPE,
  memberCronProgressQuery,
  pauseMemberCronSignal,
  resumeMemberCronSignal,
  type MemberCronInput,
  type MemberCronResult,
  type MemberQueryJson,
  type PauseMemberCronArgs,
} from './member-cron.defs';
import { RteBatchStatus } from './search-attributes';

/**
 * The acceptance test against the real stack: Temporal Schedules from the file, a worker on a
 * unique task queue running the member cron over a freshly seeded directory schema, real Kafka topics and
 * Redis (unique names per test run, all removed afterwards).
 */
jest.setTimeout(240_000);

const config = loadConfig();
const id = randomUUID().slice(0, 8);
const prefix = `member-cron-it-${id}/`;
const taskQueue = `member-cron-it-${id}`;
const topic = `member-cron-events.it-${id}`;
const dlqTopic = `${topic}.dlq`;

const FILE = `
schedules:
  - name: "daily-rte-warmup"
    cron: "@daily"
    enabled: true
    filters:
      - has_rte_enabled: true
      - app_usage_probability: "> 0.5"
  - name: "weekly-bulk-refresh"
    cron: "0 2 * * 0"  # Sundays at 2 AM
    enabled: true
    filters:
      - has_rte_enabled: true
  - name: "monthly-full-sync"
    cron: "@monthly"
    enabled: true
`;

let temporal: TemporalTestContext;
let db: TestDirectory;
let redis: Redis;
let kafka: Kafka;
let admin: Admin;
let publisher: KafkaEventPublisher;
let worker: Worker;
let workerRun: Promise<void>;
const received: ConsumedEvent[] = [];
let consumer: ReturnType<typeof createEventConsumer>;

async function apply(text: string): Promise<ApplyReport> {
  // Parse first: a malformed file throws here, before any schedule is touched.
  const defs = parseScheduleFile(text, 'it.yaml');
  return applySchedules(defs, createTemporalScheduleStore(temporal.client), { taskQueue, idPrefix: prefix });
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until the consumer has read everything the topic holds right now. */
async function drainTopic(): Promise<void> {
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  await eventually(`${total} records consumed`, async () => (received.length >= total ? true : undefined));
}

async function expectedMembers(memberQuery: MemberQueryJson): Promise<string[]> {
  const dir = new PgMemberDirectory(db.pool, { now: () => TEST_REFERENCE_TIME });
  const q = clone(MemberQuerySchema, fromJson(MemberQuerySchema, memberQuery as never));
  q.limit = 1000;
  const ids: string[] = [];
  for (;;) {
    const page = await dir.queryMembers(q);
    ids.push(...page.members.map((m) => m.memberId));
    if (!page.nextCursor) return ids.sort();
    q.cursor = page.nextCursor;
  }
}

async function runOf(scheduleName: string): Promise<MemberCronResult> {
  const handle = temporal.client.schedule.getHandle(`${prefix}${scheduleName}`);
  await handle.trigger();
  const workflowId = await eventually('the scheduled run to start', async () => {
    const d = await handle.describe();
    return d.info.runningActions[0]?.workflow.workflowId ?? d.info.recentActions[0]?.action.workflow.workflowId;
  });
  return temporal.client.workflow.getHandle<(i: MemberCronInput) => Promise<MemberCronResult>>(workflowId).result();
}

beforeAll(async () => {
  temporal = await connectTemporal();
  db = await createTestDirectory({ seed: 11, population: 400 });
  // The monthly schedule is switched off by the enablement flag (LaunchDarkly-shaped, DB-backed).
  await db.pool.query("INSERT INTO feature_flags (flag_key, enabled, fallthrough_value, off_value) VALUES ('member-cron-schedule-enabled', true, true, true)");
  await db.pool.query("INSERT INTO feature_flag_targets VALUES ('member-cron-schedule-enabled', 'schedule', 'monthly-full-sync', false)");
  redis = new Redis(config.redisUrl);
  kafka = new Kafka({ clientId: `member-cron-it-${id}`, brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { partitions: 3, replicationFactor: config.kafka.replicationFactor }, [topic, dlqTopic]);
  publisher = new KafkaEventPublisher(kafka);
  consumer = createEventConsumer({
    kafka,
    groupId: `member-cron-it-${id}`,
    topic,
    dlqTopic: `${topic}.consumer.dlq`,
    publisher,
    fromBeginning: true,
    handler: async (e) => {
      received.push(e);
    },
  });
  await consumer.start();

  const sources = new PgMemberCronSources(db.pool);
  const flags = new PgFeatureFlagProvider(db.pool);
  const activities = createMemberCronActivities({
    directory: new PgMemberDirectory(db.pool, { now: () => TEST_REFERENCE_TIME, flags }),
    members: sources,
    activity: sources,
    lists: createPgMemberListStore(db.pool),
    flags,
    predictor: new RuleBasedActivityPredictor(),
    publisher,
    rateLimiter: new RedisTokenBucket(redis, { ratePerSecond: 5000, key: `rte:{member-cron-it-${id}}:bucket` }),
    ledger: new RedisEmissionLedger(redis, { keyPrefix: `rte:member-cron-it-${id}:emitted:`, doneTtlSeconds: 3600 }),
    hashMemberId: (m) => hashMemberId(config.cache.keySecret, m),
    logger: silentLogger(),
    predictionTime: () => TEST_REFERENCE_TIME,
    snapshotFlagKeys: ['vpc-expansion'],
    topic,
    dlqTopic,
  });
  worker = await Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    dataConverter: temporalDataConverter(config),
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./member-cron'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) } }),
    activities,
  });
  workerRun = worker.run();
}, 300_000);

afterAll(async () => {
  // Delete every schedule this test created (apply of an empty file under the test prefix).
  if (temporal) await applySchedules([], createTemporalScheduleStore(temporal.client), { taskQueue, idPrefix: prefix }).catch(() => undefined);
  worker?.shutdown();
  await workerRun?.catch(() => undefined);
  await consumer?.stop();
  await publisher?.close();
  await admin?.deleteTopics({ topics: [topic, dlqTopic, `${topic}.consumer.dlq`] }).catch(() => undefined);
  await admin?.disconnect();
  const keys = await redis?.keys(`rte:member-cron-it-${id}:*`);
  if (keys?.length) await redis.del(...keys);
  redis?.disconnect();
  await db?.drop();
  await temporal?.close();
});

test('member cron end to end: apply, run, rerun, edit, malformed file', async () => {
  // 1. Apply creates the three schedules, visible in the schedule list.
  const first = await apply(FILE);
  expect(first.created).toEqual([`${prefix}daily-rte-warmup`, `${prefix}monthly-full-sync`, `${prefix}weekly-bulk-refresh`]);
  const listed = await eventually('schedules listed', async () => {
    const ids: string[] = [];
    for await (const s of temporal.client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
    return ids.length === 3 ? ids.sort() : undefined;
  });
  expect(listed).toEqual(first.created);
  const desc = await temporal.client.schedule.getHandle(`${prefix}daily-rte-warmup`).describe();
  expect(desc.action.type).toBe('startWorkflow');
  expect(desc.action.type === 'startWorkflow' && desc.action.workflowType).toBe(MEMBER_CRON_WORKFLOW_TYPE);
  expect(desc.spec.calendars?.[0]?.hour).toEqual([{ start: 0, end: 0, step: 1 }]);

  // 2. Triggering a run emits exactly one decodable event per matching member.
  const dailyQuery = parseScheduleFile(FILE)[0]?.memberQuery ?? {};
  const expected = await expectedMembers(dailyQuery);
  expect(expected.length).toBeGreaterThan(10);
  const run = await runOf('daily-rte-warmup');
  expect(run).toMatchObject({ status: 'COMPLETED', scanned: expected.length, matched: expected.length, emitted: expected.length, duplicates: 0, deadLettered: 0 });
  await drainTopic();
  const keys = received.map((e) => e.key ?? '').sort();
  expect(keys).toEqual(expected);
  const sponsorOf = new Map(
    (await db.pool.query<{ member_id: string; sponsor_id: string }>('SELECT member_id, sponsor_id FROM members')).rows.map((r) => [r.member_id, r.sponsor_id]),
  );
  for (const e of received) {
    expect(e.schema).toBe('rte.v1.MemberCronEvent');
    expect(e.headers['content-type']).toBe('application/x-protobuf');
    const ev = fromBinary(MemberCronEventSchema, e.value);
    expect(ev.memberId).toBe(e.key);
    expect(ev.scheduleName).toBe('daily-rte-warmup');
    expect(ev.cronExpression).toBe('@daily');
    expect(ev.context?.hasRteEnabled).toBe(true);
    expect(ev.context?.sponsorId).toBe(sponsorOf.get(ev.memberId));
    expect(ev.context?.predictedActivity?.modelVersion).toBe(RULE_BASED_MODEL_VERSION);
    expect(Object.keys(ev.context?.featureFlags ?? {})).toEqual(['vpc-expansion']);
  }
  expect(new Set(received.map((e) => e.eventId)).size).toBe(expected.length);

  // 3. Running the same tick again emits nothing new.
  const rerun = await temporal.client.workflow.execute<(i: MemberCronInput) => Promise<MemberCronResult>>(MEMBER_CRON_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `${prefix}daily-rte-warmup-rerun`,
    args: [{ scheduleName: 'daily-rte-warmup', cronExpression: '@daily', memberQuery: dailyQuery, pageSize: 500, maxConcurrentShards: 4, scheduledTime: run.scheduledTime }],
  });
  expect(rerun).toMatchObject({ emitted: 0, duplicates: expected.length });
  const endsAfterRerun = await admin.fetchTopicOffsets(topic);
  expect(endsAfterRerun.reduce((n, p) => n + Number(p.high), 0)).toBe(expected.length);

  // 4. A schedule switched off by the enablement flag runs but emits nothing.
  const monthly = await runOf('monthly-full-sync');
  expect(monthly).toMatchObject({ status: 'DISABLED', emitted: 0 });

  // 5. Editing one schedule and re-applying updates only that one.
  const edited = await apply(FILE.replace('"0 2 * * 0"', '"0 3 * * 0"'));
  expect(edited.updated).toEqual([`${prefix}weekly-bulk-refresh`]);
  expect(edited.unchanged).toEqual([`${prefix}daily-rte-warmup`, `${prefix}monthly-full-sync`]);
  expect(edited.created.concat(edited.deleted, edited.paused)).toEqual([]);
  const weekly = await temporal.client.schedule.getHandle(`${prefix}weekly-bulk-refresh`).describe();
  expect(weekly.spec.calendars?.[0]?.hour).toEqual([{ start: 3, end: 3, step: 1 }]);

  // 6. A malformed file is rejected naming the field, and no schedule is touched.
  const before = await temporal.client.schedule.getHandle(`${prefix}weekly-bulk-refresh`).describe();
  let err: unknown;
  try {
    await apply(FILE.replace('"0 2 * * 0"', '"0 2 * *"').replace('"@monthly"', '"@monthly"\n    enabeld: false'));
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ScheduleFileError);
  expect((err as ScheduleFileError).message).toContain('schedules[2].enabeld');
  const after = await temporal.client.schedule.getHandle(`${prefix}weekly-bulk-refresh`).describe();
  expect(after.spec).toEqual(before.spec);
  expect(after.state.paused).toBe(false);

  // 7. Dropping a schedule from the file deletes it; the others stay.
  const removed = await apply(FILE.replace(/ {2}- name: "monthly-full-sync"[\s\S]*$/, '').replace('"0 2 * * 0"', '"0 3 * * 0"'));
  expect(removed.deleted).toEqual([`${prefix}monthly-full-sync`]);
  expect(removed.unchanged).toHaveLength(2);
});

test('a run paused by pauseMemberCron is PAUSED (query, RteBatchStatus, Web UI) and fetches nothing until resumeMemberCron', async () => {
  const handle = await temporal.client.workflow.signalWithStart<(i: MemberCronInput) => Promise<MemberCronResult>, [PauseMemberCronArgs?]>(MEMBER_CRON_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `${prefix}weekly-bulk-refresh-paused`,
    args: [{ scheduleName: 'weekly-bulk-refresh', cronExpression: '0 2 * * 0', memberQuery: parseScheduleFile(FILE)[1]?.memberQuery ?? {}, pageSize: 100, maxConcurrentShards: 1, scheduledTime: '2026-01-04T02:00:00.000Z' }],
    signal: pauseMemberCronSignal,
    signalArgs: [{ by: 'ops-oncall' }],
  });
  const progress = await eventually('the run to report PAUSED', async () => {
    const p = await handle.query(memberCronProgressQuery);
    return p.status === 'PAUSED' ? p : undefined;
  });
  expect(progress).toMatchObject({ pausedBy: 'ops-oncall', pagesStarted: 0, scanned: 0 });
  await eventually('RteBatchStatus = PAUSED', async () => ((await handle.describe()).typedSearchAttributes.get(RteBatchStatus) === 'PAUSED' ? true : undefined));
  const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  expect(metadata.currentDetails).toMatch(/^PAUSED by ops-oncall \(resume with signal resumeMemberCron\) · weekly-bulk-refresh/);
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await handle.query(memberCronProgressQuery)).scanned).toBe(0);

  await handle.signal(resumeMemberCronSignal);
  const result = await handle.result();
  expect(result.status).toBe('COMPLETED');
  expect(result.scanned).toBeGreaterThan(0);
  expect(result.pausedBy).toBeUndefined();
  expect((await handle.describe()).typedSearchAttributes.get(RteBatchStatus)).toBe('COMPLETED');
});

test('no member id (nor a directory cursor naming one) in the histories of a run, its continued runs and its shards', async () => {
  // Small pages, two per run: several shards and continue-as-new, each crossing a page boundary by reference.
  // A tick of its own (shard ids derive from it), so no other run of this test shares its shards.
  const scheduledTime = new Date(Date.UTC(2026, 0, 11, 2) + (parseInt(id.slice(0, 6), 16) % 500_000) * 60_000).toISOString();
  const memberQuery = parseScheduleFile(FILE)[1]?.memberQuery ?? {};
  const expected = await expectedMembers(memberQuery);
  expect(expected.length).toBeGreaterThan(20);
  const handle = await temporal.client.workflow.start<(i: MemberCronInput) => Promise<MemberCronResult>>(MEMBER_CRON_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: `${prefix}weekly-bulk-refresh-refs`,
    args: [{ scheduleName: 'weekly-bulk-refresh', cronExpression: '0 2 * * 0', memberQuery, pageSize: 40, maxConcurrentShards: 2, pagesPerRun: 2, scheduledTime }],
  });
  const result = await handle.result();
  // Every member exactly once across pages fetched from stored cursors (this tick is new: all emitted).
  expect(result).toMatchObject({ status: 'COMPLETED', scanned: expected.length, matched: expected.length, emitted: expected.length, duplicates: 0 });
  expect(result.runs).toBeGreaterThan(1);

  // Read as an operator with the key would (codec decrypts every payload): the ids are not there at all.
  const text = await decodedHistoryText(temporal.client, new EncryptionCodec(config.codec.keys), handle.workflowId, handle.firstExecutionRunId);
  expect(text).toContain('memberCronEmitShard'); // the shards' histories were read
  const allIds = (await db.pool.query<{ member_id: string }>('SELECT member_id FROM members')).rows.map((r) => r.member_id);
  expect(memberIdsIn(text, allIds)).toEqual([]);
  expect(text).toContain('member-cron-page/'); // the references are what travels
  // Finished shards dropped their stored pages (and the cursors they were fetched from).
  const left = await db.pool.query("SELECT count(*)::int AS n FROM batch_member_lists WHERE list_ref LIKE $1", [`member-cron-page/${handle.firstExecutionRunId}/%`]);
  expect(left.rows[0].n).toBe(0);
});
