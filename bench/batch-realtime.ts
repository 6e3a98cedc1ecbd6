/**
 * Real-time batch benchmark (issue #5 "How we will know"):
 *   1. a 1,000-member REALTIME batch against the simulator: wall time ÷ the 15-slot floor (members × mean latency ÷ 15),
 *      target ≤ 1.05;
 *   2. the orchestration ceiling: the same batch with ~zero simulated latency → members/s through the whole workflow
 *      path, and history events per member.
 *
 * Needs the dev stack's Temporal server (`./stack/stack up --infra`). Prints figures; asserts nothing.
 *   npx tsx bench/batch-realtime.ts [--members 1000] [--latency-ms 13500] [--time-scale 0.05]
 * The floor uses the simulator's effective mean latency (latency × time scale); a lognormal sigma of 0.5 makes the
 * mean the right divisor. A larger time scale makes orchestration overhead relatively smaller (real Stedi: 1).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../lib/config';
import { startBatch, startBatchHarness } from './batch-harness';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function historyEvents(client: Client, workflowId: string): Promise<{ events: number; runs: number }> {
  let events = 0;
  let runs = 0;
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    events += w.historyLength;
    runs += 1;
  }
  return { events, runs };
}

async function runOnce(label: string, members: number, latencyMs: number, timeScale: number, sigma: number): Promise<void> {
  const config = loadConfig();
  const connection = await Connection.connect({ address: config.temporal.address });
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const h = await startBatchHarness({ members, latencyMeanMs: latencyMs, latencySigma: sigma, timeScale });
  const taskQueue = `bench-batch-${randomUUID().slice(0, 8)}`;
  const worker = await h.createWorker(native, config.temporal.namespace, taskQueue);
  try {
    const ids = h.members.map((m) => m.memberId);
    const t0 = Date.now();
    const result = await worker.runUntil(async () => {
      const handle = await startBatch(client, h, {
        taskQueue,
        clientService: 'bench',
        clientJobId: `${label}-${randomUUID().slice(0, 8)}`,
        memberIds: ids,
        options: { strategy: 'REALTIME_ONLY', cacheMode: 'BYPASS_CACHE', maxConcurrentRequests: 15, retry: { maxAttempts: 1, initialIntervalMs: 100, maxIntervalMs: 100, backoffMultiplier: 1 } },
      });
      return handle.result();
    });
    const wallMs = Date.now() - t0;
    const effLatency = latencyMs * timeScale;
    const floorMs = (members * effLatency) / 15;
    const hist = await historyEvents(client, result.batchId);
    const stats = await h.simStats();
    console.log(
      JSON.stringify({
        run: label,
        members,
        status: result.status,
        completed: result.counters.completed,
        failed: result.counters.failed,
        simPeakInFlight: stats.peak,
        meanLatencyMs: effLatency,
        wallSeconds: +(wallMs / 1000).toFixed(2),
        floorSeconds: +(floorMs / 1000).toFixed(2),
        wallOverFloor: floorMs > 0 ? +(wallMs / floorMs).toFixed(3) : null,
        membersPerSecond: +((members / wallMs) * 1000).toFixed(1),
        historyEvents: hist.events,
        workflowRuns: hist.runs,
        historyEventsPerMember: +(hist.events / members).toFixed(2),
      }),
    );
  } finally {
    await h.stop();
    await native.close();
    await connection.close();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const members = arg('members', 1000);
  const latency = arg('latency-ms', 13_500);
  const scale = arg('time-scale', 0.05);
  await runOnce('slot-floor', members, latency, scale, 0.5);
  // Orchestration ceiling: ~1 ms per check, no spread.
  await runOnce('orchestration-ceiling', members, 1, 1, 0.0001);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
