/**
 * Throughput of the Stedi simulator through the real gateway client, on loopback only.
 * Prints, per client concurrency: elapsed time, checks/s, the theoretical floor N x mean latency / slots, 429s,
 * and the simulator's peak in-flight. Bounded: a fixed number of checks per scenario.
 *
 *   npx tsx bench/stedi-sim-throughput.ts [checks=600] [timeScale=0.01]
 */
import { StediRequestError, createHttpStediGateway } from '../activities/stedi/gateway';
import { buildEligibilityRequest } from '../activities/stedi/request-builder';
import { silentLogger } from '../lib/logger';
import { syntheticMembers } from '../lib/member-fixtures';
import { createStediSim } from '../stedi-sim/server';

async function scenario(checks: number, timeScale: number, clientConcurrency: number): Promise<void> {
  const slots = 15;
  const meanMs = 13_500;
  const sim = createStediSim({ concurrency: slots, timeScale, logger: silentLogger(), seed: 7 });
  const { url } = await sim.start(0);
  const gw = createHttpStediGateway({ baseUrl: url, apiKey: 'bench' });
  const members = syntheticMembers(checks);
  let next = 0;
  let throttled = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clientConcurrency }, async () => {
      while (next < members.length) {
        const m = members[next++]!;
        const req = buildEligibilityRequest({ member: m, provider: { npi: '1999999984', organizationName: 'Bench' }, controlNumberSeed: m.memberId });
        try {
          await gw.checkEligibility(req);
        } catch (err) {
          if (err instanceof StediRequestError && err.classification.kind === 'throttled') throttled++;
          else failed++;
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  const stats = sim.stats();
  await sim.stop();
  const floor = (checks * meanMs * timeScale) / slots;
  console.log(
    JSON.stringify({
      checks,
      clientConcurrency,
      elapsedMs: Math.round(elapsed),
      checksPerSec: Number(((checks / elapsed) * 1000).toFixed(1)),
      floorMs: Math.round(floor),
      throttled429: throttled,
      otherFailures: failed,
      peakInFlight: stats.inFlight.peak,
      answers: stats.answers,
    }),
  );
}

async function main(): Promise<void> {
  const checks = Number(process.argv[2] ?? 600);
  const timeScale = Number(process.argv[3] ?? 0.01);
  for (const c of [5, 15, 20]) await scenario(checks, timeScale, c);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
