/**
 * Finite-batch tail bench (issue 14): a small REALTIME batch with members on failing payers, on the REAL platform
 * (test/helpers/platform.ts: Temporal, a production-composition worker with the Redis slot pool, PostgreSQL, Kafka,
 * the real API) and the Stedi simulator. The batch goes in through SubmitBatch with the default retry policy
 * (3 attempts, 2 s initial interval ×2, max 5 min; intervals × the time scale so a scaled run keeps their proportion).
 *
 * The failing payers answer HTTP 503 after their full latency on each member's first call and normally on the
 * retry (simulator fault `failingPayer` with `failFirst: 1`), so a failing member costs two calls: 150 members with
 * 20 failing make 170 Stedi calls, the figure.
 *
 * Printed per run (one JSON line), all measured in the same run:
 *   - wallOverIdeal: the workflow's wall time (submitted → finished) ÷ the ideal makespan of THE SAME calls: the
 *     latencies the simulator applied to each call (GET /__sim/calls), as member chains, LPT-scheduled offline on
 *     15 slots (bench/tail-ideal.ts explains why that is the fair ideal); also ÷ the lower bound
 *     max(Σ latency ÷ 15, longest chain);
 *   - wallOverMeanFloor: ÷ calls × the model's mean latency ÷ 15 (the floor the issue used);
 *   - where the time went: startup (submit → first call), slot idle while calls waited, the last wave, finish
 *     (last answer → batch finished), retry gaps.
 *
 * With `--hedge on` the worker runs with STEDI_HEDGE=on (activities/eligibility/hedge-policy.ts): a last-wave
 * straggler may get a duplicate Stedi call. Those duplicates are billed calls: printed as `hedgeCalls` (and
 * `stediCallsBilled`). The ideal is computed from the ORIGINAL calls only (a duplicate is recognised in the call log
 * as a call of a member that started while that member's earlier call was still running), so hedging cannot inflate
 * its own ideal; `idealWithHedgesSeconds` / `wallOverIdealWithHedges` treat the duplicates as ordinary calls, for
 * comparison.
 *
 *   npx tsx bench/batch-tail.ts [--members 150] [--failing 20] [--latency-ms 13500] [--time-scale 1] [--runs 1] [--seed 1]
 *                               [--hedge on|off] [--calls-out FILE]   (writes FILE.<run>.json: the batch's times and the call log)
 * Needs the dev stack's servers. Asserts nothing; run it under the shared lock (flock /tmp/rte-int.lock).
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus } from '../gen/rte/v1/batch_pb';
import { CacheControl } from '../gen/rte/v1/common_pb';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { silentLogger } from '../lib/logger';
import type { MemberRecord } from '../lib/member-record';
import { startTestPlatform } from '../test/helpers/platform';
import { batchClient, simCounts, waitFor, waitForBatchEnd } from './batch-harness';
import { idealMakespan, randomOrderGreedy, splitHedges, tailBreakdown } from './tail-ideal';
import { createRng } from '../stedi-sim/rng';

const SLOTS = 15;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const load = () => os.loadavg().map((x) => +x.toFixed(2));
const s2 = (ms: number) => +(ms / 1000).toFixed(2);
const r3 = (x: number) => +x.toFixed(3);

/** Deterministic shuffle (the simulator's seeded mulberry32). */
function shuffle<T>(items: T[], seed: number): T[] {
  const rnd = createRng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `failing` members on the most common payers (whole payers, as few as possible) and the rest on other payers. */
function pickMembers(all: MemberRecord[], members: number, failing: number, seed: number): { ids: string[]; failingPayers: string[] } {
  const byPayer = new Map<string, MemberRecord[]>();
  for (const m of all) byPayer.set(m.payerId, [...(byPayer.get(m.payerId) ?? []), m]);
  const payers = [...byPayer.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  const failingPayers: string[] = [];
  const onFailing: MemberRecord[] = [];
  for (const [payer, ms] of payers) {
    if (onFailing.length >= failing) break;
    failingPayers.push(payer);
    onFailing.push(...ms);
  }
  const others = all.filter((m) => !failingPayers.includes(m.payerId));
  if (onFailing.length < failing || others.length < members - failing) throw new Error('population too small for the requested split');
  const chosen = [...shuffle(onFailing, seed).slice(0, failing), ...shuffle(others, seed + 1).slice(0, members - failing)];
  return { ids: shuffle(chosen, seed + 2).map((m) => m.memberId), failingPayers };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const members = arg('members', 150);
  const failing = arg('failing', 20);
  const latencyMs = arg('latency-ms', 13_500);
  const timeScale = arg('time-scale', 1);
  const runs = arg('runs', 1);
  const seed = arg('seed', 1);
  const hedgeAt = process.argv.indexOf('--hedge');
  const hedge = hedgeAt >= 0 ? process.argv[hedgeAt + 1] : 'off';
  if (hedge !== 'on' && hedge !== 'off') throw new Error('--hedge takes on or off');
  const p = await startTestPlatform({
    population: Math.max(600, members * 4),
    sim: { latency: { meanMs: latencyMs, sigma: 0.5 }, timeScale, seed, logger: silentLogger() },
    env: { STEDI_SLOTS_RESERVED_INTERACTIVE: '0', BATCH_SUBMIT_RATE_LIMIT: '1000', STEDI_HEDGE: hedge },
  });
  try {
    const c = await batchClient(p, 'bench-tail');
    for (let run = 0; run < runs; run++) {
      const { ids, failingPayers } = pickMembers(p.members, members, failing, seed + run * 10);
      p.sim.setFaults({ reset: true });
      for (const payerId of failingPayers) p.sim.setFaults({ failingPayer: { payerId, status: 503, failFirst: 1 } });
      p.sim.resetStats();
      const loadBefore = load();
      const r = await c.submitBatch({
        clientJobId: `tail-${randomUUID().slice(0, 8)}`,
        memberSelector: { case: 'memberIds', value: { memberIds: ids } },
        cacheControl: CacheControl.BYPASS_CACHE,
        options: {
          priority: Priority.HIGH,
          strategy: Strategy.REALTIME_ONLY,
          maxConcurrentRequests: SLOTS,
          // The default policy (3 attempts, 2 s ×2, max 5 min), its intervals time-scaled like Stedi's latency.
          retryConfig: {
            maxAttempts: 3,
            initialInterval: durationFromMs(Math.max(100, Math.round(2_000 * timeScale))),
            maxInterval: durationFromMs(Math.max(100, Math.round(300_000 * timeScale))),
            backoffMultiplier: 2,
          },
        },
      });
      const end = await waitForBatchEnd(c, r.batchId, 60 * 60_000, 100);
      const startMs = timestampMs(end.submittedAt!);
      const endMs = timestampMs(end.finishedAt!);
      const wallMs = endMs - startMs;
      // A hedged call's loser is still running at Stedi when the batch ends; its latency belongs to the ideal.
      await waitFor('Stedi to answer every call', () => p.sim.stats().inFlight.current === 0, 5 * 60_000, 100);
      const calls = p.sim.calls();
      const callsOut = process.argv.indexOf('--calls-out');
      if (callsOut >= 0) writeFileSync(`${process.argv[callsOut + 1]}.${run + 1}.json`, JSON.stringify({ startMs, endMs, calls }));
      const hedgeCount = async (event: string) => (await p.workers[0]!.metrics.stediHedges.get()).values.find((v) => v.labels['event'] === event)?.value ?? 0;
      const { originals, hedges } = splitHedges(calls);
      const ideal = idealMakespan(originals, SLOTS);
      const idealWithHedges = idealMakespan(calls, SLOTS);
      const oblivious = randomOrderGreedy(originals, SLOTS, 500, seed);
      const tail = tailBreakdown(calls, SLOTS, startMs, endMs);
      const meanFloorMs = (originals.length * latencyMs * timeScale) / SLOTS;
      const sim = simCounts(p.sim);
      console.log(
        JSON.stringify({
          run: `tail-${run + 1}`,
          members,
          failingMembers: failing,
          failingPayers: failingPayers.length,
          timeScale,
          status: BatchStatus[end.status],
          completed: end.progress!.completed,
          failed: end.progress!.failed,
          hedge,
          ...(hedge === 'on' ? { hedgePercentile: p.config.hedge.percentile } : {}),
          stediCalls: ideal.calls,
          hedgeCalls: hedges.length,
          stediCallsBilled: calls.length,
          hedgesStarted: await hedgeCount('started'),
          hedgesWon: await hedgeCount('won'),
          retriedMembers: ideal.retriedMembers,
          simPeakInFlight: sim.peakInFlight,
          wallSeconds: s2(wallMs),
          idealSeconds: s2(ideal.lptMs),
          onlineIdealSeconds: s2(ideal.greedyMs),
          lowerBoundSeconds: s2(ideal.lowerBoundMs),
          recordedFloorSeconds: s2(ideal.recordedFloorMs),
          meanFloorSeconds: s2(meanFloorMs),
          wallOverIdeal: r3(wallMs / ideal.lptMs),
          idealWithHedgesSeconds: s2(idealWithHedges.lptMs),
          wallOverIdealWithHedges: r3(wallMs / idealWithHedges.lptMs),
          wallOverOnlineIdeal: r3(wallMs / ideal.greedyMs),
          wallOverLowerBound: r3(wallMs / ideal.lowerBoundMs),
          wallOverMeanFloor: r3(wallMs / meanFloorMs),
          idealOverLowerBound: r3(ideal.lptMs / ideal.lowerBoundMs),
          onlineIdealOverIdeal: r3(ideal.greedyMs / ideal.lptMs),
          // A zero-overhead latency-oblivious scheduler on these latencies, over 500 random member orders.
          obliviousMeanOverIdeal: r3(oblivious.meanMs / ideal.lptMs),
          obliviousP90OverIdeal: r3(oblivious.p90Ms / ideal.lptMs),
          recordedMeanLatencySeconds: s2(ideal.meanLatencyMs),
          longestChainSeconds: s2(ideal.longestChainMs),
          tail: {
            startupSeconds: s2(tail.startupMs),
            callSpanSeconds: s2(tail.callSpanMs),
            finishSeconds: s2(tail.finishMs),
            idleSlotSecondsBeforeLastStart: s2(tail.idleBeforeLastStartSlotMs),
            idleSlotSecondsLastWave: s2(tail.idleLastWaveSlotMs),
            lastWaveSeconds: s2(tail.lastWaveMs),
            retryGapMedianSeconds: s2(tail.retryGapMedianMs),
            retryGapMaxSeconds: s2(tail.retryGapMaxMs),
            lastRetryStartSeconds: s2(tail.lastRetryStartMs),
          },
          loadAvgBefore: loadBefore,
          loadAvgAfter: load(),
          cpus: os.cpus().length,
        }),
      );
    }
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
