import { createClient } from '@connectrpc/connect';
import { connectTemporalClient } from '../lib/temporal/connect';
import { BatchEligibilityService, BatchExecutionOptions_Priority, BatchExecutionOptions_Strategy, BatchStatus } from '../gen/rte/v1/batch_pb';
import type { MemberCronResult } from '../workflows/member-cron.defs';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Pool } from 'pg';
import { CacheControl, CacheStatus } from '../gen/rte/v1/common_pb';
import { CoverageSummary_Status, EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { loadConfig } from '../lib/config';
import { mintDevToken } from '../lib/dev-token';

/**
 * The platform's main job on a local stack, end to end through the public API and Temporal:
 *  1. interactive eligibility: members from the directory checked live (through the global 15-slot pool
 *     and Stedi), again (cache hits), and CACHE_ONLY (never calls Stedi);
 *  2. a batch selected by a MemberQuery, submitted with SubmitBatch and followed with WatchBatchStatus
 *     to its terminal event;
 *  3. one run of the `daily-rte-warmup` member-cron schedule, triggered and awaited, emitting
 *     MemberCronEvents to Kafka.
 * Prints one JSON line per step. Exit code 0 only when every step behaved as specified.
 */
const MEMBERS = Number(process.env['MAIN_JOB_MEMBERS'] ?? 30);
const BATCH_MEMBERS = Number(process.env['MAIN_JOB_BATCH_MEMBERS'] ?? 45);

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.auth.mode !== 'dev-hs256') throw new Error('the main job mints dev tokens: run it against the local profile');
  const token = await mintDevToken({
    service: 'rte-main-job',
    scopes: ['rte:eligibility:read', 'rte:batch:submit', 'rte:batch:read'],
    secret: config.auth.devSecret,
  });
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

  // 2. A batch chosen by query: the first BATCH_MEMBERS members of the largest sponsor, checked in real time.
  const batchClient = createClient(BatchEligibilityService, createConnectTransport({ baseUrl, httpVersion: '1.1' }));
  const pg2 = new Pool({ connectionString: config.databaseUrl, max: 1 });
  const sponsor = (await pg2.query<{ sponsor_id: string }>(`select sponsor_id from members group by 1 order by count(*) desc limit 1`)).rows[0]!.sponsor_id;
  await pg2.end();
  const jobId = `main-job-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const batchStarted = Date.now();
  const submitted = await batchClient.submitBatch(
    {
      clientServiceName: 'rte-main-job',
      clientJobId: jobId,
      memberSelector: { case: 'memberQuery', value: { sponsorIds: [sponsor], excludeMockAccounts: true, limit: BATCH_MEMBERS } },
      options: { priority: BatchExecutionOptions_Priority.HIGH, strategy: BatchExecutionOptions_Strategy.REALTIME_ONLY },
      cacheControl: CacheControl.DEFAULT,
    },
    { headers },
  );
  let terminal = '';
  for await (const update of batchClient.watchBatchStatus({ batchId: submitted.batchId }, { headers })) {
    if (update.update.case === 'completed' || update.update.case === 'failed') terminal = update.update.case;
  }
  const status = await batchClient.getBatchStatus({ batchId: submitted.batchId }, { headers });
  const p = status.progress;
  console.log(
    JSON.stringify({
      step: 'batch by MemberQuery (SubmitBatch + WatchBatchStatus)',
      batchId: submitted.batchId,
      members: submitted.totalMembers,
      seconds: Number(((Date.now() - batchStarted) / 1000).toFixed(2)),
      status: BatchStatus[status.status],
      completed: p?.completed,
      failed: p?.failed,
      cacheHits: p?.cacheHits,
    }),
  );
  if (!terminal) failures.push('batch: the status stream ended without a terminal event');
  if (!p || p.completed + p.failed !== submitted.totalMembers) failures.push('batch: completed + failed does not account for every member');

  // 3. One member-cron run, as its Temporal Schedule would start it.
  const { connection, client: temporal } = await connectTemporalClient(config);
  try {
    const schedule = temporal.schedule.getHandle('member-cron/daily-rte-warmup');
    const before = new Set((await schedule.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
    const cronStarted = Date.now();
    await schedule.trigger();
    let workflowId: string | undefined;
    while (!workflowId && Date.now() - cronStarted < 30_000) {
      const d = await schedule.describe();
      workflowId = [...d.info.runningActions.map((a) => a.workflow.workflowId), ...d.info.recentActions.map((a) => a.action.workflow.workflowId)].find(
        (id) => !before.has(id),
      );
      if (!workflowId) await new Promise((r) => setTimeout(r, 250));
    }
    if (!workflowId) throw new Error('member-cron: the schedule did not start a run');
    const result = await temporal.workflow.getHandle<() => Promise<MemberCronResult>>(workflowId).result();
    console.log(JSON.stringify({ step: 'member cron run (daily-rte-warmup)', workflowId, seconds: Number(((Date.now() - cronStarted) / 1000).toFixed(2)), ...result }));
    if (result.emitted + result.duplicates + result.deadLettered !== result.matched) {
      failures.push('member-cron: matched members were not all accounted for');
    }
  } finally {
    await connection.close();
  }

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
