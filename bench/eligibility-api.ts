/**
 * CheckEligibility through the real API (real Connect server, worker, Temporal, Redis, Stedi simulator),
 * in one run:
 *  1. CACHE_ONLY hit latency (p50/p99) and throughput at a fixed client concurrency;
 *  2. slot utilisation while saturated: N live checks (BYPASS_CACHE) with the simulator's latency scaled,
 *     busy slot-seconds ÷ (15 × wall time), and the simulator's peak in-flight against the limit of 15.
 * Needs the dev stack's infrastructure (`./stack/stack up --infra`). Usage:
 *   npx tsx bench/eligibility-api.ts [--members 2000] [--seconds 10] [--concurrency 32] [--live 600] [--time-scale 0.02]
 */
import { loadavg } from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CacheControl } from '../gen/rte/v1/common_pb';
import { startTestPlatform } from '../test/helpers/platform';
import { isConnectivityCode, verdictFor } from '../stedi-sim/answers';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const MEMBERS = arg('members', 2000);
const SECONDS = arg('seconds', 10);
const CONCURRENCY = arg('concurrency', 32);
const LIVE = arg('live', 600);
const TIME_SCALE = arg('time-scale', 0.02);
const PROTOCOL = process.argv.includes('--grpc') ? 'grpc' : 'connect';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Live checks queue for the 15 slots far longer than an interactive caller waits (API_REFRESH_WAIT_MS).
  const p = await startTestPlatform({ population: MEMBERS, sim: { timeScale: TIME_SCALE }, env: { API_REFRESH_WAIT_MS: '3600000' } });
  const members = p.members;
  try {
    const headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` };
    const client = p.eligibilityClient(PROTOCOL);

    // Saturation: LIVE live checks at once (the simulator answers every member; latency scaled).
    // Members whose payer is "down" in the simulator (AAA 42/79/80 every time) are left out: they measure
    // the retry policy, not slot utilisation.
    const sample = members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode)).slice(0, LIVE);
    p.sim.resetStats();
    const t0 = Date.now();
    const answered: typeof sample = [];
    const failures = new Map<string, number>();
    await Promise.all(
      sample.map(async (m) => {
        try {
          await client.checkEligibility({ memberId: m.memberId, cacheControl: CacheControl.BYPASS_CACHE }, { headers });
          answered.push(m);
        } catch (err) {
          const key = err instanceof Error ? err.message.slice(0, 80) : String(err);
          failures.set(key, (failures.get(key) ?? 0) + 1);
        }
      }),
    );
    if (answered.length === 0) throw new Error(`no live check succeeded: ${JSON.stringify([...failures])}`);
    const wall = (Date.now() - t0) / 1000;
    const stats = p.sim.stats();
    const meanLatencyS = (stats.config.latencyMeanMs * stats.config.timeScale) / 1000;
    const realtime = Object.values(stats.calls['POST /2024-04-01/change/medicalnetwork/eligibility/v3'] ?? {}).reduce((a, b) => a + b, 0);
    // Busy slot-seconds ≈ calls × mean simulated latency (the simulator's model, scaled).
    const utilisation = (realtime * meanLatencyS) / (15 * wall);
    const floor = (LIVE * meanLatencyS) / 15;

    // CACHE_ONLY hits (all LIVE members are now cached). Latency with one client at a time (nothing queued
    // behind the request), then throughput with CONCURRENCY clients. Client and server share this process's
    // event loop, so throughput is a floor for a dedicated API process.
    const lat: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const m = answered[i % answered.length]!;
      const s = process.hrtime.bigint();
      await client.checkEligibility({ memberId: m.memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers });
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    lat.sort((a, b) => a - b);
    let ok = 0;
    const deadline = Date.now() + SECONDS * 1000;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        let i = w;
        while (Date.now() < deadline) {
          const m = answered[i++ % answered.length]!;
          await client.checkEligibility({ memberId: m.memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers });
          ok++;
        }
      }),
    );
    const elapsed = (Date.now() - started) / 1000;

    console.log('== CheckEligibility through the real API ==');
    console.table([
      { figure: 'CACHE_ONLY hit p50 (ms, one client)', value: pct(lat, 50).toFixed(2) },
      { figure: 'CACHE_ONLY hit p99 (ms, one client)', value: pct(lat, 99).toFixed(2) },
      { figure: `CACHE_ONLY throughput (req/s, ${CONCURRENCY} clients)`, value: (ok / elapsed).toFixed(0) },
      { figure: `live checks (${LIVE}, sim mean latency ${(meanLatencyS * 1000).toFixed(0)} ms)`, value: `${wall.toFixed(2)} s` },
      { figure: 'wall time ÷ 15-slot floor', value: (wall / floor).toFixed(3) },
      { figure: 'slot utilisation (busy slot-s ÷ 15 × wall), target ≥ 0.95', value: utilisation.toFixed(3) },
      { figure: 'simulator peak in-flight ÷ limit 15', value: `${stats.inFlight.peak} / 15` },
      { figure: 'HTTP 429 from the simulator', value: stats.throttled },
      { figure: 'live checks that failed', value: `${LIVE - answered.length} ${JSON.stringify([...failures])}` },
      { figure: 'load average (1 min) at the end', value: loadavg()[0]!.toFixed(2) },
    ]);
  } finally {
    await p.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
