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
import { hashMemberId } from '../lib/member-hash';

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
  let cronStartedMs = Date.now();
  try {
    const schedule = temporal.schedule.getHandle('member-cron/daily-rte-warmup');
    const before = new Set((await schedule.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
    const cronStarted = Date.now();
    cronStartedMs = cronStarted;
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

  // 4. The loop closed: the worker's member-cron consumer routed that run's predictions into warming jobs.
  await warmingStep({ config, client, headers, sinceMs: cronStartedMs, failures });

  if (failures.length > 0) {
    console.error(JSON.stringify({ result: 'failed', failures: failures.slice(0, 20) }));
    process.exit(1);
  }
  console.log(JSON.stringify({ result: 'ok' }));
}

/**
 * Step 4: the member-cron run of step 3 feeds the worker's consumer (P > 0.9 → URGENT real-time warms, 0.7–0.9 →
 * PRELOAD through Stedi's batch API), and warming jobs fill the cache. The local stack compresses warming lead times
 * (WARMING_LEAD_SCALE, stack/env.sh), so warms start within seconds instead of 2–24 h before predicted use. URGENT warms
 * of ~1,000+ members take longer than a main job should wait at Stedi's real latency, so this step waits up to
 * MAIN_JOB_WARMING_WAIT_S for warms to land, then checks every high-confidence member with CACHE_ONLY: each member the
 * records say was warmed must be a cache hit. Warming goes on in the background after the step.
 */
async function warmingStep(args: {
  config: ReturnType<typeof loadConfig>;
  client: ReturnType<typeof createClient<typeof EligibilityService>>;
  headers: Record<string, string>;
  sinceMs: number;
  failures: string[];
}): Promise<void> {
  const { config, client, headers, sinceMs, failures } = args;
  const started = Date.now();
  const waitMs = Number(process.env['MAIN_JOB_WARMING_WAIT_S'] ?? 180) * 1000;
  const minWarmed = Number(process.env['MAIN_JOB_WARMING_MIN'] ?? 30);
  // The worker's scale (stack/env.sh): WARMING_LEAD_SCALE when set, else the stack's default.
  const leadScale = Number(process.env['WARMING_LEAD_SCALE'] ?? process.env['STACK_WARMING_LEAD_SCALE'] ?? 1);
  const source = 'member-cron-daily-rte-warmup';
  const pg = new Pool({ connectionString: config.databaseUrl, max: 2 });
  try {
    type Row = { priority: string; path: string; outcome: string; n: string };
    const tally = async (): Promise<Row[]> =>
      (
        await pg.query<Row>(
          `select w.priority, w.path, w.outcome, count(*)::text as n
             from cache_warms w join cache_warming_jobs j using (job_id)
            where j.source = $1 and j.created_at >= to_timestamp($2 / 1000.0)
            group by 1, 2, 3`,
          [source, sinceMs - 5_000],
        )
      ).rows;
    const count = (rows: Row[], f: (r: Row) => boolean) => rows.filter(f).reduce((a, r) => a + Number(r.n), 0);
    let rows = await tally();
    // Wait for the consumer to route the run and for the URGENT warms to land (or the wait to run out).
    // The step waits for URGENT real-time warms: the ones a member with nothing cached gets, within seconds. A member
    // skipped as already fresh needed no warm (an earlier `up` warmed it), and a stale entry is refreshed through
    // Stedi's batch API (INTELLIGENT, docs/warming.md), which takes minutes: neither ends the wait early nor fails it
    // (probe p16: on a second `up` 214 of 226 URGENT members were fresh, the rest stale payer errors refreshed by batch;
    // the wait ended after 21 s and the job failed with "no URGENT warm completed").
    const urgentSkipped = (rs: Row[]) => count(rs, (r) => r.priority === 'URGENT' && (r.outcome === 'skipped_fresh' || r.outcome === 'skipped_cached'));
    const urgentRealtime = (rs: Row[], outcome?: (o: string) => boolean) => count(rs, (r) => r.priority === 'URGENT' && r.path === 'realtime' && (!outcome || outcome(r.outcome)));
    // The consumer routes the run's events into jobs over a while (longer with a worker backlog): the wait does not end
    // before no new warm record has appeared for 10 s, or it would judge the first few jobs only.
    let seenRows = -1;
    let rowsStableSince = Date.now();
    for (;;) {
      const total = count(rows, () => true);
      if (total !== seenRows) {
        seenRows = total;
        rowsStableSince = Date.now();
      }
      const routed = total > 0 && Date.now() - rowsStableSince >= 10_000;
      const urgent = count(rows, (r) => r.priority === 'URGENT');
      const pending = urgentRealtime(rows, (o) => o === 'pending');
      const settled = urgentRealtime(rows, (o) => o === 'warmed' || o === 'failed');
      if (urgent > 0 && routed && Date.now() - started > 20_000 && (pending === 0 || settled >= Math.min(minWarmed, urgentRealtime(rows)))) break;
      if (Date.now() - started > waitMs) break;
      await new Promise((r) => setTimeout(r, 2_000));
      rows = await tally();
    }
    // High-confidence members as the predictor saw them in this run; their hashes find their warm records.
    const high = (
      await pg.query<{ member_id: string }>(
        `select member_id from member_predictions where app_usage_probability > 0.9 and computed_at >= to_timestamp($1 / 1000.0) - interval '1 day'`,
        [sinceMs],
      )
    ).rows.map((r) => r.member_id);
    // Members this run warmed, or found already warm: each must be served by CACHE_ONLY.
    const warmed = new Set(
      (
        await pg.query<{ member_hash: string }>(
          `select distinct w.member_hash from cache_warms w join cache_warming_jobs j using (job_id)
            where j.source = $1 and j.created_at >= to_timestamp($2 / 1000.0) and w.priority = 'URGENT'
              and w.outcome in ('warmed', 'skipped_fresh', 'skipped_cached')`,
          [source, sinceMs - 5_000],
        )
      ).rows.map((r) => r.member_hash),
    );
    let hits = 0;
    let warmedButMissing = 0;
    for (let i = 0; i < high.length; i += 50) {
      await Promise.all(
        high.slice(i, i + 50).map(async (memberId) => {
          const wasWarmed = warmed.has(hashMemberId(config.cache.keySecret, memberId));
          try {
            const res = await client.checkEligibility({ memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers });
            if (res.cacheStatus === CacheStatus.HIT || res.cacheStatus === CacheStatus.ERROR) hits += 1;
            else if (wasWarmed) warmedButMissing += 1;
          } catch {
            if (wasWarmed) warmedButMissing += 1;
          }
        }),
      );
    }
    const byPath = (path: string) => count(rows, (r) => r.path === path && r.outcome !== 'pending' && r.outcome !== 'skipped_fresh' && r.outcome !== 'skipped_cached');
    console.log(
      JSON.stringify({
        step: 'cache warming from that run (member-cron consumer → warming jobs)',
        seconds: Number(((Date.now() - started) / 1000).toFixed(2)),
        highConfidenceMembers: high.length,
        routed: { urgent: count(rows, (r) => r.priority === 'URGENT'), preload: count(rows, (r) => r.priority === 'PRELOAD') },
        urgentWarmed: count(rows, (r) => r.priority === 'URGENT' && r.outcome === 'warmed'),
        urgentStillPending: count(rows, (r) => r.priority === 'URGENT' && r.outcome === 'pending'),
        urgentFailed: count(rows, (r) => r.priority === 'URGENT' && r.outcome === 'failed'),
        urgentStaleRefreshedByBatchApi: count(rows, (r) => r.priority === 'URGENT' && r.path === 'batch_api'),
        skippedAlreadyFresh: count(rows, (r) => r.outcome === 'skipped_fresh' || r.outcome === 'skipped_cached'),
        cacheOnlyHitsAmongHighConfidence: hits,
        stediCallsByPath: { realtime: byPath('realtime'), batchApi: byPath('batch_api') },
        note: `warming continues in the background; GetWarmingStats and rte_cache_warming_* report it${leadScale < 1 ? `. With WARMING_LEAD_SCALE ${leadScale} the member-cron horizons close within seconds, before any warm completes, so their cache_hits_avoided and prediction_accuracy read 0 (docs/warming-stats.md)` : ''}`,
      }),
    );
    if (count(rows, () => true) === 0) failures.push('warming: the member-cron run produced no warming job (is the member-cron consumer running?)');
    else if (high.length > 0 && count(rows, (r) => r.priority === 'URGENT') === 0) failures.push('warming: high-confidence members were not routed URGENT');
    else if (high.length > 0 && urgentRealtime(rows, (o) => o === 'warmed') === 0 && urgentRealtime(rows, (o) => o === 'pending') > 0) {
      failures.push(`warming: no URGENT real-time warm completed within the wait (${urgentRealtime(rows, (o) => o === 'pending')} still pending, ${urgentSkipped(rows)} already fresh)`);
    }
    if (warmedButMissing > 0) failures.push(`warming: ${warmedButMissing} members recorded as warmed or already fresh are not served by CACHE_ONLY`);
  } finally {
    await pg.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
