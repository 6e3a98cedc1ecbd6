/**
 * Real-time batch benchmark (issue #5 "How we will know"), on the REAL platform (test/helpers/platform.ts: Temporal
 * dev server, a worker from the production composition root with the Redis slot pool and cache, PostgreSQL
 * directory and batch stores, Kafka, the real API) and the Stedi simulator. Each batch goes in through SubmitBatch.
 *
 *   1. slot floor: a 1,000-member REALTIME batch; wall time ÷ the 15-slot floor (members × mean latency ÷ 15),
 *      target ≤ 1.05. Run with no interactive reservation (STEDI_SLOTS_RESERVED_INTERACTIVE=0, so batch may use all
 *      15 slots) and with the production default of 3 reserved (batch floor = members × latency ÷ 12).
 *   2. orchestration ceiling: the same batch with ~1 ms simulated latency → members/s through the whole workflow
 *      path, and Temporal history events per member (all runs, continue-as-new included). Run twice: with one
 *      activity per member (BATCH_REALTIME_CHUNK_MEMBERS=0, the floor of issue 14's "before") and with chunked
 *      dispatch (the default, issue 14 target ≥ 500 members/s and ≤ 0.05 events per member).
 *
 * Needs the dev stack (`./stack/stack up --infra`). Prints one JSON line per run; asserts nothing.
 *   npx tsx bench/batch-realtime.ts [--members 1000] [--ceiling-members 5000] [--latency-ms 13500] [--time-scale 0.05]
 *     [--skip-reserved] [--floor-only] [--ceiling-only] [--skip-per-member]
 * Wall time is the workflow's own (submitted → finished, from GetBatchStatus), so API polling does not inflate it.
 * The floor uses the simulator's mean latency × time scale (lognormal, sigma 0.5: the mean is the right divisor).
 * Every member is one Stedi call (retries off), so the floor is exact in calls too.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus } from '../gen/rte/v1/batch_pb';
import { CacheControl } from '../gen/rte/v1/common_pb';
import { silentLogger } from '../lib/logger';
import type { StediSimOptions } from '../stedi-sim/server';
import { startTestPlatform } from '../test/helpers/platform';
import { batchClient, historyEvents, simCounts, waitForBatchEnd } from './batch-harness';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const load = () => os.loadavg().map((x) => +x.toFixed(2));

async function runOnce(
  label: string,
  o: { members: number; latency: StediSimOptions['latency'] & { meanMs: number }; timeScale: number; reservedInteractive: number; chunkMembers?: number },
): Promise<void> {
  const loadBefore = load();
  const p = await startTestPlatform({
    population: o.members,
    sim: { latency: o.latency, timeScale: o.timeScale, logger: silentLogger() },
    env: {
      STEDI_SLOTS_RESERVED_INTERACTIVE: String(o.reservedInteractive),
      BATCH_SUBMIT_RATE_LIMIT: '1000',
      ...(o.chunkMembers !== undefined ? { BATCH_REALTIME_CHUNK_MEMBERS: String(o.chunkMembers) } : {}),
    },
  });
  try {
    const c = await batchClient(p, 'bench');
    const memberIds = p.members.map((m) => m.memberId);
    p.sim.resetStats();
    const t0 = Date.now();
    const r = await c.submitBatch({
      clientJobId: `${label}-${randomUUID().slice(0, 8)}`,
      memberSelector: { case: 'memberIds', value: { memberIds } },
      cacheControl: CacheControl.BYPASS_CACHE,
      options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 15, retryConfig: { maxAttempts: 1 } },
    });
    const end = await waitForBatchEnd(c, r.batchId, 60 * 60_000, 100);
    const observedMs = Date.now() - t0;
    const wallMs = timestampMs(end.finishedAt!) - timestampMs(end.submittedAt!);
    const meanLatencyMs = o.latency.meanMs * o.timeScale;
    const floor15Ms = (o.members * meanLatencyMs) / 15;
    const batchSlots = 15 - o.reservedInteractive;
    const floorBatchMs = (o.members * meanLatencyMs) / batchSlots;
    const hist = await historyEvents(p.temporal, r.batchId);
    const sim = simCounts(p.sim);
    console.log(
      JSON.stringify({
        run: label,
        members: o.members,
        status: BatchStatus[end.status],
        completed: end.progress!.completed,
        failed: end.progress!.failed,
        stediRealtimeCalls: sim.realtimeCalls,
        simPeakInFlight: sim.peakInFlight,
        reservedInteractive: o.reservedInteractive,
        ...(o.chunkMembers !== undefined ? { chunkMembers: o.chunkMembers } : {}),
        meanLatencyMs,
        wallSeconds: +(wallMs / 1000).toFixed(2),
        observedThroughApiSeconds: +(observedMs / 1000).toFixed(2),
        floor15Seconds: +(floor15Ms / 1000).toFixed(2),
        wallOverFloor15: +(wallMs / floor15Ms).toFixed(3),
        ...(o.reservedInteractive > 0 ? { [`floor${batchSlots}Seconds`]: +(floorBatchMs / 1000).toFixed(2), [`wallOverFloor${batchSlots}`]: +(wallMs / floorBatchMs).toFixed(3) } : {}),
        membersPerSecond: +((o.members / wallMs) * 1000).toFixed(1),
        historyEvents: hist.events,
        workflowRuns: hist.runs,
        historyEventsPerMember: +(hist.events / o.members).toFixed(3),
        historyEventTypes: hist.byType,
        loadAvgBefore: loadBefore,
        loadAvgAfter: load(),
        cpus: os.cpus().length,
      }),
    );
  } finally {
    await p.close();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const members = arg('members', 1000);
  const latencyMs = arg('latency-ms', 13_500);
  const timeScale = arg('time-scale', 0.05);
  const latency = { meanMs: latencyMs, sigma: 0.5 };
  const ceilingOnly = process.argv.includes('--ceiling-only');
  if (!ceilingOnly) {
    await runOnce('slot-floor', { members, latency, timeScale, reservedInteractive: 0 });
    if (process.argv.includes('--floor-only')) return;
    if (!process.argv.includes('--skip-reserved')) await runOnce('slot-floor-3-reserved', { members, latency, timeScale, reservedInteractive: 3 });
  }
  // Orchestration ceiling: ~1 ms per check, no spread; one activity per member ("before"), then chunks (issue 14).
  const ceilingMembers = arg('ceiling-members', members);
  const fast = { meanMs: 1, sigma: 0, minMs: 0, maxMs: 1 };
  if (!process.argv.includes('--skip-per-member')) await runOnce('orchestration-ceiling-per-member', { members: ceilingMembers, latency: fast, timeScale: 1, reservedInteractive: 0, chunkMembers: 0 });
  await runOnce('orchestration-ceiling-chunked', { members: ceilingMembers, latency: fast, timeScale: 1, reservedInteractive: 0, chunkMembers: arg('chunk-members', 500) });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
