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
 *     [--skip-reserved] [--floor-only] [--ceiling-only] [--skip-per-member] [--layout split|one-process] [--prof-dir DIR]
 * Layout (printed per run): `split` (default) runs the simulator and the worker as their own OS processes, as Stedi and
 * a production worker are; `one-process` (the layout of the figures before issue 14's third pass) runs simulator,
 * worker and API in this process, so the simulator's HTTP server shared the worker's event loop. A measurement
 * choice, not a platform change.
 * Wall time is the workflow's own (submitted → finished, from GetBatchStatus), so API polling does not inflate it.
 * The floor uses the simulator's mean latency × time scale (lognormal, sigma 0.5: the mean is the right divisor).
 * Every member is one Stedi call (retries off), so the floor is exact in calls too.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus } from '../gen/rte/v1/batch_pb';
import { CacheControl } from '../gen/rte/v1/common_pb';
import { silentLogger } from '../lib/logger';
import type { StediSimOptions } from '../stedi-sim/server';
import { startTestPlatform } from '../test/helpers/platform';
import { batchClient, historyEvents, simCounts, simCountsOf, spawnSimProcess, spawnWorkerProcess, waitForBatchEnd } from './batch-harness';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function argStr(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const load = () => os.loadavg().map((x) => +x.toFixed(2));

/**
 * CPU seconds a process has used (user + system, Linux /proc; undefined elsewhere). On a shared machine members/s moves
 * with everyone else's load; CPU per member of the worker, the simulator and Redis moves far less, so A/B runs print it.
 */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Redis server CPU seconds (INFO cpu; every client of the server counts, so only this bench's runs should use it). */
async function redisCpuSeconds(p: { redis: { info(section: string): Promise<string> } }): Promise<number | undefined> {
  const info = await p.redis.info('cpu');
  const val = (k: string): number => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  const sec = val('used_cpu_user') + val('used_cpu_sys');
  return Number.isFinite(sec) ? sec : undefined;
}

/** Commands the Redis server ran, by name (INFO commandstats; every client of the server counts). */
async function redisCommands(p: { redis: { info(section: string): Promise<string> } }): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await p.redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Commands per member between two readings, the busiest first (those at ≥ 0.01 per member). */
function commandsPerMember(before: Map<string, number>, after: Map<string, number>, members: number): Record<string, number> {
  const rows = [...after].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / members] as const).filter(([, v]) => v >= 0.01);
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +v.toFixed(2)]));
}

/** ms of CPU per member between two readings, 3 decimals. */
function cpuMsPerMember(before: number | undefined, after: number | undefined, members: number): number | undefined {
  return before === undefined || after === undefined ? undefined : +(((after - before) * 1000) / members).toFixed(3);
}

type Layout = 'split' | 'one-process';
const LAYOUTS: Record<Layout, string> = {
  split:
    'three OS processes: the Stedi simulator (stedi-sim/main.ts, as a remote Stedi), the worker (workers/main.ts, as in production, LOG_LEVEL info), and this bench (API, Temporal/Redis/PostgreSQL clients)',
  'one-process': 'one OS process: simulator, worker (silent logger) and API share this bench\'s event loop (the layout before issue 14\'s third pass)',
};

async function runOnce(
  label: string,
  o: { members: number; latency: StediSimOptions['latency'] & { meanMs: number }; timeScale: number; reservedInteractive: number; chunkMembers?: number; layout: Layout },
): Promise<void> {
  const loadBefore = load();
  const split = o.layout === 'split';
  // --prof-dir DIR: CPU profiles of the simulator and worker processes (split layout), written when they exit.
  const profDir = argStr('prof-dir');
  const profEnv: Record<string, string> = profDir ? { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --cpu-prof --cpu-prof-dir=${profDir}`.trim() } : {};
  const simProc = split
    ? await spawnSimProcess({
        STEDI_SIM_LATENCY_MEAN_MS: String(o.latency.meanMs),
        STEDI_SIM_LATENCY_SIGMA: String(o.latency.sigma ?? 0.5),
        ...(o.latency.minMs !== undefined ? { STEDI_SIM_LATENCY_MIN_MS: String(o.latency.minMs) } : {}),
        ...(o.latency.maxMs !== undefined ? { STEDI_SIM_LATENCY_MAX_MS: String(o.latency.maxMs) } : {}),
        STEDI_SIM_TIME_SCALE: String(o.timeScale),
        ...profEnv,
      })
    : undefined;
  const workerEnv = {
    STEDI_SLOTS_RESERVED_INTERACTIVE: String(o.reservedInteractive),
    ...(o.chunkMembers !== undefined ? { BATCH_REALTIME_CHUNK_MEMBERS: String(o.chunkMembers) } : {}),
  };
  let p: Awaited<ReturnType<typeof startTestPlatform>>;
  try {
    p = await startTestPlatform({
      population: o.members,
      sim: { latency: o.latency, timeScale: o.timeScale, logger: silentLogger() },
      ...(split ? { workers: 0 } : {}),
      env: { ...workerEnv, BATCH_SUBMIT_RATE_LIMIT: '1000', ...(simProc ? { STEDI_BASE_URL: simProc.url } : {}) },
    });
  } catch (err) {
    await simProc?.stop();
    throw err;
  }
  const workerProc = split ? spawnWorkerProcess(p, { ...workerEnv, ...profEnv }) : undefined;
  try {
    await workerProc?.ready;
    const c = await batchClient(p, 'bench');
    const memberIds = p.members.map((m) => m.memberId);
    if (simProc) await simProc.resetStats();
    else p.sim.resetStats();
    const cpuBefore = { worker: processCpuSeconds(workerProc?.child.pid), sim: processCpuSeconds(simProc?.child.pid), redis: await redisCpuSeconds(p), bench: process.cpuUsage() };
    const commandsBefore = await redisCommands(p);
    const t0 = Date.now();
    const r = await c.submitBatch({
      clientJobId: `${label}-${randomUUID().slice(0, 8)}`,
      memberSelector: { case: 'memberIds', value: { memberIds } },
      cacheControl: CacheControl.BYPASS_CACHE,
      options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 15, retryConfig: { maxAttempts: 1 } },
    });
    const end = await waitForBatchEnd(c, r.batchId, 60 * 60_000, 100);
    const observedMs = Date.now() - t0;
    const cpuAfter = { worker: processCpuSeconds(workerProc?.child.pid), sim: processCpuSeconds(simProc?.child.pid), redis: await redisCpuSeconds(p), bench: process.cpuUsage(cpuBefore.bench) };
    const commandsAfter = await redisCommands(p);
    const wallMs = timestampMs(end.finishedAt!) - timestampMs(end.submittedAt!);
    const meanLatencyMs = o.latency.meanMs * o.timeScale;
    const floor15Ms = (o.members * meanLatencyMs) / 15;
    const batchSlots = 15 - o.reservedInteractive;
    const floorBatchMs = (o.members * meanLatencyMs) / batchSlots;
    const hist = await historyEvents(p.temporal, r.batchId);
    const sim = simProc ? simCountsOf(await simProc.stats()) : simCounts(p.sim);
    console.log(
      JSON.stringify({
        run: label,
        layout: o.layout,
        processes: LAYOUTS[o.layout],
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
        // Submit → end as seen through the API (the bench polls every 100 ms); Redis counts every client of the server.
        cpuMsPerMember: {
          ...(split ? { worker: cpuMsPerMember(cpuBefore.worker, cpuAfter.worker, o.members), simulator: cpuMsPerMember(cpuBefore.sim, cpuAfter.sim, o.members) } : {}),
          [split ? 'bench (API, client)' : 'bench (worker, simulator, API, client)']: +((cpuAfter.bench.user + cpuAfter.bench.system) / 1000 / o.members).toFixed(3),
          redis: cpuMsPerMember(cpuBefore.redis, cpuAfter.redis, o.members),
        },
        redisCommandsPerMember: commandsPerMember(commandsBefore, commandsAfter, o.members),
        loadAvgBefore: loadBefore,
        loadAvgAfter: load(),
        cpus: os.cpus().length,
      }),
    );
  } finally {
    await workerProc?.stop();
    await p.close();
    await simProc?.stop();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const members = arg('members', 1000);
  const latencyMs = arg('latency-ms', 13_500);
  const timeScale = arg('time-scale', 0.05);
  const latency = { meanMs: latencyMs, sigma: 0.5 };
  const ceilingOnly = process.argv.includes('--ceiling-only');
  const layoutArg = argStr('layout') ?? 'split';
  if (!(layoutArg in LAYOUTS)) throw new Error(`--layout: split or one-process, not '${layoutArg}'`);
  const layout = layoutArg as Layout;
  if (!ceilingOnly) {
    await runOnce('slot-floor', { members, latency, timeScale, reservedInteractive: 0, layout });
    if (process.argv.includes('--floor-only')) return;
    if (!process.argv.includes('--skip-reserved')) await runOnce('slot-floor-3-reserved', { members, latency, timeScale, reservedInteractive: 3, layout });
  }
  // Orchestration ceiling: ~1 ms per check, no spread; one activity per member ("before"), then chunks (issue 14).
  const ceilingMembers = arg('ceiling-members', members);
  const fast = { meanMs: 1, sigma: 0, minMs: 0, maxMs: 1 };
  if (!process.argv.includes('--skip-per-member')) await runOnce('orchestration-ceiling-per-member', { members: ceilingMembers, latency: fast, timeScale: 1, reservedInteractive: 0, chunkMembers: 0, layout });
  await runOnce('orchestration-ceiling-chunked', { members: ceilingMembers, latency: fast, timeScale: 1, reservedInteractive: 0, chunkMembers: arg('chunk-members', 500), layout });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
