import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { randomUUID } from 'node:crypto';
import { createConfiguredEligibilityCache, type EligibilityCache } from '../../activities/cache';
import { CacheWarmingService, WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecord } from '../../lib/member-record';
import type { CacheWarmingWorkflowInput, WarmingStatusView } from '../../workflows/warming.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { createSimCheckRecorder, eventually, plainMembers } from '../helpers/sim-checks';

/**
 * Issue 9: a warming job started with a MemberQuery selector by a REAL schedule tick. A ScheduleWarming schedule is
 * created through the platform's API (the tuning it puts in the action comes from the platform's config:
 * WARMING_PAGE_SIZE=20, WARMING_CONTINUE_AS_NEW_AFTER_EVENTS=1, i.e. continue-as-new after every page), triggered,
 * and its cacheWarmingWorkflow resolves the query over a private-schema population, pages through it across several
 * runs and ends with every matching member warmed exactly once through the Stedi batch API (the simulator's own
 * per-member count) and every other member untouched.
 */
jest.setTimeout(240_000);

const OP = 'check_eligibility';
const MATCHING = 70;
const PAGE = 20;

let p: TestPlatform;
let cache: EligibilityCache;
const sim = createSimCheckRecorder();
const name = `it-sched-${randomUUID().slice(0, 8)}`;
const scheduleId = `warming/${name}`;

beforeAll(async () => {
  p = await startTestPlatform({
    population: 300,
    sim: { logger: silentLogger(), onCheck: sim.onCheck },
    env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000', WARMING_PAGE_SIZE: String(PAGE), WARMING_CONTINUE_AS_NEW_AFTER_EVENTS: '1' },
  });
  cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
}, 120_000);

afterAll(async () => {
  await p?.temporal.schedule.getHandle(scheduleId).delete().catch(() => undefined);
  await p?.close();
}, 60_000);

test('a triggered ScheduleWarming tick resolves its MemberQuery, continues-as-new between pages, and warms every matching member exactly once', async () => {
  // The population: the predictor's probabilities (written by createTestDirectory) pushed below the schedule's
  // threshold for everyone, then MATCHING members (plain simulator answers) set above it.
  const plain = plainMembers(p.members);
  expect(plain.length).toBeGreaterThanOrEqual(MATCHING);
  const matching = plain.slice(0, MATCHING);
  const matchingIds = new Set(matching.map((m) => m.memberId));
  const others: MemberRecord[] = p.members.filter((m) => !matchingIds.has(m.memberId));
  await p.directory.pool.query('UPDATE member_predictions SET app_usage_probability = LEAST(app_usage_probability, 0.5)');
  await p.directory.pool.query(
    `INSERT INTO member_predictions (member_id, app_usage_probability, confidence, model_version, computed_at)
     SELECT unnest($1::text[]), 0.95, 0.9, 'it', now()
     ON CONFLICT (member_id) DO UPDATE SET app_usage_probability = 0.95`,
    [[...matchingIds]],
  );

  const token = await p.token(['rte:warming:write'], 'svc-sched');
  const warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
  const res = await warming.scheduleWarming(
    { scheduleName: name, cronExpression: '0 4 * * *', memberQuery: { minAppUsageProbability: 0.8 }, strategy: S.INTELLIGENT, priority: P.PRELOAD, enabled: true },
    { headers: { authorization: `Bearer ${token}` } },
  );
  expect(res.scheduleId).toBe(scheduleId);
  // The platform's tuning travels in the schedule's action input.
  const schedule = p.temporal.schedule.getHandle(scheduleId);
  const action = (await schedule.describe()).action as { args: CacheWarmingWorkflowInput[] };
  expect(action.args[0]?.tuning).toMatchObject({ pageSize: PAGE, continueAsNewAfterEvents: 1, batch: { pollBackoff: { initialMs: 500, maxMs: 1_000 } } });

  const t0 = performance.now();
  await schedule.trigger();
  let workflowId = '';
  await eventually('the scheduled run to start', async () => {
    const d = await schedule.describe();
    workflowId = d.info.runningActions[0]?.workflow.workflowId ?? d.info.recentActions[0]?.action.workflow.workflowId ?? '';
    return workflowId !== '';
  });
  const firstRunId = (await p.temporal.workflow.getHandle(workflowId).describe()).runId;
  // result() follows the continue-as-new chain to the last run.
  const v = (await p.temporal.workflow.getHandle(workflowId, firstRunId).result()) as WarmingStatusView;
  const wallMs = performance.now() - t0;
  expect(v.jobId).toBe(workflowId);
  expect(v.source).toBe(`schedule-${name}`);
  expect(v.status).toBe('COMPLETED');
  expect(v.counters.members).toBe(MATCHING);
  expect(v.counters.membersPlanned).toBe(MATCHING);
  expect(v.counters.batchApi).toBe(MATCHING);
  expect(v.counters.realtime).toBe(0);
  expect(v.counters.outcomes).toMatchObject({ warmed: MATCHING, pending: 0, failed: 0, cancelled: 0 });

  // The chain: one run per page (continue-as-new after each page that leaves members), every earlier run ended
  // CONTINUED_AS_NEW.
  const pages = Math.ceil(MATCHING / PAGE);
  const runs: Array<{ runId: string; status: string }> = [];
  await eventually(
    'every run of the chain to be visible',
    async () => {
      runs.length = 0;
      for await (const w of p.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push({ runId: w.runId, status: w.status.name });
      return runs.length >= pages && runs.filter((r) => r.status === 'CONTINUED_AS_NEW').length === pages - 1;
    },
    30_000,
    500,
  );
  expect(runs).toHaveLength(pages);
  expect(runs.filter((r) => r.status === 'COMPLETED')).toHaveLength(1);

  // The simulator's own count: each matching member exactly one batch-API item, no real-time call; nobody else.
  const batch = sim.callsOf(matching, 'batch');
  for (const m of matching) expect({ m: m.memberId, items: batch.get(m.memberId) }).toEqual({ m: m.memberId, items: 1 });
  expect(sim.count(matching, 'realtime')).toBe(0);
  expect(sim.count(others, 'batch') + sim.count(others, 'realtime')).toBe(0);
  expect(sim.checks).toHaveLength(MATCHING);
  expect(p.sim.stats().batches.submitted).toBe(pages);

  // The records and the cache agree: one warmed row per matching member (no loss, no repeat across runs).
  const rows = await p.directory.pool.query<{ member_hash: string; outcome: string; path: string; source: string }>(
    'SELECT member_hash, outcome, path, source FROM cache_warms WHERE job_id = $1',
    [workflowId],
  );
  expect(rows.rows.map((r) => r.member_hash).sort()).toEqual(matching.map((m) => hashMemberId(p.config.cache.keySecret, m.memberId)).sort());
  for (const r of rows.rows) expect(r).toMatchObject({ outcome: 'warmed', path: 'batch_api', source: `schedule-${name}` });
  for (const m of matching) expect((await cache.get(m.memberId, OP))?.source).toBe('warming');
  for (const m of others) expect(await cache.get(m.memberId, OP)).toBeNull();

  console.log(`warming schedule tick: ${MATCHING} of ${p.members.length} members matched, ${pages} pages in ${runs.length} runs, ${pages} Stedi batches, wall ${(wallMs / 1000).toFixed(1)} s`);
});
