import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createConfiguredEligibilityCache, type EligibilityCache } from '../../activities/cache';
import { simCounts } from '../../bench/batch-harness';
import { CacheWarmingService, WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import { createPgMemberListStore } from '../../activities/batch/pg-stores';
import { createWarmingIntake } from '../../lib/temporal/warming-jobs';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import type { CoverageSummary } from '../../lib/coverage-summary';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { cancelWarmingUpdate, pauseWarmingSignal, warmingStatusQuery, type WarmingStatusView } from '../../workflows/warming.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { DEFAULT_TIME_ZONE, hourWindowSlot } from '../../lib/batch/windows';
import { uniqueName } from '../helpers/temporal';
import { eventually } from '../helpers/sim-checks';
import { observeWarmingEvents } from '../helpers/warming-events';
import { CacheWarmingEvent_EventType } from '../../gen/rte/v1/events_pb';

/**
 * Cache warming end to end on the real platform: WarmCache through the API, cacheWarmingWorkflow and its child
 * batches on a worker built by the production composition root, the Redis cache, cache_warms in PostgreSQL, and the
 * Stedi simulator's own request counts per path (real-time vs batch API). Sim time ×0.01; batch polls every 0.5 s.
 */

const OP = 'check_eligibility';
const H = 3_600_000;
const summary: CoverageSummary = {
  status: 'active',
  payer: { id: 'P', name: 'Payer' },
  plan: { name: 'Plan', number: 'P1', groupNumber: 'G1', insuranceType: null },
  coverage: { start: '2026-01-01', end: null },
  benefits: [],
  errors: [],
};
const payerError: CoverageSummary = { ...summary, status: 'error', errors: [{ code: '42', description: 'Unable to Respond at Current Time', followupAction: 'Resubmission Allowed' }] };

type State = 'missing' | 'fresh' | 'stale' | 'error';
const STATES: State[] = ['missing', 'fresh', 'stale', 'error'];
type Expect = 'realtime' | 'batch_api' | 'skipped_fresh' | 'skipped_cached';

/** The design doc's table, per (strategy, priority) case and cache state. */
const CASES: Array<{ name: string; strategy: S; priority: P; expect: Record<State, Expect> }> = [
  { name: 'INTELLIGENT URGENT', strategy: S.INTELLIGENT, priority: P.URGENT, expect: { missing: 'realtime', fresh: 'skipped_fresh', stale: 'batch_api', error: 'skipped_fresh' } },
  { name: 'INTELLIGENT PRELOAD', strategy: S.INTELLIGENT, priority: P.PRELOAD, expect: { missing: 'batch_api', fresh: 'skipped_fresh', stale: 'batch_api', error: 'skipped_fresh' } },
  { name: 'FORCE PRELOAD', strategy: S.FORCE, priority: P.PRELOAD, expect: { missing: 'realtime', fresh: 'realtime', stale: 'realtime', error: 'realtime' } },
  { name: 'FILL_ONLY URGENT', strategy: S.FILL_ONLY, priority: P.URGENT, expect: { missing: 'batch_api', fresh: 'skipped_cached', stale: 'skipped_cached', error: 'skipped_cached' } },
];
const PER_STATE = 3;

describe('cache warming (integration)', () => {
  let p: TestPlatform;
  let cache: EligibilityCache;
  let pool: MemberRecord[];
  let token: string;
  const client = () => createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
  const auth = (extra: Record<string, string> = {}) => ({ headers: { authorization: `Bearer ${token}`, ...extra } });
  const hash = (id: string) => hashMemberId(p.config.cache.keySecret, id);

  beforeAll(async () => {
    p = await startTestPlatform({ population: 300, sim: { logger: silentLogger() }, env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' } });
    cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
    pool = p.members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode));
    token = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-warm');
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 60_000);

  async function seed(memberId: string, state: State): Promise<void> {
    const now = Date.now();
    if (state === 'fresh') await cache.put({ memberId, operation: OP, summary, outcome: 'success', source: 'realtime', fetchedAt: now - 60_000 });
    if (state === 'stale') await cache.put({ memberId, operation: OP, summary, outcome: 'success', source: 'realtime', fetchedAt: now - 23 * H });
    if (state === 'error') await cache.put({ memberId, operation: OP, summary: payerError, outcome: 'error', source: 'realtime', fetchedAt: now - 30_000 });
  }

  async function finalView(jobId: string): Promise<WarmingStatusView> {
    return (await p.temporal.workflow.getHandle(jobId).result()) as WarmingStatusView;
  }

  let offset = 0;
  it.each(CASES)('$name: each cache state does what the doc says, by the simulator’s own counts per path', async (c) => {
    const members: Array<{ id: string; state: State }> = [];
    for (const state of STATES) for (let k = 0; k < PER_STATE; k++) members.push({ id: pool[offset++]!.memberId, state });
    for (const m of members) await seed(m.id, m.state);
    const want = (e: Expect) => members.filter((m) => c.expect[m.state] === e);
    p.sim.resetStats();

    const res = await client().warmCache({ memberIds: members.map((m) => m.id), strategy: c.strategy, priority: c.priority, source: 'it-strategies' }, auth());
    expect(res.warmingJobId).toMatch(/^warming\/it-strategies\/api-/);
    const skipped = want('skipped_fresh').length + want('skipped_cached').length;
    expect(res.membersSkipped).toBe(skipped);
    expect(res.membersQueued).toBe(members.length - skipped);
    expect(Number(res.estimatedCompletion!.seconds) * 1000).toBeGreaterThanOrEqual(Date.now() - 60_000);

    const v = await finalView(res.warmingJobId);
    expect(['COMPLETED', 'PARTIALLY_COMPLETED']).toContain(v.status);

    // What Stedi saw, per path: exactly the members the table routes there, nothing else.
    const sim = simCounts(p.sim);
    // Transient answers (payer connectivity AAA codes, injected 5xx) are retried: count final answers only.
    const transient = Object.entries(p.sim.stats().answers)
      .filter(([k]) => k === 'fault-5xx' || (k.startsWith('aaa-') && isConnectivityCode(k.slice(4))))
      .reduce((n, [, v]) => n + v, 0);
    expect(sim.realtimeCalls - transient).toBe(want('realtime').length);
    expect(sim.batchItems).toBe(want('batch_api').length);
    expect(sim.batchesAccepted).toBe(want('batch_api').length > 0 ? 1 : 0);

    // cache_warms: one row per member × operation with the decided path and a final outcome.
    const rows = await p.directory.pool.query<{ member_hash: string; path: string; outcome: string; completed_at: Date | null; horizon_until: Date | null; reason: string | null }>(
      'SELECT member_hash, path, outcome, completed_at, horizon_until, reason FROM cache_warms WHERE job_id = $1',
      [res.warmingJobId],
    );
    expect(rows.rows).toHaveLength(members.length);
    const byHash = new Map(rows.rows.map((r) => [r.member_hash, r]));
    for (const m of members) {
      const r = byHash.get(hash(m.id))!;
      const e = c.expect[m.state];
      if (e === 'skipped_fresh' || e === 'skipped_cached') {
        expect({ path: r.path, outcome: r.outcome }).toEqual({ path: 'none', outcome: e });
        continue;
      }
      expect(r.path).toBe(e);
      expect(['warmed', 'failed']).toContain(r.outcome);
      const entry = await cache.get(m.id, OP);
      if (r.outcome === 'warmed') {
        // The warmed entry is marked as such, and completed_at is exactly its fetchedAt; horizon = +24 h.
        expect(entry?.source).toBe('warming');
        expect(r.completed_at?.getTime()).toBe(entry?.fetchedAt);
        expect(r.horizon_until!.getTime() - r.completed_at!.getTime()).toBe(24 * H);
      } else {
        expect(r.reason).toBeTruthy();
      }
    }
    expect(v.counters.outcomes.pending).toBe(0);
    expect(v.counters.outcomes.warmed + v.counters.outcomes.failed).toBe(want('realtime').length + want('batch_api').length);

    const job = await p.directory.pool.query<{ status: string; source: string }>('SELECT status, source FROM cache_warming_jobs WHERE job_id = $1', [res.warmingJobId]);
    expect(job.rows[0]).toEqual({ status: v.status, source: 'it-strategies' });
  }, 180_000);

  it('the same idempotency-key answers the same job and warms nothing twice', async () => {
    const ids = pool.slice(offset, offset + 4).map((m) => m.memberId);
    offset += 4;
    const key = uniqueName('idem');
    p.sim.resetStats();
    const a = await client().warmCache({ memberIds: ids, priority: P.URGENT, source: 'it-idem' }, auth({ 'idempotency-key': key }));
    await finalView(a.warmingJobId);
    const b = await client().warmCache({ memberIds: ids, priority: P.URGENT, source: 'it-idem' }, auth({ 'idempotency-key': key }));
    expect(b.warmingJobId).toBe(a.warmingJobId);
    // The same ids in another order are the same request.
    const c = await client().warmCache({ memberIds: [...ids].reverse(), priority: P.URGENT, source: 'it-idem' }, auth({ 'idempotency-key': key }));
    expect(c.warmingJobId).toBe(a.warmingJobId);
    // The key reused for a different request (other members; another strategy) is refused, not answered with the
    // first request's job: nothing of the second request would have been warmed.
    const other = pool.slice(offset, offset + 2).map((m) => m.memberId);
    offset += 2;
    for (const req of [
      { memberIds: other, priority: P.URGENT, source: 'it-idem' },
      { memberIds: ids, priority: P.URGENT, strategy: S.FORCE, source: 'it-idem' },
    ]) {
      const err = await client()
        .warmCache(req, auth({ 'idempotency-key': key }))
        .then(() => undefined, (e: unknown) => ConnectError.from(e));
      expect(err?.code).toBe(Code.AlreadyExists);
      expect(err?.rawMessage).toMatch(/idempotency-key/);
    }
    expect(simCounts(p.sim).realtimeCalls).toBe(4);
  }, 120_000);

  it('a repeat of a job that already ended FAILED or CANCELLED says so: nothing queued, when it ended, its status and reason', async () => {
    const observer = await observeWarmingEvents(p.config.kafka.brokers);
    // All unknown members: every warm fails (no Stedi call), the job ends FAILED.
    const keyF = uniqueName('idem-failed');
    const unknownIds = [`NO-SUCH-${keyF}-1`, `NO-SUCH-${keyF}-2`];
    const first = await client().warmCache({ memberIds: unknownIds, priority: P.URGENT, source: 'it-idem-ended' }, auth({ 'idempotency-key': keyF }));
    expect(first.membersQueued).toBe(2);
    const failed = await finalView(first.warmingJobId);
    expect(failed.status).toBe('FAILED');
    const again = await client().warmCache({ memberIds: unknownIds, priority: P.URGENT, source: 'it-idem-ended' }, auth({ 'idempotency-key': keyF }));
    expect(again).toMatchObject({ warmingJobId: first.warmingJobId, membersQueued: 0, status: BatchStatus.FAILED, reason: '2 failed of 2 warms' });
    expect(timestampMs(again.estimatedCompletion!)).toBe(failed.finishedAtMs);
    // The real-time path's unknown-member failures group into one reason (no per-member text), as the batch API's.
    const failedJob = await client().getWarmingJob({ jobId: first.warmingJobId }, auth());
    expect(failedJob.failureReasons.map((r) => ({ reason: r.reason, count: r.count }))).toEqual([{ reason: 'MemberNotFoundError: member is not in the directory', count: 2 }]);
    // Its FAILED CacheWarmingEvent says why, in GetWarmingJob's words.
    try {
      await eventually('the FAILED event', () => (observer.byJob.get(first.warmingJobId) ?? []).some((e) => e.eventType === CacheWarmingEvent_EventType.FAILED));
      const failedEvent = observer.byJob.get(first.warmingJobId)!.find((e) => e.eventType === CacheWarmingEvent_EventType.FAILED)!;
      expect(failedEvent.errorMessage).toBe(failedJob.reason);
      expect(failedEvent.errorMessage).toBe('2 failed of 2 warms; most common: MemberNotFoundError: member is not in the directory (2)');

      // Cancelled through cancelWarming (BACKGROUND: its batch waits for the batch API), then repeated.
      const keyC = uniqueName('idem-cancelled');
      const ids = pool.slice(offset, offset + 2).map((m) => m.memberId);
      offset += 2;
      const started = await client().warmCache({ memberIds: ids, priority: P.BACKGROUND, source: 'it-idem-ended' }, auth({ 'idempotency-key': keyC }));
      const cancelled = await p.temporal.workflow.getHandle(started.warmingJobId).executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'wrong list' }] });
      expect(cancelled.status).toBe('CANCELLED');
      const repeat = await client().warmCache({ memberIds: ids, priority: P.BACKGROUND, source: 'it-idem-ended' }, auth({ 'idempotency-key': keyC }));
      expect(repeat).toMatchObject({ warmingJobId: started.warmingJobId, membersQueued: 0, status: BatchStatus.CANCELLED, reason: 'cancelled: wrong list' });
      expect(timestampMs(repeat.estimatedCompletion!)).toBe(cancelled.finishedAtMs);
      // Its CacheWarmingEvent is CANCELLED (never COMPLETED), says why, and its counts add up to the members requested.
      await eventually('the CANCELLED event', () => (observer.byJob.get(started.warmingJobId) ?? []).some((e) => e.eventType === CacheWarmingEvent_EventType.CANCELLED));
      const events = observer.byJob.get(started.warmingJobId)!;
      expect(events.map((e) => e.eventType)).toEqual([CacheWarmingEvent_EventType.QUEUED, CacheWarmingEvent_EventType.CANCELLED]);
      const end = events[1]!;
      expect(end.errorMessage).toBe('cancelled: wrong list');
      expect(end.membersRequested).toBe(2);
      expect(end.membersCancelled).toBeGreaterThan(0);
      expect(end.membersWarmed + end.membersSkipped + end.membersFailed + end.membersCancelled).toBe(2);
    } finally {
      await observer.stop();
    }
  }, 120_000);

  it('concurrent repeats of one request with one idempotency-key spend one rate-limit unit between them, as sequential repeats spend none', async () => {
    const caller = uniqueName('svc-warm-cc');
    const ccToken = await p.token(['rte:warming:write', 'rte:warming:read'], caller);
    const ids = pool.slice(offset, offset + 2).map((m) => m.memberId);
    offset += 2;
    const key = uniqueName('idem-cc');
    const res = await Promise.all(
      Array.from({ length: 6 }, () => client().warmCache({ memberIds: ids, priority: P.URGENT, source: 'it-idem-cc' }, { headers: { authorization: `Bearer ${ccToken}`, 'idempotency-key': key } })),
    );
    expect(new Set(res.map((r) => r.warmingJobId)).size).toBe(1);
    const units = () => p.redis.zcard(`${p.config.redisKeyPrefix}warm-cache:batch-submit-rate:{${caller}}`);
    expect(await units()).toBe(1);
    await finalView(res[0]!.warmingJobId);
    await client().warmCache({ memberIds: ids, priority: P.URGENT, source: 'it-idem-cc' }, { headers: { authorization: `Bearer ${ccToken}`, 'idempotency-key': key } });
    expect(await units()).toBe(1);
  }, 120_000);

  it('two concurrent first calls with one idempotency-key and different members: one job, of one request, and the other is refused', async () => {
    // Both calls find no job for the key and start at once. The job that runs must warm the members of the call it
    // answered, never the other call's (before, both staged their ids under one list, so a job could warm the
    // other request's members while its caller was told its own were queued).
    for (let round = 0; round < 3; round++) {
      const a = pool.slice(offset, offset + 3).map((m) => m.memberId);
      const b = pool.slice(offset + 3, offset + 6).map((m) => m.memberId);
      offset += 6;
      const key = uniqueName('idem-race');
      const settled = await Promise.allSettled([a, b].map((ids) => client().warmCache({ memberIds: ids, priority: P.URGENT, source: 'it-idem-race' }, auth({ 'idempotency-key': key }))));
      const won = settled.flatMap((r, i) => (r.status === 'fulfilled' ? [{ ids: i === 0 ? a : b, other: i === 0 ? b : a, res: r.value }] : []));
      const refused = settled.flatMap((r) => (r.status === 'rejected' ? [ConnectError.from(r.reason)] : []));
      expect(won).toHaveLength(1);
      expect(refused.map((e) => e.code)).toEqual([Code.AlreadyExists]);
      const view = await finalView(won[0]!.res.warmingJobId);
      expect(view.counters.members).toBe(3);
      for (const id of won[0]!.ids) expect(await cache.get(id, OP)).not.toBeNull();
      for (const id of won[0]!.other) expect(await cache.get(id, OP)).toBeNull();
    }
  }, 180_000);

  it('GetWarmingJob: the caller reads its job (status, counts and failure reasons = cache_warms, times); others see not_found; held, paused, terminated and past-retention jobs say why', async () => {
    const ids = pool.slice(offset, offset + 3).map((m) => m.memberId);
    offset += 3;
    const res = await client().warmCache({ memberIds: [...ids, 'NO-SUCH-MEMBER-1'], priority: P.URGENT, source: 'it-job' }, auth());
    await finalView(res.warmingJobId);
    const job = await client().getWarmingJob({ jobId: res.warmingJobId }, auth());
    expect(job.lastKnown).toBe(false);
    expect(job).toMatchObject({ jobId: res.warmingJobId, source: 'it-job', priority: P.URGENT, strategy: S.INTELLIGENT, operations: [OP], members: 4 });
    expect(job.status).toBe(BatchStatus.PARTIALLY_COMPLETED);
    // Counts are the durable records', and the unknown member's failure says why.
    const rows = await p.directory.pool.query<{ outcome: string; n: string }>('SELECT outcome, count(*) AS n FROM cache_warms WHERE job_id = $1 GROUP BY outcome', [res.warmingJobId]);
    const byOutcome = Object.fromEntries(rows.rows.map((r) => [r.outcome, Number(r.n)]));
    expect(job.counts).toMatchObject({ warmed: byOutcome['warmed'] ?? 0, failed: byOutcome['failed'] ?? 0, pending: 0 });
    expect(job.counts!.failed).toBeGreaterThanOrEqual(1);
    expect(job.failureReasons.some((r) => /not in the directory/.test(r.reason) && r.count >= 1)).toBe(true);
    expect(job.reason).toMatch(/failed of 4 warms; most common: /);
    expect(Number(job.finishedAt!.seconds)).toBeGreaterThanOrEqual(Number(job.createdAt!.seconds));

    const codeOf = (pr: Promise<unknown>) => pr.then(() => undefined, (e: unknown) => ConnectError.from(e));
    const other = { headers: { authorization: `Bearer ${await p.token(['rte:warming:read'], 'svc-other')}` } };
    const unknown = await codeOf(client().getWarmingJob({ jobId: 'warming/it-job/api-00000000000000000000000000000000' }, auth()));
    const foreign = await codeOf(client().getWarmingJob({ jobId: res.warmingJobId }, other));
    expect([unknown?.code, foreign?.code]).toEqual([Code.NotFound, Code.NotFound]);
    expect(foreign?.rawMessage).toBe(unknown?.rawMessage.replace('api-00000000000000000000000000000000', res.warmingJobId.split('/')[2]!));
    const admin = { headers: { authorization: `Bearer ${await p.token(['rte:admin'], 'svc-ops')}` } };
    expect((await client().getWarmingJob({ jobId: res.warmingJobId }, admin)).jobId).toBe(res.warmingJobId);
    const malformed = await codeOf(client().getWarmingJob({ jobId: 'batch/svc-warm/x' }, auth()));
    expect(malformed?.code).toBe(Code.InvalidArgument);
    expect(malformed?.rawMessage).toMatch(/^job_id: /);
    const writeOnly = { headers: { authorization: `Bearer ${await p.token(['rte:warming:write'], 'svc-warm')}` } };
    expect((await codeOf(client().getWarmingJob({ jobId: res.warmingJobId }, writeOnly)))?.code).toBe(Code.PermissionDenied);

    // A platform job (the member-cron intake; no owner) held until notBefore: PENDING, held until; then paused; then
    // terminated by an operator. Visible to every warming reader.
    const intake = createWarmingIntake(p.temporal, createPgMemberListStore(p.directory.pool), { taskQueue: p.config.temporal.taskQueue });
    const notBeforeMs = Date.now() + H;
    const { jobId } = await intake.accept({ source: 'it-job-held', priority: 'PRELOAD', strategy: 'INTELLIGENT', operations: [], memberIds: [pool[offset++]!.memberId], notBeforeMs, dedupeKey: uniqueName('held') });
    const h = p.temporal.workflow.getHandle(jobId);
    await eventually('the job to hold', async () => (await h.query(warmingStatusQuery)).waitingUntilMs !== undefined);
    const held = await client().getWarmingJob({ jobId }, other);
    expect(held.status).toBe(BatchStatus.PENDING);
    expect(Number(held.waitingUntil!.seconds)).toBe(Math.floor(notBeforeMs / 1000));
    expect(held.reason).toMatch(/^held until .* \(not before\)$/);
    await h.signal(pauseWarmingSignal, { by: 'ops-oncall' });
    await eventually('the job to pause', async () => (await h.query(warmingStatusQuery)).status === 'PAUSED');
    const paused = await client().getWarmingJob({ jobId }, other);
    expect([paused.status, paused.pausedBy, paused.reason]).toEqual([BatchStatus.PAUSED, 'ops-oncall', 'paused by ops-oncall']);
    await h.terminate('stuck job, see INC-42');
    const ended = await client().getWarmingJob({ jobId }, other);
    expect(ended.status).toBe(BatchStatus.FAILED);
    expect(ended.reason).toMatch(/terminated in Temporal.*INC-42/);
    expect(ended.finishedAt).toBeDefined();

    // Past Temporal's retention only the durable record is left: answered from it, marked last-known.
    const oldId = `warming/it-job/api-${uniqueName('old').replace(/[^A-Za-z0-9]/g, '').slice(-32)}`;
    await p.directory.pool.query(
      `INSERT INTO cache_warming_jobs (job_id, source, priority, strategy, created_at, finished_at, status, requested_by, status_reason, members, operations, updated_at)
       VALUES ($1, 'it-job', 'PRELOAD', 'FORCE', now() - interval '40 days', now() - interval '39 days', 'CANCELLED', 'svc-warm', 'cancelled: superseded', 7, ARRAY['check_eligibility'], now() - interval '39 days')`,
      [oldId],
    );
    const old = await client().getWarmingJob({ jobId: oldId }, auth());
    expect(old).toMatchObject({ status: BatchStatus.CANCELLED, reason: 'cancelled: superseded', members: 7, lastKnown: true, strategy: S.FORCE, priority: P.PRELOAD });
    expect((await codeOf(client().getWarmingJob({ jobId: oldId }, other)))?.code).toBe(Code.NotFound);
  }, 180_000);

  it('a BACKGROUND job’s estimated_completion is no earlier than its members’ LOW_UTILIZATION window (probe p15 #2)', async () => {
    // The zone whose window opens latest after New York's (the platform default the estimate used to assume): then a
    // New York estimate would end before the job may start.
    const now = Date.now();
    const nyOpens = hourWindowSlot('LOW_UTILIZATION', now, DEFAULT_TIME_ZONE).startMs;
    const zones = [...new Set(pool.map((m) => m.timeZone))].map((z) => ({ z, opens: hourWindowSlot('LOW_UTILIZATION', now, z).startMs })).sort((a, b) => b.opens - a.opens);
    const latest = zones[0]!;
    expect(latest.opens - nyOpens).toBeGreaterThan(p.config.warmCache.batchLatencyMs + 30 * 60_000);
    // From the end of the pool (other tests take theirs from the start): uncached, in that zone.
    const ids = pool.filter((m) => m.timeZone === latest.z).slice(-2).map((m) => m.memberId);
    expect(ids).toHaveLength(2);
    const source = uniqueName('it-bg-eta').replace(/[^A-Za-z0-9._:-]/g, '-');
    const res = await client().warmCache({ memberIds: ids, strategy: S.INTELLIGENT, priority: P.BACKGROUND, source }, auth());
    try {
      let waitingUntil = 0;
      await eventually('the job to wait for its window', async () => {
        const job = await client().getWarmingJob({ jobId: res.warmingJobId }, auth());
        waitingUntil = job.status === BatchStatus.WAITING && job.waitingUntil ? timestampMs(job.waitingUntil) : 0;
        return waitingUntil > 0;
      });
      const eta = timestampMs(res.estimatedCompletion!);
      console.log(`BACKGROUND eta ${new Date(eta).toISOString()} for ${latest.z}; waiting until ${new Date(waitingUntil).toISOString()}; New York window ${new Date(nyOpens).toISOString()}`);
      expect(waitingUntil).toBeGreaterThanOrEqual(latest.opens - 5 * 60_000);
      expect(eta).toBeGreaterThanOrEqual(waitingUntil);
      expect(eta).toBeLessThanOrEqual(waitingUntil + p.config.warmCache.batchLatencyMs + 60_000);
    } finally {
      await p.temporal.workflow.getHandle(res.warmingJobId).executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'test over' }] }).catch(() => undefined);
    }
  }, 120_000);

  it('1,001 member ids are refused naming member_ids, and no job starts', async () => {
    const source = uniqueName('it-limit').replace(/[^A-Za-z0-9._:-]/g, '-');
    const ids = Array.from({ length: 1_001 }, (_, i) => `M-${i}`);
    const err = await client()
      .warmCache({ memberIds: ids, priority: P.URGENT, source }, auth())
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toMatch(/^member_ids:/);
    const dup = await client()
      .warmCache({ memberIds: ['A', 'B', 'A'], source }, auth())
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(dup?.rawMessage).toMatch(/^member_ids\[2\]: duplicate/);
    const op = await client()
      .warmCache({ memberIds: ['A'], operations: ['nope'], source }, auth())
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(op?.rawMessage).toMatch(/^operations\[0\]:/);
    // A NUL reached PostgreSQL (internal) and " A" was queued to fail MemberNotFound: now refused with the field.
    for (const bad of ['A\u0000', ' A']) {
      const e = await client()
        .warmCache({ memberIds: ['B', bad], source }, auth())
        .then(() => undefined, (x: unknown) => ConnectError.from(x));
      expect([e?.code, e?.rawMessage]).toEqual([Code.InvalidArgument, 'member_ids[1]: must not contain whitespace, control or invisible characters (e.g. a zero-width space)']);
    }
    await new Promise((r) => setTimeout(r, 1_500));
    let started = 0;
    for await (const w of p.temporal.workflow.list({ query: `RteJobType = 'CACHE_WARMING' AND RteWarmingSource = '${source}'` })) if (w) started++;
    expect(started).toBe(0);
  }, 60_000);

  it('a caller without rte:warming:write is refused', async () => {
    const t = await p.token(['rte:warming:read'], 'svc-ro');
    const err = await client()
      .warmCache({ memberIds: ['A'] }, { headers: { authorization: `Bearer ${t}` } })
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.PermissionDenied);
    // A platform source (member-cron-*, schedule-*) would count a client's warms as the platform's predictions.
    const reserved = await client()
      .warmCache({ memberIds: ['A'], source: 'member-cron-daily-rte-warmup' }, auth())
      .then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect([reserved?.code, reserved?.rawMessage]).toEqual([Code.PermissionDenied, expect.stringMatching(/^source: "member-cron-daily-rte-warmup" is reserved/)]);
  });

  it('fairness: while URGENT warming saturates the pool, interactive BYPASS checks keep their reserved slots and all complete', async () => {
    const headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'], 'svc-app')}` };
    const interactive = pool.slice(offset, offset + 10).map((m) => m.memberId);
    offset += 10;
    const warmIds = pool.slice(offset, offset + 150).map((m) => m.memberId);
    offset += 150;
    const slots = p.workers[0]!.slotPool;
    const limit = p.config.slots.total;
    const reserved = p.config.slots.reservedInteractive;

    /** Two streams of BYPASS checks for `ms`; returns each check's latency (answers must be live: never HIT/STALE). */
    async function streams(ms: number): Promise<number[]> {
      const lat: number[] = [];
      const until = Date.now() + ms;
      await Promise.all(
        [0, 1].map(async (k) => {
          for (let i = k; Date.now() < until; i += 2) {
            const t0 = performance.now();
            const r = await p.eligibilityClient().checkEligibility({ memberId: interactive[i % interactive.length]!, cacheControl: CacheControl.BYPASS_CACHE }, { headers });
            lat.push(performance.now() - t0);
            expect([CacheStatus.MISS, CacheStatus.ERROR]).toContain(r.cacheStatus);
          }
        }),
      );
      return lat;
    }
    const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(0.95 * (xs.length - 1))]!;

    const alone = await streams(3_000);
    let maxNonInteractive = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const st = await slots.stats();
        maxNonInteractive = Math.max(maxNonInteractive, st.batchInUse);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const res = await client().warmCache({ memberIds: warmIds, strategy: S.FORCE, priority: P.URGENT, source: 'it-fairness' }, auth());
    const beside = await streams(3_000);
    const v = await finalView(res.warmingJobId);
    sampling = false;
    await sampler;
    console.log(`interactive BYPASS check p95: ${p95(alone).toFixed(0)} ms alone (n=${alone.length}), ${p95(beside).toFixed(0)} ms beside URGENT warming (n=${beside.length}); warming peak slots ${maxNonInteractive}/${limit}`);
    expect(v.counters.outcomes.pending).toBe(0);
    // Warming filled what it may use and never touched the interactive reservation.
    expect(maxNonInteractive).toBeGreaterThan(0);
    expect(maxNonInteractive).toBeLessThanOrEqual(limit - reserved);
    expect(beside.length).toBeGreaterThan(0);
  }, 180_000);
});
