/**
 * Slot utilisation at Stedi's real latency, through a RUNNING stack (`./stack/stack up`: separate API, worker and
 * simulator processes, the simulator at its default 13.5 s mean). Fires N live checks (BYPASS_CACHE) at once and
 * prints wall time ÷ the 15-slot floor and busy slot-seconds ÷ (15 × wall time) from the simulator's own counters.
 * Start the API with a long API_REFRESH_WAIT_MS so callers wait for their queued checks. Members whose payer the
 * simulator keeps "down" (AAA 42/79/80 on every try) are left out: they measure the retry policy, not the pool.
 *   npx tsx bench/eligibility-live.ts [--members 150] [--offset 30000] [--api http://127.0.0.1:8080] [--sim http://127.0.0.1:8090]
 */
import { loadavg } from 'node:os';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { CacheControl } from '../gen/rte/v1/common_pb';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { mintDevToken } from '../lib/dev-token';
import { createPgMemberDirectory } from '../directory/pg-member-directory';
import { createDirectoryPool } from '../directory/pool';
import { isConnectivityCode, verdictFor } from '../stedi-sim/answers';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const N = Number(arg('members', '150'));
const OFFSET = Number(arg('offset', '30000'));
const API = arg('api', 'http://127.0.0.1:8080');
const SIM = arg('sim', 'http://127.0.0.1:8090');
const REALTIME = 'POST /2024-04-01/change/medicalnetwork/eligibility/v3';

interface SimStats {
  calls: Record<string, Record<string, number>>;
  inFlight: { peak: number; current: number };
  throttled: number;
  config: { latencyMeanMs: number; timeScale: number };
}
const simStats = async (): Promise<SimStats> => (await fetch(`${SIM}/__sim/stats`)).json() as Promise<SimStats>;
const calls = (s: SimStats) => Object.values(s.calls[REALTIME] ?? {}).reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const token = await mintDevToken({ service: 'bench', scopes: ['rte:eligibility:read'], secret: process.env['AUTH_DEV_SECRET'] ?? 'dev-secret-change-me' });
  const client = createClient(EligibilityService, createConnectTransport({ baseUrl: API, httpVersion: '1.1' }));
  const pool = createDirectoryPool({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://rte:rte@127.0.0.1:5432/rte', max: 1 });
  const candidates = Array.from({ length: N * 2 }, (_, i) => `m_${String(OFFSET + i).padStart(7, '0')}`);
  const records = await createPgMemberDirectory(pool).getMemberRecords(candidates);
  await pool.end();
  const ids = candidates.filter((id) => {
    const r = records.get(id);
    return r !== undefined && !isConnectivityCode(verdictFor(`${r.payerId}|${r.payerMemberId}`).aaaCode);
  }).slice(0, N);
  if (ids.length < N) throw new Error(`only ${ids.length} suitable members from ${OFFSET}`);
  await fetch(`${SIM}/__sim/stats/reset`, { method: 'POST' });
  const t0 = Date.now();
  let ok = 0;
  let settled = 0;
  const failures: Record<string, number> = {};
  // "While saturated": from the first moment all 15 slots are busy until fewer than 15 checks remain (the queue
  // is empty from then on, so idle slots are the tail of a finite batch, not the pool's doing).
  const samples: number[] = [];
  let saturatedSince: number | undefined;
  const sampler = setInterval(() => {
    void simStats().then((st) => {
      const current = st.inFlight.current;
      if (saturatedSince === undefined && current >= 15) saturatedSince = Date.now();
      if (saturatedSince !== undefined && N - settled >= 15) samples.push(current);
    });
  }, 200);
  await Promise.all(
    ids.map(async (memberId) => {
      try {
        await client.checkEligibility({ memberId, cacheControl: CacheControl.BYPASS_CACHE }, { headers: { authorization: `Bearer ${token}` } });
        ok++;
      } catch (err) {
        const k = err instanceof Error ? err.message.slice(0, 60) : String(err);
        failures[k] = (failures[k] ?? 0) + 1;
      } finally {
        settled++;
      }
    }),
  );
  const wall = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const saturated = samples.length > 0 ? samples.reduce((a, b) => a + b, 0) / samples.length / 15 : NaN;
  const s = await simStats();
  const meanS = (s.config.latencyMeanMs * s.config.timeScale) / 1000;
  const n = calls(s);
  console.table([
    { figure: 'live checks answered / asked', value: `${ok} / ${N}` },
    { figure: 'Stedi calls (incl. retries)', value: n },
    { figure: 'wall time (s)', value: wall.toFixed(1) },
    { figure: 'wall ÷ 15-slot floor (calls × mean latency ÷ 15)', value: (wall / ((n * meanS) / 15)).toFixed(3) },
    { figure: 'slot utilisation while saturated (mean in-flight ÷ 15, sampled 5/s), target ≥ 0.95', value: `${saturated.toFixed(3)} (${samples.length} samples)` },
    { figure: 'slot utilisation over the whole run incl. ramp and tail (calls × mean latency ÷ (15 × wall))', value: ((n * meanS) / (15 * wall)).toFixed(3) },
    { figure: 'simulator peak in-flight / limit', value: `${s.inFlight.peak} / 15` },
    { figure: 'HTTP 429', value: s.throttled },
    { figure: 'failures', value: JSON.stringify(failures) },
    { figure: 'load average (1 min)', value: loadavg()[0]!.toFixed(2) },
  ]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
