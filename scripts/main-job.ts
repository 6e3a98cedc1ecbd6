import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Pool } from 'pg';
import { CacheControl, CacheStatus } from '../gen/rte/v1/common_pb';
import { CoverageSummary_Status, EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { loadConfig } from '../lib/config';
import { mintDevToken } from '../lib/dev-token';

/**
 * The platform's main job on a local stack: the interactive eligibility path end to end through the
 * public API. It picks members from the directory, checks them live (cache misses through the global
 * 15-slot pool and Stedi), then again (cache hits), then CACHE_ONLY (never calls Stedi), and prints what
 * each step cost. Exit code 0 only when every step behaved as specified.
 */
const MEMBERS = Number(process.env['MAIN_JOB_MEMBERS'] ?? 30);

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.auth.mode !== 'dev-hs256') throw new Error('the main job mints dev tokens: run it against the local profile');
  const token = await mintDevToken({ service: 'rte-main-job', scopes: ['rte:eligibility:read'], secret: config.auth.devSecret });
  const baseUrl = process.env['API_URL'] ?? `http://127.0.0.1:${config.api.port}`;
  const client = createClient(EligibilityService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
  const headers = { authorization: `Bearer ${token}` };

  const pg = new Pool({ connectionString: config.databaseUrl, max: 2 });
  const { rows } = await pg.query<{ member_id: string }>(
    `select member_id from members where account_status = 'ACTIVE' and not is_mock order by member_id limit $1`,
    [MEMBERS],
  );
  await pg.end();
  if (rows.length === 0) throw new Error('the member directory is empty: run stack/stack up (it migrates and seeds)');
  const ids = rows.map((r) => r.member_id);

  const failures: string[] = [];
  const pass = async (label: string, mode: CacheControl, expect: (s: CacheStatus) => boolean) => {
    const started = Date.now();
    const statuses = new Map<string, number>();
    const coverage = new Map<string, number>();
    await Promise.all(
      ids.map(async (memberId) => {
        try {
          const res = await client.checkEligibility({ memberId, cacheControl: mode }, { headers });
          const s = CacheStatus[res.cacheStatus];
          statuses.set(s, (statuses.get(s) ?? 0) + 1);
          const c = res.coverage ? CoverageSummary_Status[res.coverage.status] : 'NONE';
          coverage.set(c, (coverage.get(c) ?? 0) + 1);
          if (!expect(res.cacheStatus)) failures.push(`${label}: unexpected cache status ${s}`);
        } catch (err) {
          failures.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
          statuses.set('FAILED', (statuses.get('FAILED') ?? 0) + 1);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      JSON.stringify({ step: label, members: ids.length, seconds: Number(seconds.toFixed(2)), cacheStatus: Object.fromEntries(statuses), coverage: Object.fromEntries(coverage) }),
    );
  };

  await pass('live checks (BYPASS_CACHE)', CacheControl.BYPASS_CACHE, (s) => s === CacheStatus.MISS || s === CacheStatus.ERROR);
  await pass('repeat (DEFAULT: served from cache)', CacheControl.DEFAULT, (s) => s === CacheStatus.HIT || s === CacheStatus.ERROR);
  await pass('CACHE_ONLY (no Stedi call)', CacheControl.CACHE_ONLY, (s) => s === CacheStatus.HIT || s === CacheStatus.ERROR);

  if (failures.length > 0) {
    console.error(JSON.stringify({ result: 'failed', failures: failures.slice(0, 20) }));
    process.exit(1);
  }
  console.log(JSON.stringify({ result: 'ok' }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
