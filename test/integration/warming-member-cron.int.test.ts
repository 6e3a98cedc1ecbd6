import { fromBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { createConfiguredEligibilityCache, type EligibilityCache } from '../../activities/cache';
import { createPgMemberListStore } from '../../activities/batch/pg-stores';
import { createEventConsumer, type ConsumedEvent, type EventConsumer } from '../../activities/kafka/consumer';
import { KafkaEventPublisher } from '../../activities/kafka/kafka-publisher';
import { createMemberCronConsumer, type MemberCronConsumer } from '../../activities/warming/member-cron-consumer';
import { CacheWarmingEvent_EventType, MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecord } from '../../lib/member-record';
import { createWarmingIntake, warmingTuningFromConfig } from '../../lib/temporal/warming-jobs';
import type { WarmingIntake, WarmingIntakeRequest } from '../../lib/warming/types';
import { MEMBER_CRON_WORKFLOW_TYPE, type MemberCronInput, type MemberCronResult } from '../../workflows/member-cron.defs';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { startMemberCronWorker, type MemberCronTestWorker } from '../helpers/member-cron-worker';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { createSimCheckRecorder, eventually, plainMembers } from '../helpers/sim-checks';
import { observeWarmingEvents } from '../helpers/warming-events';

/**
 * Issue 9 end to end through a REAL member-cron run: a seeded private-schema population; memberCronWorkflow (its own
 * worker, the rule-based predictor with the population's reference time, the production emission activities) emits
 * MemberCronEvents to a unique topic; the real member-cron consumer feeds the real warming intake (lead times ×1/7200,
 * so an hour of lead lasts half a second); the jobs run on the platform's worker. The bands are the predictor's own
 * outputs (the test does not choose probabilities): every member above 0.9 is warmed through one real-time call at
 * (not before) its planned time, every member in 0.7–0.9 through one Stedi batch-API item, and no member below 0.7
 * is touched — by the simulator's own per-member, per-path record.
 */
jest.setTimeout(180_000);

const OP = 'check_eligibility';
const H = 3_600_000;
const LEAD_SCALE = 1 / 7200;
const SCHEDULE = 'it-cron-warm';
const id = randomUUID().slice(0, 8);
const topic = `member-cron-warm-it-${id}`;
const dlqTopic = `${topic}.dlq`;
const consumerDlq = `${topic}.rte-cache-warmer.dlq`;
const groupId = `rte-cache-warmer-it-${id}`;
const observerGroup = `member-cron-warm-it-observer-${id}`;
const cronTaskQueue = `member-cron-warm-it-${id}`;

type Band = 'urgent' | 'preload' | 'skip';
/** The doc's bands, on the float32 the wire carries (0.7 → PRELOAD, 0.9 → not URGENT). */
function bandOf(p: number): Band {
  if (p > Math.fround(0.9)) return 'urgent';
  return p >= Math.fround(0.7) ? 'preload' : 'skip';
}

let p: TestPlatform;
let cache: EligibilityCache;
let kafka: Kafka;
let admin: Admin;
let publisher: KafkaEventPublisher;
let cronWorker: MemberCronTestWorker | undefined;
let observer: EventConsumer;
let consumer: MemberCronConsumer | undefined;
const sim = createSimCheckRecorder();
const observed: ConsumedEvent[] = [];

beforeAll(async () => {
  p = await startTestPlatform({
    population: 600,
    // Real-time latency capped under the payer timeout: every answer is a first-try plain answer (no AAA 80 retry).
    sim: { logger: silentLogger(), latency: { maxMs: 50_000 }, onCheck: sim.onCheck },
    env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' },
  });
  cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
  kafka = new Kafka({ clientId: `warming-member-cron-it-${id}`, brokers: p.config.kafka.brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, dlqTopic, consumerDlq, `${topic}.observer.dlq`].map((t) => ({ topic: t, numPartitions: t === topic ? 3 : 1, replicationFactor: p.config.kafka.replicationFactor })),
  });
  publisher = new KafkaEventPublisher(kafka);

  // The member-cron side exactly as the worker composes it (workers/compose.ts), on its own task queue and topic.
  cronWorker = await startMemberCronWorker(p, { taskQueue: cronTaskQueue, topic, dlqTopic, publisher });

  // An independent reader of the topic (its own group): what the run emitted, with emitted_at and windows.
  observer = createEventConsumer({ kafka, groupId: observerGroup, topic, dlqTopic: `${topic}.observer.dlq`, publisher, fromBeginning: true, handler: async (e) => void observed.push(e) });
  await observer.start();
}, 240_000);

afterAll(async () => {
  await consumer?.stop().catch(() => undefined);
  await observer?.stop().catch(() => undefined);
  await cronWorker?.stop();
  await publisher?.close();
  await admin?.deleteGroups([groupId, observerGroup]).catch(() => undefined);
  await admin?.deleteTopics({ topics: [topic, dlqTopic, consumerDlq, `${topic}.observer.dlq`] }).catch(() => undefined);
  await admin?.disconnect();
  await p?.close();
}, 60_000);

test('memberCronWorkflow → MemberCronEvents → consumer → intake → warming: >0.9 real time at its planned time, 0.7–0.9 batch API, <0.7 untouched', async () => {
  // The population: members the simulator would not answer plainly on the first try (AAA retries, mocks, unknown
  // payers) are switched off for RTE, so each warmed member costs exactly one Stedi check; the run selects the rest.
  const plain = plainMembers(p.members);
  const plainIds = new Set(plain.map((m) => m.memberId));
  await p.directory.pool.query('UPDATE members SET rte_enabled = false WHERE NOT (member_id = ANY($1::text[]))', [[...plainIds]]);
  const selected = (await p.directory.pool.query<{ member_id: string }>('SELECT member_id FROM members WHERE rte_enabled')).rows.map((r) => r.member_id);
  const byId = new Map(p.members.map((m) => [m.memberId, m]));

  // The warming side: the real consumer and the real intake (with the platform's warming tuning), job ids noted.
  const accepted: Array<{ req: WarmingIntakeRequest; jobId: string }> = [];
  const real = createWarmingIntake(p.temporal, createPgMemberListStore(p.directory.pool), { taskQueue: p.config.temporal.taskQueue, tuning: warmingTuningFromConfig(p.config) });
  const intake: WarmingIntake = {
    async accept(req) {
      const r = await real.accept(req);
      accepted.push({ req, jobId: r.jobId });
      return r;
    },
  };
  consumer = createMemberCronConsumer({
    kafka,
    groupId,
    topic,
    dlqTopic: consumerDlq,
    publisher,
    intake,
    routing: { leadScale: LEAD_SCALE },
    maxGroupSize: 200,
    maxDelayMs: 500,
    fromBeginning: true,
    shutdownFlushMs: 5_000,
  });
  await consumer.start();
  const warmingEvents = await observeWarmingEvents(p.config.kafka.brokers);

  // ---- the member-cron run ---------------------------------------------------------------------------------------
  const t0 = performance.now();
  const run = await p.temporal.workflow.execute<(i: MemberCronInput) => Promise<MemberCronResult>>(MEMBER_CRON_WORKFLOW_TYPE, {
    taskQueue: cronTaskQueue,
    workflowId: `member-cron-warm-it-${id}`,
    args: [{ scheduleName: SCHEDULE, cronExpression: '0 4 * * *', memberQuery: { hasRteEnabled: true }, pageSize: 200, maxConcurrentShards: 4, scheduledTime: new Date().toISOString() }],
  });
  expect(run).toMatchObject({ status: 'COMPLETED', matched: selected.length, emitted: selected.length, duplicates: 0, deadLettered: 0 });
  await eventually('the observer to read every emitted event', () => observed.length >= selected.length, 60_000, 200);

  // The bands, from what the run emitted (the predictor's probabilities; also what it wrote to member_predictions).
  const events = new Map(observed.map((e) => [e.key!, fromBinary(MemberCronEventSchema, e.value)]));
  expect([...events.keys()].sort()).toEqual([...selected].sort());
  const stored = new Map(
    (await p.directory.pool.query<{ member_id: string; app_usage_probability: number }>('SELECT member_id, app_usage_probability FROM member_predictions')).rows.map((r) => [
      r.member_id,
      r.app_usage_probability,
    ]),
  );
  const bands: Record<Band, MemberRecord[]> = { urgent: [], preload: [], skip: [] };
  for (const [memberId, ev] of events) {
    const prob = ev.context!.predictedActivity!.appUsageProbability;
    expect(Math.fround(stored.get(memberId)!)).toBe(prob);
    bands[bandOf(prob)].push(byId.get(memberId)!);
  }
  expect(bands.urgent.length).toBeGreaterThanOrEqual(3);
  expect(bands.preload.length).toBeGreaterThanOrEqual(3);
  expect(bands.skip.length).toBeGreaterThanOrEqual(3);

  // ---- the warming jobs ------------------------------------------------------------------------------------------
  const toWarm = bands.urgent.length + bands.preload.length;
  await eventually('the consumer to hand every member ≥ 0.7 to the intake', () => accepted.reduce((n, a) => n + a.req.memberIds.length, 0) >= toWarm, 120_000, 200);
  const jobIds = [...new Set(accepted.map((a) => a.jobId))];
  const diag = setTimeout(() => {
    const pool = p.directory.pool;
    console.log(`warming-member-cron diagnostics: pg pool total ${pool.totalCount} idle ${pool.idleCount} waiting ${pool.waitingCount}; sim in flight ${p.sim.stats().inFlight.current}`);
  }, 90_000);
  const views = await Promise.all(jobIds.map(async (j) => (await p.temporal.workflow.getHandle(j).result()) as WarmingStatusView));
  clearTimeout(diag);
  const wallMs = performance.now() - t0;
  for (const v of views) expect({ job: v.jobId, status: v.status, pending: v.counters.outcomes.pending }).toEqual({ job: v.jobId, status: 'COMPLETED', pending: 0 });
  expect(accepted.reduce((n, a) => n + a.req.memberIds.length, 0)).toBe(toWarm);
  // Every job's CacheWarmingEvents name the member-cron schedule it came from.
  try {
    await eventually('every job\'s COMPLETED event', () => jobIds.every((j) => (warmingEvents.byJob.get(j) ?? []).some((e) => e.eventType === CacheWarmingEvent_EventType.COMPLETED)), 30_000, 200);
    for (const j of jobIds) for (const e of warmingEvents.byJob.get(j)!) expect({ job: j, scheduleName: e.scheduleName }).toEqual({ job: j, scheduleName: SCHEDULE });
  } finally {
    await warmingEvents.stop();
  }

  // The simulator's own record, per member and path.
  const rt = sim.callsOf(bands.urgent, 'realtime');
  const items = sim.callsOf(bands.preload, 'batch');
  for (const m of bands.urgent) expect({ m: m.memberId, realtime: rt.get(m.memberId) }).toEqual({ m: m.memberId, realtime: 1 });
  for (const m of bands.preload) expect({ m: m.memberId, items: items.get(m.memberId) }).toEqual({ m: m.memberId, items: 1 });
  expect(sim.count(bands.urgent, 'batch')).toBe(0);
  expect(sim.count(bands.preload, 'realtime')).toBe(0);
  expect(sim.count(bands.skip, 'realtime') + sim.count(bands.skip, 'batch')).toBe(0);
  expect(sim.checks).toHaveLength(toWarm);

  // URGENT timing: planned 2–4 h (scaled) before the member's predicted window (or at once when that window starts
  // sooner than 4 h after the event), recorded as not_before, and Stedi's first call for the member never earlier.
  const hash = (m: MemberRecord) => hashMemberId(p.config.cache.keySecret, m.memberId);
  const rows = new Map(
    (
      await p.directory.pool.query<{ member_hash: string; priority: string; path: string; outcome: string; not_before: Date | null; source: string }>(
        'SELECT member_hash, priority, path, outcome, not_before, source FROM cache_warms WHERE job_id = ANY($1::text[])',
        [jobIds],
      )
    ).rows.map((r) => [r.member_hash, r]),
  );
  expect(rows.size).toBe(toWarm);
  const firstCall = sim.firstAt(bands.urgent, 'realtime');
  let held = 0;
  for (const m of bands.urgent) {
    const ev = events.get(m.memberId)!;
    const base = timestampMs(ev.emittedAt!);
    const windowStart = base + (timestampMs(ev.context!.predictedActivity!.predictedWindowStart!) - base) * LEAD_SCALE;
    const r = rows.get(hash(m))!;
    expect(r).toMatchObject({ priority: 'URGENT', path: 'realtime', outcome: 'warmed', source: `member-cron-${SCHEDULE}` });
    const planned = r.not_before?.getTime() ?? base;
    if (r.not_before) {
      held += 1;
      expect(planned).toBeGreaterThanOrEqual(windowStart - 4 * H * LEAD_SCALE - 1);
      expect(planned).toBeLessThanOrEqual(windowStart - 2 * H * LEAD_SCALE + 1);
    } else {
      expect(windowStart - 4 * H * LEAD_SCALE).toBeLessThanOrEqual(base);
    }
    expect(firstCall.get(m.memberId)!).toBeGreaterThanOrEqual(planned);
  }
  expect(held).toBeGreaterThan(0);
  for (const m of bands.preload) expect(rows.get(hash(m))).toMatchObject({ priority: 'PRELOAD', path: 'batch_api', outcome: 'warmed' });
  for (const m of bands.skip) expect(rows.has(hash(m))).toBe(false);

  // The cache: warmed entries for ≥ 0.7, nothing for < 0.7.
  for (const m of [...bands.urgent, ...bands.preload]) expect((await cache.get(m.memberId, OP))?.source).toBe('warming');
  for (const m of bands.skip) expect(await cache.get(m.memberId, OP)).toBeNull();

  console.log(
    `warming from a member-cron run: ${selected.length} members emitted; bands >0.9 ${bands.urgent.length} (${held} held to their planned time), 0.7–0.9 ${bands.preload.length}, <0.7 ${bands.skip.length}; ` +
      `${jobIds.length} jobs; Stedi: ${sim.count(bands.urgent, 'realtime')} real-time calls, ${sim.count(bands.preload, 'batch')} batch items, 0 for <0.7; wall ${(wallMs / 1000).toFixed(1)} s`,
  );
});
