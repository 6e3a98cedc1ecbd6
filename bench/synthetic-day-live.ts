/**
 * A synthetic day (issue 11), LIVE fidelity, and the live/fast agreement line.
 *
 *   flock /tmp/rte-int.lock npx tsx bench/synthetic-day-live.ts [--members 5000] [--seed 42] [--day-minutes 15]
 *                                                             [--arms reactive,shipped]
 *
 * The same seeded day as bench/synthetic-day.ts, replayed against the REAL stack on one uniform time scale
 * s = day-minutes / 1440 (default 15 min for the 24 h day, s = 1/96): per arm its own test platform
 * (test/helpers/platform.ts: Stedi simulator, worker on its own task queue, Connect API, private PostgreSQL
 * schema with the seeded population, random Redis key prefix) on the dev stack's Temporal, Kafka, Redis and
 * PostgreSQL. Wall time w and day time t map as w = W0 + (t - reference time) × s. Scaled by s: the simulator's
 * latency, batch processing and payer timeout (its timeScale), the cache TTLs and retention, the batch-API polling
 * backoff, the warming leads, buckets and predicted windows (WARMING_LEAD_SCALE via the consumer's routing), the
 * member-cron consumer's group delay, and the reads' times. The 15-slot limit is a count, so scaled latency keeps
 * its capacity per day-second. NOT scaled (platform overheads and bounds, printed as such): Temporal task and
 * timer latency, HTTP and Redis round trips, STEDI_TIMEOUT_MS, SLOT_LEASE_MS, API_REFRESH_WAIT_MS.
 *
 *  - reactive arm: no warming; the day's app sessions read CheckEligibility (CACHE_CONTROL_DEFAULT) through the API.
 *  - shipped arm: the same reads, plus the member-cron path of issue 9 at the day start: the real memberCronWorkflow
 *    (rule-based predictor at the population's reference time, windows shifted to W0, emitted_at pinned to W0 as the
 *    fast model emits at the reference time) → Kafka (a unique topic) → the real member-cron consumer → the real
 *    warming intake → warming jobs on the platform's worker → Stedi (real time or batch API).
 *
 * The starting cache (fast model: from the observed history) is written into each arm's Redis before W0 with its
 * times mapped the same way. Members the Stedi simulator answers with an AAA error (about 8 %: connectivity codes
 * that the platform retries, payer errors cached for 5 min) or as a mock are switched off for RTE in BOTH
 * fidelities: the fast model has no per-payer errors (its error rate is 0), and the live retries wait in unscaled
 * wall time.
 *
 * Then the fast model (lib/synthetic-day/sim.ts) runs on the same seed, members, mask and TTLs, and the bench prints
 * both side by side with the difference: hit/read, sessions that waited, real-time rush calls, calls/day, warms
 * executed, precision, capture (against the perfect-foresight ceiling, which is an oracle computed by the fast
 * model from its reactive trace in both columns) and cost. Agreement tolerance (issue 11): ±2 pp on hit/read and
 * ±10 % on real-time rush calls. Not part of CI. Figures: docs/synthetic-day.md "Live fidelity".
 */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { createPgMemberListStore } from '../activities/batch/pg-stores';
import { createConfiguredEligibilityCache } from '../activities/cache';
import { KafkaEventPublisher } from '../activities/kafka/kafka-publisher';
import { createMemberCronConsumer, type MemberCronConsumer } from '../activities/warming/member-cron-consumer';
import { DEFAULT_REFERENCE_TIME } from '../directory/generator';
import { memberIdOf } from '../directory/generator-common';
import { TEST_REFERENCE_TIME } from '../directory/test-support';
import { CacheControl, CacheStatus } from '../gen/rte/v1/common_pb';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { silentLogger } from '../lib/logger';
import { ceilingOrders, intelligentRoute, PredictionTable, shippedOrders } from '../lib/synthetic-day/policies';
import { buildWorld, defaultDaySeed, loadDay } from '../lib/synthetic-day/population';
import { DEFAULT_SIM_OPTIONS, simulateArm, type ArmCounts, type SimOptions, type SimWorld, type WarmOrder } from '../lib/synthetic-day/sim';
import { createWarmingIntake, warmingTuningFromConfig } from '../lib/temporal/warming-jobs';
import type { WarmingIntake } from '../lib/warming/types';
import type { CoverageSummary } from '../lib/coverage-summary';
import { MEMBER_CRON_WORKFLOW_TYPE, type MemberCronInput, type MemberCronResult } from '../workflows/member-cron.defs';
import { startMemberCronWorker } from '../test/helpers/member-cron-worker';
import { startTestPlatform, type TestPlatform } from '../test/helpers/platform';
import { createSimCheckRecorder, simKeyOf, type SimCheckRecorder } from '../test/helpers/sim-checks';
import { MOCK_MEMBERS, verdictFor } from '../stedi-sim/answers';
import type { MemberRecord } from '../lib/member-record';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const OP = 'check_eligibility';
const PRICE = 0.1;
const HIT_TOLERANCE_PP = 2;
const RUSH_TOLERANCE = 0.1;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const members = Number(arg('members', '5000'));
const seed = Number(arg('seed', '42'));
const dayMinutes = Number(arg('day-minutes', '15'));
const arms = arg('arms', 'reactive,shipped').split(',') as ArmName[];
const daySeed = defaultDaySeed(seed);
const scale = (dayMinutes * 60_000) / DAY;
const ref = Date.parse(DEFAULT_REFERENCE_TIME);
if (TEST_REFERENCE_TIME.getTime() !== ref) throw new Error('the test directory and the fast model must share the reference time');
if (!(members > 0 && dayMinutes > 0 && arms.every((a) => a === 'reactive' || a === 'shipped'))) throw new Error('usage: --members N --day-minutes M --arms reactive,shipped');

type ArmName = 'reactive' | 'shipped';
/** Scaled seconds (integers, as the config wants them; the fast model uses the same rounded values). */
const secs = (s: number): number => Math.max(1, Math.round(s * scale));
const SUCCESS_TTL_S = secs(22 * 3600);
const ERROR_TTL_S = secs(5 * 60);
const RETENTION_S = secs(7 * 24 * 3600);
/** Stedi's batch API: the simulator spreads a batch's items evenly over this (before scaling; design doc 15-30 min). */
const BATCH_DURATION_MS = 30 * 60_000;

const summary: CoverageSummary = {
  status: 'active',
  payer: { id: 'SIM', name: 'Synthetic day start cache' },
  plan: { name: 'Plan', number: 'P1', groupNumber: 'G1', insuranceType: null },
  coverage: { start: '2024-01-01', end: null },
  benefits: [],
  errors: [],
};
const payerError: CoverageSummary = { ...summary, status: 'error', errors: [{ code: '42', description: 'Unable to Respond at Current Time', followupAction: 'Resubmission Allowed' }] };

interface ReadResult {
  status: CacheStatus | 'FAILED';
  source: string;
  fetchedAt: number;
  waitMs: number;
}

interface LiveArm {
  name: ArmName;
  p: TestPlatform;
  sim: SimCheckRecorder;
  reads: (ReadResult | undefined)[];
  jobIds: string[];
  routed: number;
  cron?: { result?: MemberCronResult; wallMs?: number };
  close: () => Promise<void>;
  /** Starts the arm's member-cron run at W0 (shipped only). */
  startDay?: (w0: number) => Promise<void>;
}

async function startArm(name: ArmName): Promise<LiveArm> {
  const sim = createSimCheckRecorder();
  const p = await startTestPlatform({
    population: members,
    seed,
    sim: { logger: silentLogger(), timeScale: scale, batchDurationMs: BATCH_DURATION_MS, onCheck: sim.onCheck },
    env: {
      // Each arm its own member-hash secret: the single-flight refresh workflow id is eligibility/<member hash>/<op> on
      // the shared Temporal namespace, so with one secret the two arms' reads of the same member at the same moment
      // would join each other's refresh (running on the other arm's task queue, writing the other arm's Redis).
      CACHE_KEY_SECRET: `synthetic-day-${name}-${randomUUID()}`,
      CACHE_SUCCESS_TTL_SECONDS: String(SUCCESS_TTL_S),
      CACHE_ERROR_TTL_SECONDS: String(ERROR_TTL_S),
      CACHE_RETENTION_SECONDS: String(RETENTION_S),
      BATCH_POLL_INITIAL_MS: String(Math.max(200, Math.round(2 * 60_000 * scale))),
      BATCH_POLL_MAX_MS: String(Math.max(1000, Math.round(8 * HOUR * scale))),
      WARMING_LEAD_SCALE: String(scale),
      WARM_CACHE_BATCH_LATENCY_SECONDS: String(secs(600)),
    },
  });
  const arm: LiveArm = { name, p, sim, reads: [], jobIds: [], routed: 0, close: () => p.close() };
  if (name === 'reactive') return arm;

  const id = randomUUID().slice(0, 8);
  const topic = `member-cron-day-live-${id}`;
  const dlqTopic = `${topic}.dlq`;
  const consumerDlq = `${topic}.rte-cache-warmer.dlq`;
  const groupId = `rte-cache-warmer-day-live-${id}`;
  const cronTaskQueue = `member-cron-day-live-${id}`;
  const kafka = new Kafka({ clientId: `synthetic-day-live-${id}`, brokers: p.config.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, dlqTopic, consumerDlq].map((t) => ({ topic: t, numPartitions: t === topic ? 3 : 1, replicationFactor: p.config.kafka.replicationFactor })),
  });
  const publisher = new KafkaEventPublisher(kafka);
  const pool = p.directory.pool;
  let w0 = Number.NaN;
  // emitted_at pinned to W0 (the fast model emits every event at the reference time).
  const cronWorker = await startMemberCronWorker(p, { taskQueue: cronTaskQueue, topic, dlqTopic, publisher, clock: () => w0 });
  const real = createWarmingIntake(p.temporal, createPgMemberListStore(pool), { taskQueue: p.config.temporal.taskQueue, tuning: warmingTuningFromConfig(p.config) });
  const intake: WarmingIntake = {
    async accept(req) {
      const r = await real.accept(req);
      arm.jobIds.push(r.jobId);
      arm.routed += req.memberIds.length;
      return r;
    },
  };
  const consumer: MemberCronConsumer = createMemberCronConsumer({
    kafka,
    groupId,
    topic,
    dlqTopic: consumerDlq,
    publisher,
    intake,
    routing: { leadScale: scale },
    maxGroupSize: p.config.memberCronConsumer.maxGroupSize,
    maxDelayMs: Math.max(100, Math.round(p.config.memberCronConsumer.maxDelayMs * scale)),
    fromBeginning: true,
    shutdownFlushMs: 5_000,
  });
  await consumer.start();
  arm.cron = {};
  arm.startDay = async (start: number) => {
    w0 = start;
    const t0 = Date.now();
    arm.cron!.result = await p.temporal.workflow.execute<(i: MemberCronInput) => Promise<MemberCronResult>>(MEMBER_CRON_WORKFLOW_TYPE, {
      taskQueue: cronTaskQueue,
      workflowId: `member-cron-day-live-${id}`,
      args: [{ scheduleName: 'synthetic-day', cronExpression: '0 0 * * *', memberQuery: { hasRteEnabled: true }, pageSize: 500, maxConcurrentShards: 4, scheduledTime: new Date(start).toISOString() }],
    });
    arm.cron!.wallMs = Date.now() - t0;
  };
  arm.close = async () => {
    // Warming jobs still held for a time after the day: terminated (nothing else would ever run them).
    await Promise.all([...new Set(arm.jobIds)].map((j) => p.temporal.workflow.getHandle(j).terminate('synthetic day over').catch(() => undefined)));
    await consumer.stop().catch(() => undefined);
    await cronWorker.stop();
    await publisher.close();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, dlqTopic, consumerDlq] }).catch(() => undefined);
    await admin.disconnect();
    await p.close();
  };
  return arm;
}

/** Members the simulator answers with coverage (active or inactive) on the first try: no AAA error, no mock, known payer. */
const answeredMembers = (rs: readonly MemberRecord[]): MemberRecord[] =>
  rs.filter((m) => verdictFor(simKeyOf(m)).kind !== 'aaa' && !MOCK_MEMBERS[simKeyOf(m)] && !['TEST', 'BADPAYER'].includes(m.payerId));

const sleepUntil = (wall: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, wall - Date.now())));
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : 0;
};

interface Metrics {
  reads: number;
  hits: number;
  sessionsWaited: number;
  sessions: number;
  stale: number;
  rtRush: number;
  rtDay: number;
  batchRush: number;
  batchDay: number;
  warmsExecuted: number;
  warmsUsed: number;
  waitP50S: number;
  waitP95S: number;
  failed: number;
}
const callsOf = (m: Metrics): number => m.rtDay + m.batchDay;
const fromFast = (c: ArmCounts): Metrics => ({
  reads: c.reads,
  hits: c.hits,
  sessionsWaited: c.sessionsWaited,
  sessions: c.sessions,
  stale: c.staleServed,
  rtRush: c.realtimeCallsRush.interactive + c.realtimeCallsRush.warm + c.realtimeCallsRush.swr,
  rtDay: c.realtimeCalls.interactive + c.realtimeCalls.warm + c.realtimeCalls.swr,
  batchRush: c.batchItemsRush,
  batchDay: c.batchItems,
  warmsExecuted: c.warmsExecuted,
  warmsUsed: c.warmsUsed,
  waitP50S: c.waitP50Ms / 1000,
  waitP95S: c.waitP95Ms / 1000,
  failed: 0,
});

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const tStart = Date.now();
  console.log(`synthetic day, LIVE fidelity: ${members} members, seed ${seed}, day seed ${daySeed}, 24 h day in ${dayMinutes} min (time scale 1/${(1 / scale).toFixed(0)}), arms ${arms.join(', ')}; load average ${loadavg()[0]!.toFixed(2)}`);

  // ---- the live platforms (one per arm), each with its own copy of the seeded population
  const live: LiveArm[] = [];
  for (const a of arms) live.push(await startArm(a));
  const records = live[0]!.p.members;
  const plain = new Set(answeredMembers(records).map((m) => m.memberId));
  const indexOf = new Map(records.map((m) => [simKeyOf(m), Number(m.memberId.slice(2)) - 1]));
  for (const a of live) await a.p.directory.pool.query('UPDATE members SET rte_enabled = false WHERE NOT (member_id = ANY($1::text[]))', [[...plain]]);
  const setupS = (Date.now() - tStart) / 1000;

  // ---- the fast model's day on the same population, with the same mask
  const isPlain = (i: number): boolean => plain.has(memberIdOf(i + 1));
  const predictions = new PredictionTable(members, ref);
  const day = loadDay({ seed, members, referenceTime: new Date(ref), daySeed, onObserved: (m) => predictions.observe({ ...m, rteEnabled: m.rteEnabled && isPlain(m.index) }) });
  for (let i = 0; i < members; i++) if (!isPlain(i)) day.rteEnabled[i] = 0;
  const world: SimWorld = buildWorld(day, { extraReadsPerSession: 0, seed: daySeed });
  const fastOpts: SimOptions = {
    ...DEFAULT_SIM_OPTIONS,
    successTtlMs: (SUCCESS_TTL_S * 1000) / scale,
    errorTtlMs: (ERROR_TTL_S * 1000) / scale,
    seed: daySeed,
    router: intelligentRoute,
    mode: 'DEFAULT',
  };
  const rushOf = (m: number, t: number): boolean => {
    const h = Math.floor(((((t + world.offsetMs[m]!) % DAY) + DAY) % DAY) / HOUR);
    return h >= fastOpts.rushFromHour && h < fastOpts.rushToHour;
  };
  const shipped: WarmOrder[] = shippedOrders(predictions);
  const fastReactive = simulateArm(world, [], fastOpts);
  const fastShipped = simulateArm(world, shipped, fastOpts);
  const rteMembers = day.rteEnabled.reduce((n, x) => n + x, 0);
  console.log(`  population: ${rteMembers} RTE-enabled members the simulator answers with coverage (${members - plain.size} members with an AAA answer switched off for RTE in both fidelities); setup ${setupS.toFixed(0)} s`);
  console.log(`  the day: ${world.sessionAt.length} sessions of RTE-enabled members, ${world.readAt.length} reads (1 per session); fast shipped policy routes ${shipped.length} members`);

  // ---- the starting cache, mapped onto the wall clock
  const w0 = Date.now() + 5_000;
  const toWall = (t: number): number => Math.round(w0 + (t - ref) * scale); // whole ms, as the platform writes them
  let startEntries = 0;
  for (const a of live) {
    const cache = createConfiguredEligibilityCache(a.p.redis, a.p.config, silentLogger());
    startEntries = 0;
    for (let i = 0; i < members; i++) {
      if (day.rteEnabled[i] !== 1 || world.startOutcome[i] === 0) continue;
      const ok = world.startOutcome[i] === 1;
      await cache.put({ memberId: memberIdOf(i + 1), operation: OP, summary: ok ? summary : payerError, outcome: ok ? 'success' : 'error', source: 'realtime', fetchedAt: toWall(world.startFetchedAt[i]!) });
      startEntries++;
    }
  }
  console.log(`  start cache: ${startEntries} entries written per arm (history before the reference time, times mapped onto the wall clock)`);

  // ---- the day: member-cron at W0 (shipped), the sessions' reads at their scaled times
  const clients = await Promise.all(
    live.map(async (a) => ({ client: createClient(EligibilityService, createConnectTransport({ baseUrl: a.p.apiUrl, httpVersion: '1.1' })), token: await a.p.token(['rte:eligibility:read'], 'synthetic-day-app') })),
  );
  await sleepUntil(w0);
  const cronRuns = live.filter((a) => a.startDay).map((a) => a.startDay!(w0));
  const inflight: Promise<void>[] = [];
  const failures = new Map<string, number>();
  const progressEvery = Math.max(1, Math.floor(world.readAt.length / 10));
  for (let r = 0; r < world.readAt.length; r++) {
    const at = toWall(world.readAt[r]!);
    await sleepUntil(at);
    const memberId = memberIdOf(world.sessionMember[world.readSession[r]!]! + 1);
    live.forEach((a, j) => {
      const { client, token } = clients[j]!;
      const t0 = Date.now();
      inflight.push(
        client
          .checkEligibility({ memberId, operation: OP, cacheControl: CacheControl.DEFAULT }, { headers: { authorization: `Bearer ${token}` }, timeoutMs: 120_000 })
          .then((res) => {
            a.reads[r] = {
              status: res.cacheStatus,
              source: res.cacheMetadata?.source ?? '',
              fetchedAt: res.cacheMetadata?.fetchedAt ? timestampMs(res.cacheMetadata.fetchedAt) : 0,
              waitMs: Date.now() - t0,
            };
          })
          .catch((err: unknown) => {
            a.reads[r] = { status: 'FAILED', source: '', fetchedAt: 0, waitMs: Date.now() - t0 };
            const k = `${a.name}: ${(err instanceof Error ? err.message : String(err)).slice(0, 120)}`;
            failures.set(k, (failures.get(k) ?? 0) + 1);
          }),
      );
    });
    if (r % progressEvery === 0) console.log(`  ... read ${r}/${world.readAt.length} at day time +${((world.readAt[r]! - ref) / HOUR).toFixed(1)} h, late ${Date.now() - at} ms`);
  }
  const dayEndWall = toWall(ref + DAY);
  await sleepUntil(dayEndWall);
  await Promise.all(inflight);
  await Promise.all(cronRuns);
  const dayWallS = (Date.now() - w0) / 1000;
  for (const [k, n] of failures) console.log(`  failed reads: ${n} x ${k}`);

  // ---- live metrics
  const liveMetrics = async (a: LiveArm): Promise<Metrics> => {
    const dayT = (wall: number): number => ref + (wall - w0) / scale;
    let rtRush = 0;
    let rtDay = 0;
    let batchRush = 0;
    let batchDay = 0;
    for (const c of a.sim.checks) {
      const m = indexOf.get(c.memberKey);
      const t = dayT(c.atMs);
      if (m === undefined || t >= ref + DAY) continue;
      const rush = rushOf(m, t);
      if (c.path === 'realtime') {
        rtDay++;
        if (rush) rtRush++;
      } else {
        batchDay++;
        if (rush) batchRush++;
      }
    }
    let hits = 0;
    let waited = 0;
    let stale = 0;
    let failed = 0;
    const waits: number[] = [];
    const used = new Set<string>();
    a.reads.forEach((x, r) => {
      if (!x || x.status === 'FAILED') {
        failed++;
        return;
      }
      if (x.status === CacheStatus.HIT) {
        hits++;
        if (x.source === 'warming') used.add(`${world.sessionMember[world.readSession[r]!]}@${x.fetchedAt}`);
      } else if (x.status === CacheStatus.STALE) stale++;
      else if (x.status === CacheStatus.MISS) {
        waited++;
        waits.push(x.waitMs / scale / 1000);
      }
    });
    let warmsExecuted = 0;
    if (a.name === 'shipped') {
      const rows = await a.p.directory.pool.query<{ n: string }>("SELECT count(*) AS n FROM cache_warms WHERE outcome = 'warmed'");
      warmsExecuted = Number(rows.rows[0]!.n);
    }
    return {
      reads: a.reads.length,
      hits,
      sessionsWaited: waited,
      sessions: world.sessionAt.length,
      stale,
      rtRush,
      rtDay,
      batchRush,
      batchDay,
      warmsExecuted,
      warmsUsed: used.size,
      waitP50S: quantile(waits, 0.5),
      waitP95S: quantile(waits, 0.95),
      failed,
    };
  };
  const liveBy = new Map<ArmName, Metrics>();
  for (const a of live) liveBy.set(a.name, await liveMetrics(a));
  const shippedLive = live.find((a) => a.name === 'shipped');
  const warmRows = shippedLive
    ? (await shippedLive.p.directory.pool.query<{ path: string; outcome: string; n: string }>('SELECT path, outcome, count(*) AS n FROM cache_warms GROUP BY 1, 2 ORDER BY 1, 2')).rows
    : [];

  // ---- side by side
  const fastBy = new Map<ArmName, Metrics>([
    ['reactive', fromFast(fastReactive.counts)],
    ['shipped', fromFast(fastShipped.counts)],
  ]);
  const ceilingHits = (warms: number): number => simulateArm(world, ceilingOrders(fastReactive.trace, warms, rushOf), fastOpts).counts.hits;
  console.log('');
  console.log(`  day replayed in ${dayWallS.toFixed(0)} s wall (${(dayWallS / 60).toFixed(1)} min; nominal ${dayMinutes} min); load average ${loadavg()[0]!.toFixed(2)}`);
  if (shippedLive?.cron?.result) {
    const c = shippedLive.cron.result;
    console.log(
      `  member-cron run: ${c.status}, matched ${c.matched}, emitted ${c.emitted}, dead-lettered ${c.deadLettered}, in ${((shippedLive.cron.wallMs ?? 0) / 1000).toFixed(1)} s wall = ${((shippedLive.cron.wallMs ?? 0) / scale / 60_000).toFixed(0)} min of day time; ` +
        `consumer routed ${shippedLive.routed} members (fast: ${shipped.length}) into ${new Set(shippedLive.jobIds).size} warming jobs`,
    );
    console.log(`  live cache_warms: ${warmRows.map((r) => `${r.path}/${r.outcome} ${r.n}`).join(', ')}`);
  }
  const head = ['arm', 'fidelity', 'hit/read', 'waited sess', 'RT rush/day', 'batch rush/day', 'warms exec', 'precision', 'capture', 'calls/day', '$/day', 'wait p50/p95 (day s)', 'failed reads'];
  const table: string[][] = [head];
  const rowOf = (name: ArmName, fid: string, m: Metrics, capture: number): string[] => [
    name,
    fid,
    pct(m.hits / Math.max(1, m.reads)),
    pct(m.sessionsWaited / Math.max(1, m.sessions)),
    `${m.rtRush}/${m.rtDay}`,
    `${m.batchRush}/${m.batchDay}`,
    String(m.warmsExecuted),
    m.warmsExecuted ? pct(m.warmsUsed / m.warmsExecuted) : '-',
    Number.isNaN(capture) ? '-' : capture.toFixed(2),
    String(callsOf(m)),
    (callsOf(m) * PRICE).toFixed(1),
    `${m.waitP50S.toFixed(1)} / ${m.waitP95S.toFixed(1)}`,
    String(m.failed),
  ];
  const captureOf = (arm: Metrics, reactive: Metrics | undefined): number => (reactive && arm.warmsExecuted > 0 ? (arm.hits - reactive.hits) / Math.max(1, ceilingHits(arm.warmsExecuted) - reactive.hits) : NaN);
  const agreement: string[] = [];
  for (const name of arms) {
    const l = liveBy.get(name)!;
    const f = fastBy.get(name)!;
    const capL = name === 'shipped' ? captureOf(l, liveBy.get('reactive') ?? fastBy.get('reactive')) : NaN;
    const capF = name === 'shipped' ? captureOf(f, fastBy.get('reactive')) : NaN;
    table.push(rowOf(name, 'live', l, capL));
    table.push(rowOf(name, 'fast', f, capF));
    const hitDiff = 100 * (l.hits / Math.max(1, l.reads) - f.hits / Math.max(1, f.reads));
    const waitDiff = 100 * (l.sessionsWaited / Math.max(1, l.sessions) - f.sessionsWaited / Math.max(1, f.sessions));
    const rushDiff = (l.rtRush - f.rtRush) / Math.max(1, f.rtRush);
    const callsDiff = (callsOf(l) - callsOf(f)) / Math.max(1, callsOf(f));
    const ok = Math.abs(hitDiff) <= HIT_TOLERANCE_PP && Math.abs(rushDiff) <= RUSH_TOLERANCE;
    agreement.push(
      `  ${name}: hit/read ${hitDiff >= 0 ? '+' : ''}${hitDiff.toFixed(2)} pp (±${HIT_TOLERANCE_PP}), waited sessions ${waitDiff >= 0 ? '+' : ''}${waitDiff.toFixed(2)} pp, ` +
        `RT rush calls ${l.rtRush} vs ${f.rtRush} = ${rushDiff >= 0 ? '+' : ''}${(100 * rushDiff).toFixed(1)} % (±${100 * RUSH_TOLERANCE} %), calls/day ${callsDiff >= 0 ? '+' : ''}${(100 * callsDiff).toFixed(1)} %, ` +
        `warms executed ${l.warmsExecuted} vs ${f.warmsExecuted}${Number.isNaN(capL) ? '' : `, capture ${capL.toFixed(2)} vs ${capF.toFixed(2)}`}: ${ok ? 'AGREE' : 'OUTSIDE TOLERANCE'}`,
    );
  }
  const widths = head.map((_, j) => Math.max(...table.map((row) => row[j]!.length)));
  console.log('');
  for (const row of table) console.log('  ' + row.map((v, j) => (j < 2 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join('  '));
  console.log('');
  console.log('  live/fast agreement (live - fast; tolerance issue 11: ±2 pp hit/read, ±10 % real-time rush calls):');
  for (const line of agreement) console.log(line);
  console.log('');
  console.log('  capture: (arm hits - reactive hits) / (ceiling hits - reactive hits); the ceiling (perfect foresight at the arm\'s executed warms) is the fast');
  console.log('  model\'s oracle in both columns, the reactive hits each fidelity\'s own. RT rush: Stedi real-time calls started 6-9 AM member-local (the');
  console.log("  simulator's own record, mapped back to day time); waits in day seconds (live: read latency / s, incl. unscaled platform overhead).");
  console.log(`  total wall ${((Date.now() - tStart) / 60_000).toFixed(1)} min`);
  for (const a of live) await a.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
