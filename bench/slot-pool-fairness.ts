/**
 * Slot pool under saturation: two pool instances (two Redis connections, standing in for two worker
 * processes) keep more work queued than the 15 slots can run, with fake "Stedi calls" of fixed duration.
 *
 * Prints per scenario: slot utilisation = busy slot-seconds ÷ (slots × wall time) (target ≥ 0.95), the
 * share of batch grants won by two client services weighted 2:1, the peak in-flight seen by the work
 * itself, and acquire waits.
 *
 *   npx tsx bench/slot-pool-fairness.ts [--seconds 20] [--work-ms 100] [--redis redis://127.0.0.1:6379]
 *
 * Each batch client runs 30 streams, so either alone could fill the pool (both queues stay backlogged).
 * Scenarios: "mixed" (4 interactive streams + two batch clients, default 3 reserved interactive slots and
 * the adaptive batch rate) and "batch-only" (two batch clients, no reservation, so batch can fill the pool).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createRedisSlotPool, type SlotPool, type SlotRequest } from '../activities/slot-pool';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    'work-ms': { type: 'string', default: '100' },
    redis: { type: 'string', default: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' },
    scenario: { type: 'string', default: 'all' },
  },
});
const SECONDS = Number(values.seconds);
const WORK_MS = Number(values['work-ms']);
const LIMIT = 15;
const CLIENT_WEIGHTS = { lab: 2, pharmacy: 1 };

interface Scenario {
  name: string;
  reservedInteractive: number;
  interactiveStreams: number;
  batchStreamsPerClient: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'mixed', reservedInteractive: 3, interactiveStreams: 4, batchStreamsPerClient: 30 },
  { name: 'batch-only', reservedInteractive: 0, interactiveStreams: 0, batchStreamsPerClient: 30 },
];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(s: Scenario): Promise<void> {
  const prefix = `bench:${randomBytes(4).toString('hex')}:`;
  const connections = [new Redis(values.redis), new Redis(values.redis)];
  const waits: Record<string, number[]> = { interactive: [], batch: [] };
  const pools: SlotPool[] = connections.map((redis) =>
    createRedisSlotPool({
      redis,
      keyPrefix: prefix,
      limit: LIMIT,
      reservedInteractive: s.reservedInteractive,
      clientWeights: CLIENT_WEIGHTS,
      metrics: { onAcquire: (_queue, kind, waitMs) => waits[kind]!.push(waitMs) },
    }),
  );

  const t0 = performance.now();
  const t1 = t0 + SECONDS * 1000;
  let busyMs = 0;
  let inFlight = 0;
  let peak = 0;
  const served: Record<string, number> = { interactive: 0, lab: 0, pharmacy: 0 };

  async function stream(pool: SlotPool, request: SlotRequest, label: string): Promise<void> {
    while (performance.now() < t1) {
      await pool.withSlot(request, async () => {
        const start = performance.now();
        inFlight++;
        peak = Math.max(peak, inFlight);
        await sleep(WORK_MS);
        inFlight--;
        const end = performance.now();
        // Count only the part of the call inside the measured window.
        busyMs += Math.max(0, Math.min(end, t1) - Math.max(start, t0));
        if (start < t1) served[label]!++;
      });
    }
  }

  const streams: Promise<void>[] = [];
  for (let i = 0; i < s.interactiveStreams; i++) streams.push(stream(pools[i % 2]!, { kind: 'interactive' }, 'interactive'));
  for (const client of ['lab', 'pharmacy'] as const) {
    for (let i = 0; i < s.batchStreamsPerClient; i++) streams.push(stream(pools[i % 2]!, { kind: 'batch', clientService: client }, client));
  }
  await Promise.all(streams);

  const utilisation = busyMs / (LIMIT * SECONDS * 1000);
  const batchTotal = served['lab']! + served['pharmacy']!;
  const fmt = (xs: number[]): string => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms (n=${sorted.length})`;
  };
  console.log(`\n== scenario ${s.name}: ${LIMIT} slots, ${s.reservedInteractive} reserved, ${s.interactiveStreams} interactive + 2×${s.batchStreamsPerClient} batch streams, ${WORK_MS} ms work, ${SECONDS} s`);
  console.log(`slot utilisation      ${utilisation.toFixed(4)}  (busy ${(busyMs / 1000).toFixed(1)} slot-s / ${LIMIT * SECONDS} slot-s; target ≥ 0.95${s.reservedInteractive > 0 && s.interactiveStreams === 0 ? ', capped by reservation' : ''})`);
  console.log(`peak in flight        ${peak} (limit ${LIMIT})`);
  console.log(`grants                interactive ${served['interactive']}, lab ${served['lab']}, pharmacy ${served['pharmacy']}`);
  console.log(
    `batch share           lab ${(served['lab']! / batchTotal).toFixed(3)} : pharmacy ${(served['pharmacy']! / batchTotal).toFixed(3)}  (ratio ${(served['lab']! / served['pharmacy']!).toFixed(2)}, weights 2:1)`,
  );
  if (waits['interactive']!.length > 0) console.log(`interactive wait      ${fmt(waits['interactive']!)}`);
  console.log(`batch wait            ${fmt(waits['batch']!)}`);

  await Promise.all(pools.map((p) => p.close()));
  const keys = await connections[0]!.keys(`${prefix}*`);
  if (keys.length > 0) await connections[0]!.del(...keys);
  await Promise.all(connections.map((c) => c.quit()));
}

async function main(): Promise<void> {
  for (const s of SCENARIOS) if (values.scenario === 'all' || values.scenario === s.name) await run(s);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
