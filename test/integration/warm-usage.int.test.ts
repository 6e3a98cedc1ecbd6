/**
 * Warm-usage recording through the real API: a warming-sourced cache entry in Redis, its cache_warms row in
 * PostgreSQL, then interactive CheckEligibility calls. The recorder writes in the background (1 s batches), so the
 * test polls the tables rather than sleeping a fixed time.
 */
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { createConfiguredEligibilityCache } from '../../activities/cache';
import { REQUEST_SOURCE_HEADER } from '../../api/services/eligibility-service';
import type { CoverageSummary } from '../../lib/coverage-summary';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

const H = 3_600_000;
const OP = 'check_eligibility';
const active: CoverageSummary = {
  status: 'active',
  payer: { id: '60054', name: 'Aetna' },
  plan: { name: 'Open Access', number: 'P1', groupNumber: 'G1', insuranceType: null },
  coverage: { start: '2026-01-01', end: null },
  benefits: [],
  errors: [],
  stediCheckId: 'ec_warm',
};

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('warm usage on the CheckEligibility path (integration)', () => {
  let p: TestPlatform;
  let headers: Record<string, string>;

  beforeAll(async () => {
    p = await startTestPlatform({ population: 20 });
    headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'], 'member-app')}` };
  });
  afterAll(async () => {
    await p.close();
  });

  it('a HIT on a warmed entry marks that warm used (first use only); reads are counted warmed vs not', async () => {
    const [warmedMember, coldMember] = p.members;
    const hash = hashMemberId(p.config.cache.keySecret, warmedMember!.memberId);
    const cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
    const fetchedAt = Date.now() - 2 * H;
    await cache.put({ memberId: warmedMember!.memberId, operation: OP, summary: active, outcome: 'success', source: 'warming', stediCheckId: 'ec_warm', fetchedAt });
    const insert = (job: string, completedAt: number) =>
      p.directory.pool.query(
        `INSERT INTO cache_warms (job_id, member_hash, operation, source, priority, path, outcome, accepted_at, started_at, completed_at, horizon_until)
         VALUES ($1, $2, $3, 'schedule-morning-preload', 'PRELOAD', 'batch_api', 'warmed', $4, $4, $5, $6)`,
        [job, hash, OP, new Date(completedAt - H), new Date(completedAt), new Date(completedAt + 24 * H)],
      );
    await insert('job-current', fetchedAt); // wrote the entry now in Redis
    await insert('job-older', fetchedAt - 24 * H); // an earlier warm of the same member: not this entry

    const before = Date.now();
    const first = await p.eligibilityClient().checkEligibility({ memberId: warmedMember!.memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers });
    const after = Date.now();
    expect(first.cacheStatus).toBe(CacheStatus.HIT);
    expect(first.cacheMetadata?.source).toBe('warming');
    // A second interactive read, and one from tooling (not usage), and a cold member's miss.
    await p.eligibilityClient().checkEligibility({ memberId: warmedMember!.memberId, cacheControl: CacheControl.PREFER_CACHED }, { headers });
    await p.eligibilityClient().checkEligibility({ memberId: warmedMember!.memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers: { ...headers, [REQUEST_SOURCE_HEADER]: 'batch' } });
    await expect(p.eligibilityClient().checkEligibility({ memberId: coldMember!.memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers })).rejects.toThrow(/cache miss/);

    const used = await until('first_used_at', async () => {
      const r = await p.directory.pool.query<{ job_id: string; first_used_at: Date | null; used_result: string | null }>(
        'SELECT job_id, first_used_at, used_result FROM cache_warms WHERE member_hash = $1 ORDER BY job_id',
        [hash],
      );
      return r.rows.some((x) => x.first_used_at) ? r.rows : undefined;
    });
    const current = used.find((r) => r.job_id === 'job-current')!;
    expect(current.used_result).toBe('HIT');
    expect(current.first_used_at!.getTime()).toBeGreaterThanOrEqual(before);
    expect(current.first_used_at!.getTime()).toBeLessThanOrEqual(after);
    expect(used.find((r) => r.job_id === 'job-older')?.first_used_at).toBeNull();

    const counts = await until('read counts', async () => {
      const r = await p.directory.pool.query<{ warmed: boolean; result: string; reads: string }>(
        'SELECT warmed, result, sum(reads)::text AS reads FROM cache_read_counts GROUP BY warmed, result ORDER BY warmed, result',
      );
      const total = r.rows.reduce((n, x) => n + Number(x.reads), 0);
      return total >= 3 ? r.rows.map((x) => [x.warmed, x.result, Number(x.reads)]) : undefined;
    });
    expect(counts).toEqual([
      [false, 'MISS', 1],
      [true, 'HIT', 2],
    ]);
    // The first use stays the first: the later read did not move it.
    const again = await p.directory.pool.query<{ first_used_at: Date }>("SELECT first_used_at FROM cache_warms WHERE job_id = 'job-current'");
    expect(again.rows[0]?.first_used_at.getTime()).toBe(current.first_used_at!.getTime());

    const metrics = await (await fetch(`${p.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^rte_cache_hit_total\{warmed="true"[^}]*\} 2$/m);
    expect(metrics).toMatch(/^rte_cache_hit_rate\{warmed="true"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^rte_cache_hit_rate\{warmed="false"[^}]*\} 0$/m);
  });

  it('feeds rte_cache_warming_prediction_accuracy from real warms, per warm source, beside member-cron', async () => {
    const now = Date.now();
    // Two warms of one source whose horizon closed an hour ago; one was used inside it.
    for (const [job, usedAt] of [
      ['acc-1', now - 10 * H],
      ['acc-2', null],
    ] as const) {
      await p.directory.pool.query(
        `INSERT INTO cache_warms (job_id, member_hash, operation, source, priority, path, outcome, accepted_at, started_at, completed_at, horizon_until, first_used_at, used_result)
         VALUES ($1, $2, $3, 'member-cron-daily-rte-warmup', 'URGENT', 'realtime', 'warmed', $4, $4, $5, $6, $7, $8)`,
        [job, `hash-${job}`, OP, new Date(now - 26 * H), new Date(now - 25 * H), new Date(now - H), usedAt ? new Date(usedAt) : null, usedAt ? 'HIT' : null],
      );
    }
    const metrics = await (await fetch(`${p.apiUrl}/metrics`)).text();
    expect(metrics).toMatch(/^rte_cache_warming_prediction_accuracy\{source="member-cron-daily-rte-warmup"[^}]*\} 0\.5$/m);
    expect(metrics).toMatch(/^rte_cache_warming_prediction_sample_size\{source="member-cron-daily-rte-warmup"[^}]*\} 2$/m);
    expect(metrics).toMatch(/^rte_cache_warming_prediction_sample_size\{source="member-cron"[^}]*\} 0$/m);
  });
});
