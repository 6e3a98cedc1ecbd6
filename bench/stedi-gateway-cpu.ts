/**
 * CPU per Stedi call of the gateway's client side, by transport: the global fetch (the gateway's `fetch` seam, its
 * transport before issue 14's fifth orchestration pass) against the default node:http keep-alive transport.
 * The simulator runs as its own OS process (stedi-sim/main.ts, 1 ms latency as in bench/batch-realtime.ts), so
 * this process's CPU is the client's alone: the HTTP exchange, JSON parse and classification. Rounds alternate the
 * two transports. Prints one JSON line per measurement; asserts nothing. Run it under the shared lock.
 *
 *   npx tsx bench/stedi-gateway-cpu.ts [--calls 4000] [--rounds 3] [--concurrency 12]
 */
import { createHttpStediGateway, StediRequestError, type StediGateway } from '../activities/stedi/gateway';
import { buildEligibilityRequest } from '../activities/stedi/request-builder';
import { syntheticMembers } from '../lib/member-fixtures';
import { spawnSimProcess } from './batch-harness';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function drive(gw: StediGateway, requests: ReturnType<typeof buildEligibilityRequest>[], concurrency: number): Promise<{ verdicts: number; failures: number }> {
  let next = 0;
  let verdicts = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        try {
          await gw.checkEligibility(r);
          verdicts++;
        } catch (err) {
          if (!(err instanceof StediRequestError)) throw err;
          failures++;
        }
      }
    }),
  );
  return { verdicts, failures };
}

async function main(): Promise<void> {
  const calls = arg('calls', 4000);
  const rounds = arg('rounds', 3);
  const concurrency = arg('concurrency', 12);
  const sim = await spawnSimProcess({ STEDI_SIM_LATENCY_MEAN_MS: '1', STEDI_SIM_LATENCY_SIGMA: '0', STEDI_SIM_LATENCY_MIN_MS: '0', STEDI_SIM_LATENCY_MAX_MS: '1', STEDI_SIM_TIME_SCALE: '1' });
  try {
    const provider = { npi: '1999999984', organizationName: 'Bench' };
    const requests = syntheticMembers(calls).map((m) => buildEligibilityRequest({ member: m, provider, controlNumberSeed: m.memberId }));
    const transports: Record<string, StediGateway> = {
      fetch: createHttpStediGateway({ baseUrl: sim.url, apiKey: 'bench', fetch }),
      'node:http': createHttpStediGateway({ baseUrl: sim.url, apiKey: 'bench' }),
    };
    for (const gw of Object.values(transports)) await drive(gw, requests.slice(0, 500), concurrency);
    for (let round = 1; round <= rounds; round++) {
      for (const [name, gw] of round % 2 === 1 ? Object.entries(transports) : Object.entries(transports).reverse()) {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await drive(gw, requests, concurrency);
        const wallMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        console.log(
          JSON.stringify({
            round,
            transport: name,
            calls,
            ...r,
            cpuUsPerCall: Math.round(((cpu.user + cpu.system) / calls) * 10) / 10,
            callsPerSecond: Math.round((calls / wallMs) * 1000),
          }),
        );
      }
    }
  } finally {
    await sim.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
