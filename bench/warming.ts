/**
 * Cache-warming benchmark (issue 9 "How we will know"), on the REAL platform (test/helpers/platform.ts: Temporal dev
 * server, a worker from the production composition root, Redis slot pool and cache, PostgreSQL, Kafka, the API) and
 * the Stedi simulator at a compressed time scale.
 *
 *   1. URGENT through real-time: 1,000 members via WarmCache (INTELLIGENT, empty cache → every member real-time in
 *      the slot pool's `warming` class). Prints wall ÷ slot floor (members × mean latency ÷ 12 warming-usable slots,
 *      and ÷ 15), the simulator's peak in flight (≤ 15), and the p95 slot wait of an interactive stream running
 *      beside it vs the same stream alone.
 *   2. PRELOAD through the batch API: 10,000 members staged and started through the intake path (INTELLIGENT, empty
 *      cache → every member batch API). Prints Stedi batch submissions and items, Temporal history events per member
 *      (parent + child batch, all runs), wall time vs the simulator's batch latency.
 *
 *   npx tsx bench/warming.ts [--time-scale 0.01] [--urgent 1000] [--batch 10000]
 * Prints figures; asserts nothing.
 */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createPgMemberListStore } from '../activities/batch/pg-stores';
import { createRedisSlotPool } from '../activities/slot-pool';
import { startCacheWarmingJob } from '../lib/temporal/warming-jobs';
import { CacheWarmingService, WarmCacheRequest_Priority as P } from '../gen/rte/v1/warming_pb';
import { silentLogger } from '../lib/logger';
import { startTestPlatform, type TestPlatform } from '../test/helpers/platform';
import { warmingMemberListRef, warmingWorkflowId, type WarmingStatusView } from '../workflows/warming.defs';
import { historyEvents, simCounts } from './batch-harness';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const p95 = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(0.95 * s.length))]!;
};

/** Two interactive "checks" at a time, each holding a slot for the sim's mean latency, recording the slot wait. */
function interactiveStream(p: TestPlatform, holdMs: number): { stop(): Promise<number[]> } {
  const redis = new Redis(p.config.redisUrl);
  const pool = createRedisSlotPool({ redis, keyPrefix: p.config.redisKeyPrefix, limit: p.config.slots.total, reservedInteractive: p.config.slots.reservedInteractive });
  const waits: number[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const t0 = performance.now();
      await pool.withSlot({ kind: 'interactive' }, async () => {
        waits.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, holdMs));
      });
      await new Promise((r) => setTimeout(r, holdMs));
    }
  };
  const loops = [loop(), loop()];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
      redis.disconnect();
      return waits;
    },
  };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const timeScale = arg('time-scale', 0.01);
  const urgent = arg('urgent', 1_000);
  const batch = arg('batch', 10_000);
  const meanLatencyMs = 13_500 * timeScale;
  const p = await startTestPlatform({
    population: urgent + batch,
    sim: { timeScale, logger: silentLogger() },
    env: { BATCH_POLL_INITIAL_MS: String(Math.max(200, Math.round(120_000 * timeScale))), BATCH_POLL_MAX_MS: String(Math.max(1_000, Math.round(240_000 * timeScale))) },
  });
  try {
    const ids = p.members.map((m) => m.memberId);
    const token = await p.token(['rte:warming:write'], 'bench');
    const client = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));

    // -- 0. interactive alone ------------------------------------------------------------------------------
    const alone = interactiveStream(p, meanLatencyMs);
    await new Promise((r) => setTimeout(r, 5_000));
    const aloneWaits = await alone.stop();

    // -- 1. URGENT real-time --------------------------------------------------------------------------------
    p.sim.resetStats();
    const beside = interactiveStream(p, meanLatencyMs);
    const t1 = Date.now();
    const r1 = await client.warmCache({ memberIds: ids.slice(0, urgent), priority: P.URGENT, source: 'bench' }, { headers: { authorization: `Bearer ${token}` } });
    const v1 = (await p.temporal.workflow.getHandle(r1.warmingJobId).result()) as WarmingStatusView;
    const wall1 = (v1.finishedAtMs ?? Date.now()) - t1;
    const besideWaits = await beside.stop();
    const s1 = simCounts(p.sim);
    const warmSlots = p.config.slots.total - p.config.slots.reservedInteractive;
    console.log(
      JSON.stringify({
        scenario: 'urgent-realtime',
        members: urgent,
        timeScale,
        status: v1.status,
        outcomes: v1.counters.outcomes,
        wallMs: wall1,
        wallOverFloorWarmingSlots: +(wall1 / ((urgent * meanLatencyMs) / warmSlots)).toFixed(3),
        wallOverFloor15: +(wall1 / ((urgent * meanLatencyMs) / 15)).toFixed(3),
        simRealtimeCalls: s1.realtimeCalls,
        simBatchItems: s1.batchItems,
        peakInFlight: s1.peakInFlight,
        interactiveP95WaitMs: { alone: +p95(aloneWaits).toFixed(1), besideWarming: +p95(besideWaits).toFixed(1), samplesAlone: aloneWaits.length, samplesBeside: besideWaits.length },
      }),
    );

    // -- 2. batch API ---------------------------------------------------------------------------------------
    p.sim.resetStats();
    const jobId = warmingWorkflowId('bench', `batch-${randomUUID().slice(0, 8)}`);
    const listRef = warmingMemberListRef(jobId);
    const batchIds = ids.slice(urgent, urgent + batch);
    const t2 = Date.now();
    await createPgMemberListStore(p.directory.pool).write(listRef, 0, batchIds);
    await startCacheWarmingJob(
      p.temporal,
      {
        jobId,
        source: 'bench',
        priority: 'PRELOAD',
        strategy: 'INTELLIGENT',
        operations: ['check_eligibility'],
        selector: { kind: 'list', listRef, total: batchIds.length },
        acceptedAtMs: Date.now(),
        tuning: { batch: { pollBackoff: { initialMs: Math.max(200, Math.round(120_000 * timeScale)), maxMs: 5_000, multiplier: 2 } } },
      },
      { taskQueue: p.config.temporal.taskQueue },
    );
    const v2 = (await p.temporal.workflow.getHandle(jobId).result()) as WarmingStatusView;
    const wall2 = (v2.finishedAtMs ?? Date.now()) - t2;
    const s2 = simCounts(p.sim);
    let events = 0;
    let runs = 0;
    for (const id of [jobId, `${jobId}/p0/check_eligibility/batch_api`]) {
      const h = await historyEvents(p.temporal, id);
      events += h.events;
      runs += h.runs;
    }
    console.log(
      JSON.stringify({
        scenario: 'preload-batch-api',
        members: batch,
        timeScale,
        status: v2.status,
        outcomes: v2.counters.outcomes,
        wallMs: wall2,
        simBatchLatencyMs: 120_000 * timeScale,
        wallOverSimBatchLatency: +(wall2 / (120_000 * timeScale)).toFixed(2),
        stediBatchSubmissions: s2.batchesAccepted,
        stediBatchItems: s2.batchItems,
        simRealtimeCalls: s2.realtimeCalls,
        historyEvents: events,
        workflowRuns: runs,
        historyEventsPerMember: +(events / batch).toFixed(4),
      }),
    );
  } finally {
    await p.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
