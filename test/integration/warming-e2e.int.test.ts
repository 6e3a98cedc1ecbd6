import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { createConfiguredEligibilityCache, type EligibilityCache } from '../../activities/cache';
import { KafkaEventPublisher } from '../../activities/kafka/kafka-publisher';
import type { OutgoingEvent } from '../../activities/kafka/types';
import { createWarmingIntake } from '../../lib/temporal/warming-jobs';
import { createPgMemberListStore } from '../../activities/batch/pg-stores';
import { createMemberCronConsumer, type MemberCronConsumer } from '../../activities/warming/member-cron-consumer';
import { simCounts } from '../../bench/batch-harness';
import { MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { CacheWarmingService } from '../../gen/rte/v1/warming_pb';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecord } from '../../lib/member-record';
import type { WarmingIntake, WarmingIntakeRequest } from '../../lib/warming/types';
import { MOCK_MEMBERS, verdictFor } from '../../stedi-sim/answers';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { eventually as waitUntil } from '../helpers/sim-checks';

/**
 * Issue 9 end to end, on the real stack: MemberCronEvents on a unique Kafka topic → the real member-cron consumer
 * (own group, own DLQ topic, lead times ×1/3600 so an hour of lead lasts a second) → the real warming intake →
 * cacheWarmingWorkflow jobs on the test platform's worker → Redis cache, cache_warms in PostgreSQL, and the
 * Stedi simulator's own request counts per path. Then a replay of the topic under a new group (joins the finished
 * jobs: no new Stedi call), a re-emission of the same events (new jobs; INTELLIGENT skips every fresh entry: no new
 * Stedi call either), and GetWarmingStats through the real API against figures counted independently.
 */
jest.setTimeout(240_000);

const OP = 'check_eligibility';
const H = 3_600_000;
const SCHEDULE = 'e2e-warmup';
const SOURCE = `member-cron-${SCHEDULE}`;
const LEAD_SCALE = 1 / 3600;
const id = randomUUID().slice(0, 8);
const topic = `member-cron-e2e-${id}`;
const dlqTopic = `${topic}.rte-cache-warmer.dlq`;
const groupId = `rte-cache-warmer-e2e-${id}`;
const replayGroupId = `rte-cache-warmer-e2e-replay-${id}`;

type Band = 'urgent' | 'preload' | 'skip';
const PROBS: Record<Band, number[]> = { urgent: [0.95, 0.99, 0.91, 0.93], preload: [0.7, 0.8, 0.85, 0.9], skip: [0.3, 0.5, 0.65, 0.69] };
const PER_BAND = 8;

let p: TestPlatform;
let cache: EligibilityCache;
let kafka: Kafka;
let admin: Admin;
let publisher: KafkaEventPublisher;
const consumers: MemberCronConsumer[] = [];

const eventually = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> => waitUntil(what, cond, timeoutMs, 200);

/** The real intake, with each accepted request and its job id noted (so the test can wait for the jobs). */
function recording(intake: WarmingIntake) {
  const accepted: Array<{ req: WarmingIntakeRequest; jobId: string }> = [];
  return {
    accepted,
    intake: {
      async accept(req: WarmingIntakeRequest) {
        const r = await intake.accept(req);
        accepted.push({ req, jobId: r.jobId });
        return r;
      },
    } satisfies WarmingIntake,
  };
}

function consumerFor(group: string, intake: WarmingIntake): MemberCronConsumer {
  const c = createMemberCronConsumer({
    kafka,
    groupId: group,
    topic,
    dlqTopic,
    publisher,
    intake,
    routing: { leadScale: LEAD_SCALE },
    maxGroupSize: 50,
    maxDelayMs: 500,
    fromBeginning: true,
    shutdownFlushMs: 5_000,
  });
  consumers.push(c);
  return c;
}

beforeAll(async () => {
  p = await startTestPlatform({
    population: 300,
    // Real-time latency capped under the payer timeout: every answer is a first-try plain answer (no AAA 80 retry).
    sim: { logger: silentLogger(), latency: { maxMs: 50_000 } },
    env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' },
  });
  cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
  kafka = new Kafka({ clientId: `warming-e2e-${id}`, brokers: p.config.kafka.brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 2, replicationFactor: p.config.kafka.replicationFactor },
      { topic: dlqTopic, numPartitions: 1, replicationFactor: p.config.kafka.replicationFactor },
    ],
  });
  publisher = new KafkaEventPublisher(kafka);
}, 120_000);

afterAll(async () => {
  for (const c of consumers) await c.stop().catch(() => undefined);
  await publisher?.close();
  await admin?.deleteGroups([groupId, replayGroupId]).catch(() => undefined);
  await admin?.deleteTopics({ topics: [topic, dlqTopic] }).catch(() => undefined);
  await admin?.disconnect();
  await p?.close();
}, 60_000);

test('member-cron events → consumer → intake → warming jobs: >0.9 real time after its hold, 0.7–0.9 batch API, <0.7 untouched; replay costs no Stedi call; GetWarmingStats agrees', async () => {
  const testStart = Date.now();
  // Members whose simulated answer is a plain active coverage (no AAA error, no unknown payer, no mock).
  const plain = p.members.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind === 'active' && !MOCK_MEMBERS[`${m.payerId}|${m.payerMemberId}`] && !['TEST', 'BADPAYER'].includes(m.payerId));
  expect(plain.length).toBeGreaterThanOrEqual(3 * PER_BAND);
  const bands: Record<Band, MemberRecord[]> = { urgent: plain.slice(0, PER_BAND), preload: plain.slice(PER_BAND, 2 * PER_BAND), skip: plain.slice(2 * PER_BAND, 3 * PER_BAND) };

  // Windows near now: URGENT 6 h ahead (held until 2–4 h before it: 2–3 s here), PRELOAD 18 h ahead (sooner than
  // its 24 h lead: warmed at once), skipped ones anywhere.
  const emittedAt = Date.now();
  const windowIn: Record<Band, number> = { urgent: 6 * H, preload: 18 * H, skip: 6 * H };
  const events: OutgoingEvent[] = [];
  for (const band of ['urgent', 'preload', 'skip'] as const) {
    bands[band].forEach((m, i) => {
      const windowStart = emittedAt + windowIn[band];
      const ev = create(MemberCronEventSchema, {
        memberId: m.memberId,
        accountId: m.memberId,
        scheduleName: SCHEDULE,
        cronExpression: '0 4 * * *',
        emittedAt: timestampFromMs(emittedAt),
        context: {
          hasRteEnabled: true,
          predictedActivity: {
            appUsageProbability: PROBS[band][i % PROBS[band].length]!,
            predictedOperations: [OP],
            confidence: 0.9,
            modelVersion: 'rule-based/2',
            predictedWindowStart: timestampFromMs(windowStart),
            predictedWindowEnd: timestampFromMs(windowStart + 3 * H),
          },
        },
      });
      events.push({ topic, key: hashMemberId(p.config.cache.keySecret, m.memberId), value: toBinary(MemberCronEventSchema, ev), eventId: `evt-${id}-${m.memberId}`, schema: 'rte.v1.MemberCronEvent' });
    });
  }
  await publisher.publish(events);
  p.sim.resetStats();

  // ---- 1. the first run -----------------------------------------------------------------------------------------
  const realIntake = createWarmingIntake(p.temporal, createPgMemberListStore(p.directory.pool), {
    taskQueue: p.config.temporal.taskQueue,
    tuning: { batch: { pollBackoff: { initialMs: 500, maxMs: 1_000, multiplier: 2 } } },
  });
  const first = recording(realIntake);
  const t0 = performance.now();
  const consumer = consumerFor(groupId, first.intake);
  await consumer.start();
  const toWarm = bands.urgent.length + bands.preload.length;
  await eventually('the consumer to hand every member ≥ 0.7 to the intake', () => first.accepted.reduce((n, a) => n + a.req.memberIds.length, 0) >= toWarm);
  const jobIds = [...new Set(first.accepted.map((a) => a.jobId))];
  const views = await Promise.all(jobIds.map(async (j) => (await p.temporal.workflow.getHandle(j).result()) as WarmingStatusView));
  const firstRunMs = performance.now() - t0;
  for (const v of views) {
    expect(v.status).toBe('COMPLETED');
    expect(v.counters.outcomes.pending).toBe(0);
  }

  // What Stedi saw, by its own counts: one real-time call per URGENT member, one batch item per PRELOAD member.
  const sim1 = simCounts(p.sim);
  expect(sim1.realtimeCalls).toBe(bands.urgent.length);
  expect(sim1.batchItems).toBe(bands.preload.length);
  expect(sim1.batchesAccepted).toBeGreaterThanOrEqual(1);
  expect(p.sim.stats().answers['fault-5xx'] ?? 0).toBe(0);

  // cache_warms: one record per member ≥ 0.7, on the path its probability asks for, warmed; none for < 0.7.
  const hash = (m: MemberRecord) => hashMemberId(p.config.cache.keySecret, m.memberId);
  const rows = await p.directory.pool.query<{ member_hash: string; source: string; priority: string; path: string; outcome: string; not_before: Date | null; started_at: Date | null; completed_at: Date | null }>(
    'SELECT member_hash, source, priority, path, outcome, not_before, started_at, completed_at FROM cache_warms',
  );
  expect(rows.rows).toHaveLength(toWarm);
  const byHash = new Map(rows.rows.map((r) => [r.member_hash, r]));
  for (const m of bands.urgent) {
    const r = byHash.get(hash(m));
    expect(r).toMatchObject({ source: SOURCE, priority: 'URGENT', path: 'realtime', outcome: 'warmed' });
    // Held to its planned time: not_before recorded ~2–3 s after the event, and no Stedi call before it.
    expect(r!.not_before).not.toBeNull();
    expect(r!.not_before!.getTime()).toBeGreaterThan(emittedAt);
    expect(r!.not_before!.getTime()).toBeLessThanOrEqual(emittedAt + windowIn.urgent * LEAD_SCALE - 2 * H * LEAD_SCALE + 1);
    expect(r!.started_at).not.toBeNull();
    expect(r!.started_at!.getTime()).toBeGreaterThanOrEqual(r!.not_before!.getTime());
    expect(r!.completed_at!.getTime()).toBeGreaterThanOrEqual(r!.not_before!.getTime());
  }
  for (const m of bands.preload) expect(byHash.get(hash(m))).toMatchObject({ source: SOURCE, priority: 'PRELOAD', path: 'batch_api', outcome: 'warmed' });
  for (const m of bands.skip) expect(byHash.has(hash(m))).toBe(false);

  // The cache: warmed entries (marked as warming) for ≥ 0.7, nothing for < 0.7.
  for (const m of [...bands.urgent, ...bands.preload]) {
    const e = await cache.get(m.memberId, OP);
    expect(e?.source).toBe('warming');
    expect(e?.outcome).toBe('success');
    expect(e?.fetchedAt).toBe(byHash.get(hash(m))!.completed_at!.getTime());
  }
  for (const m of bands.skip) expect(await cache.get(m.memberId, OP)).toBeNull();
  await consumer.stop();

  // ---- 2. replay: a new group reads the topic from offset 0 ----------------------------------------------------
  const replay = recording(realIntake);
  const t1 = performance.now();
  const replayConsumer = consumerFor(replayGroupId, replay.intake);
  await replayConsumer.start();
  await eventually('the replay to hand every member ≥ 0.7 to the intake again', () => replay.accepted.reduce((n, a) => n + a.req.memberIds.length, 0) >= toWarm);
  // Same dedupe keys → the same (finished) jobs: every replayed group maps to a job of the first run, which is done.
  const replayJobs = [...new Set(replay.accepted.map((a) => a.jobId))];
  expect(replayJobs.sort()).toEqual([...jobIds].sort());
  for (const j of replayJobs) expect((await p.temporal.workflow.getHandle(j).describe()).status.name).toBe('COMPLETED');
  await new Promise((r) => setTimeout(r, 2_000));
  const replayMs = performance.now() - t1;
  expect(simCounts(p.sim)).toEqual(sim1);
  expect((await p.directory.pool.query('SELECT 1 FROM cache_warms')).rowCount).toBe(toWarm);
  await replayConsumer.stop();

  // ---- 2b. the producer emits the same events again (new offsets → new dedupe keys → new jobs) ------------------
  // The original group resumes from its committed offsets and sees only the duplicates; their jobs run, and
  // INTELLIGENT finds every entry fresh: each member is recorded skipped_fresh, and Stedi sees nothing more.
  await publisher.publish(events.map((e) => ({ ...e, eventId: `${e.eventId}-again` })));
  const again = recording(realIntake);
  const resumed = consumerFor(groupId, again.intake);
  await resumed.start();
  await eventually('the re-emitted members to reach the intake', () => again.accepted.reduce((n, a) => n + a.req.memberIds.length, 0) >= toWarm);
  const againJobs = [...new Set(again.accepted.map((a) => a.jobId))];
  for (const j of againJobs) expect(jobIds).not.toContain(j);
  const againViews = await Promise.all(againJobs.map(async (j) => (await p.temporal.workflow.getHandle(j).result()) as WarmingStatusView));
  for (const v of againViews) {
    expect(v.status).toBe('COMPLETED');
    expect(v.counters.outcomes.warmed).toBe(0);
  }
  expect(simCounts(p.sim)).toEqual(sim1);
  const skippedRows = await p.directory.pool.query<{ member_hash: string; path: string; outcome: string }>('SELECT member_hash, path, outcome FROM cache_warms WHERE job_id = ANY($1::text[])', [againJobs]);
  expect(skippedRows.rows.map((r) => r.member_hash).sort()).toEqual([...bands.urgent, ...bands.preload].map(hash).sort());
  for (const r of skippedRows.rows) expect({ path: r.path, outcome: r.outcome }).toEqual({ path: 'none', outcome: 'skipped_fresh' });
  await resumed.stop();

  // ---- 3. GetWarmingStats through the API ------------------------------------------------------------------------
  const token = await p.token(['rte:warming:read'], 'svc-warm-stats');
  const warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
  const range = { startTime: timestampFromMs(testStart - 60_000), endTime: timestampFromMs(Date.now() + 60_000) };
  const { stats } = await warming.getWarmingStats(range, { headers: { authorization: `Bearer ${token}` } });
  // Independently: the simulator's URGENT real-time calls + PRELOAD batch items, and the warmed records.
  // (all records now: the first run's warms plus the re-emission's skipped_fresh ones, which are no warms)
  const all = await p.directory.pool.query<{ outcome: string }>('SELECT outcome FROM cache_warms');
  expect(all.rows).toHaveLength(2 * toWarm);
  const warmedRecords = all.rows.filter((r) => r.outcome === 'warmed').length;
  expect(warmedRecords).toBe(sim1.realtimeCalls + sim1.batchItems);
  expect(stats?.totalMembersWarmed).toBe(sim1.realtimeCalls + sim1.batchItems);
  expect(stats?.bySource).toEqual({ [SOURCE]: warmedRecords });
  const filtered = await warming.getWarmingStats({ ...range, sources: ['manual-trigger'] }, { headers: { authorization: `Bearer ${token}` } });
  expect(filtered.stats?.totalMembersWarmed).toBe(0);

  console.log(
    `warming e2e: ${events.length} events, ${jobIds.length} jobs; first run ${(firstRunMs / 1000).toFixed(1)} s (realtime ${sim1.realtimeCalls}, batch items ${sim1.batchItems} in ${sim1.batchesAccepted} batches); replay ${(replayMs / 1000).toFixed(1)} s, 0 Stedi calls; re-emission ${againJobs.length} jobs, all skipped_fresh`,
  );
});
