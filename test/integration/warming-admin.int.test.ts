/**
 * ScheduleWarming and GetWarmingStats through a real API server (auth and audit interceptors included) against the
 * dev stack's Temporal and PostgreSQL (a private schema). Schedule names are unique per run and deleted afterwards.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Client as RpcClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { ScheduleNotFoundError, type Client, type Connection } from '@temporalio/client';
import { connectTemporalClient } from '../../lib/temporal/connect';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CacheWarmingService, GetWarmingStatsRequestSchema, WarmCacheRequest_Priority, WarmingStrategy } from '../../gen/rte/v1/warming_pb';
import { SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { createPgWarmingStatsReader } from '../../activities/warming-usage';
import { createTokenVerifier } from '../../api/auth';
import { createApiServer, type ApiServer } from '../../api/server';
import { createGetWarmingStatsHandler, createScheduleWarmingHandler } from '../../api/services/warming-admin';
import { createWarmingService } from '../../api/services/warming-service';
import { createTestDirectory, type TestDirectory } from '../../directory/test-support';
import { createPgMemberDirectory } from '../../directory/pg-member-directory';
import { loadConfig } from '../../lib/config';
import { nextCronTimes, parseCron } from '../../lib/cron';
import { mintDevToken } from '../../lib/dev-token';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { aggregateWarmRows, computeWarmingStats, type WarmRow } from '../../lib/warming/stats';
import { applyWarmingSchedules, createTemporalWarmingScheduleStore, desiredWarmingSchedule, upsertWarmingSchedule } from '../../schedules/warming';
import { parseWarmingScheduleFile } from '../../schedules/warming-load';

const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', API_PORT: '0' });
const secret = config.auth.mode === 'dev-hs256' ? config.auth.devSecret : '';
const H = 3_600_000;
/** GetWarmingStats "now" (fixed: which horizons have closed is part of the expected figures). */
const NOW = Date.parse('2024-11-17T00:00:00.000Z');
const T0 = Date.parse('2024-11-15T00:00:00.000Z');

let dir: TestDirectory;
let connection: Connection;
let temporal: Client;
let api: ApiServer;
let warming: RpcClient<typeof CacheWarmingService>;
let writeHeaders: Record<string, string>;
let readHeaders: Record<string, string>;
const taskQueue = `tq-warm-ops-${randomUUID().slice(0, 8)}`;
const created: string[] = [];

beforeAll(async () => {
  dir = await createTestDirectory({ seed: 3, population: 0 });
  ({ connection, client: temporal } = await connectTemporalClient(config));
  const logger = silentLogger();
  const metrics = createMetrics('test-warm-ops');
  api = createApiServer({
    logger,
    metrics,
    verifyToken: createTokenVerifier(config.auth),
    routes: (router) =>
      router.service(CacheWarmingService, {
        ...createWarmingService(),
        scheduleWarming: createScheduleWarmingHandler({ schedules: createTemporalWarmingScheduleStore(temporal), taskQueue, logger, checkMemberQuery: (q) => createPgMemberDirectory(dir.pool).checkQuery(q) }),
        getWarmingStats: createGetWarmingStatsHandler({ records: createPgWarmingStatsReader(dir.pool), now: () => NOW }),
      }),
    checks: {},
  });
  const port = await api.server.listen(0, '127.0.0.1');
  warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: '1.1' }));
  writeHeaders = { authorization: `Bearer ${await mintDevToken({ service: 'ops-test', scopes: ['rte:warming:write'], secret })}` };
  readHeaders = { authorization: `Bearer ${await mintDevToken({ service: 'ops-test', scopes: ['rte:warming:read'], secret })}` };
});

afterAll(async () => {
  for (const id of created) await temporal.schedule.getHandle(id).delete().catch(() => undefined);
  await api?.server.close(1_000);
  await connection?.close();
  await dir?.drop();
});

async function codeOf(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    const ce = ConnectError.from(err);
    return { code: ce.code, message: ce.rawMessage };
  }
  throw new Error('call succeeded');
}

async function exists(scheduleId: string): Promise<boolean> {
  try {
    await temporal.schedule.getHandle(scheduleId).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

const nextAfter = (cron: string, after: Date) => nextCronTimes(parseCron(cron), after, 1)[0]!.getTime();

describe('ScheduleWarming on real Temporal (integration)', () => {
  it('create → same call again → update → disable (next_run unset, paused) → enable', async () => {
    const name = `ops-${randomUUID().slice(0, 8)}`;
    const id = `warming/${name}`;
    created.push(id);
    const base = {
      scheduleName: name,
      cronExpression: '0 4 * * *',
      memberQuery: { hasRteEnabled: true, minAppUsageProbability: 0.8 },
      strategy: WarmingStrategy.INTELLIGENT,
      priority: WarmCacheRequest_Priority.PRELOAD,
      enabled: true,
    };
    const before = new Date();
    const first = await warming.scheduleWarming(base, { headers: writeHeaders });
    expect(first.scheduleId).toBe(id);
    expect(timestampMs(first.nextRun!)).toBe(nextAfter('0 4 * * *', before));
    let desc = await temporal.schedule.getHandle(id).describe();
    expect(desc.state.paused).toBe(false);
    expect(desc.action).toMatchObject({ type: 'startWorkflow', workflowType: 'cacheWarmingWorkflow', taskQueue });
    // The action's input is cacheWarmingWorkflow's contract (workflows/warming.defs.ts); jobId '' = the run's own id.
    expect((desc.action as { args: unknown[] }).args[0]).toEqual({
      jobId: '',
      source: `schedule-${name}`,
      scheduleName: name,
      selector: { kind: 'query', query: { hasRteEnabled: true, minAppUsageProbability: 0.8 } },
      strategy: 'INTELLIGENT',
      priority: 'PRELOAD',
      operations: ['check_eligibility'],
    });

    // Idempotent: the same request changes nothing (no update, same next run).
    const again = await warming.scheduleWarming(base, { headers: writeHeaders });
    expect(again).toMatchObject({ scheduleId: id });
    expect(timestampMs(again.nextRun!)).toBe(timestampMs(first.nextRun!));

    const updated = await warming.scheduleWarming(
      { ...base, cronExpression: '30 5 * * *', strategy: WarmingStrategy.FORCE, priority: WarmCacheRequest_Priority.URGENT },
      { headers: writeHeaders },
    );
    expect(timestampMs(updated.nextRun!)).toBe(nextAfter('30 5 * * *', new Date()));
    desc = await temporal.schedule.getHandle(id).describe();
    expect((desc.action as { args: { strategy: string; priority: string }[] }).args[0]).toMatchObject({ strategy: 'FORCE', priority: 'URGENT' });
    expect(desc.info.nextActionTimes[0]?.getTime()).toBe(timestampMs(updated.nextRun!));

    const disabled = await warming.scheduleWarming({ ...base, cronExpression: '30 5 * * *', enabled: false }, { headers: writeHeaders });
    expect(disabled.scheduleId).toBe(id);
    expect(disabled.nextRun).toBeUndefined();
    const pausedDesc = await temporal.schedule.getHandle(id).describe();
    expect(pausedDesc.state.paused).toBe(true);
    // An operator sees who disabled it (before: "paused by ScheduleWarming: enabled=false", no service).
    expect(pausedDesc.state.note).toBe('paused by ScheduleWarming (caller ops-test): enabled=false');

    const enabled = await warming.scheduleWarming({ ...base, cronExpression: '30 5 * * *' }, { headers: writeHeaders });
    expect(enabled.nextRun).toBeDefined();
    expect((await temporal.schedule.getHandle(id).describe()).state.paused).toBe(false);
  });

  it.each([
    ['a bad cron', { cronExpression: '0 25 * * *' }, 'cron_expression'],
    ['a query the directory cannot compile', { memberQuery: { demographicsFilter: { minAge: 70, maxAge: 20 } } }, 'member_query.demographics_filter.min_age'],
    ['a bad predicate', { memberQuery: { predicateFilter: { expression: 'age >>> 3' } } }, 'member_query.predicate_filter.expression'],
    ['no query', { memberQuery: undefined }, 'member_query'],
    // Never ignored: a warming job's window comes from its priority, so a window in the query is refused.
    ['a scheduling window in the query', { memberQuery: { hasRteEnabled: true, schedulingWindow: SchedulingWindow.MORNING } }, 'member_query.scheduling_window'],
    // The directory's catalog check, as SubmitBatch's: a typo would warm nobody on every run (or, for a flag required
    // false, every sponsor's members).
    ['an unknown sponsor id', { memberQuery: { sponsorIds: ['NO_SUCH_SPONSOR_TYPO'] } }, 'member_query.sponsor_ids[0]'],
    ['an unknown feature flag', { memberQuery: { requiredFeatureFlags: { 'no-such-flag': false } } }, 'member_query.required_feature_flags["no-such-flag"]'],
  ])('refuses %s with invalid_argument naming the field, and creates no schedule', async (_n, override, field) => {
    const name = `ops-bad-${randomUUID().slice(0, 8)}`;
    const r = await codeOf(warming.scheduleWarming({ scheduleName: name, cronExpression: '0 4 * * *', memberQuery: { hasRteEnabled: true }, enabled: true, ...override }, { headers: writeHeaders }));
    expect(r.code).toBe(Code.InvalidArgument);
    expect(r.message.startsWith(`${field}:`)).toBe(true);
    expect(await exists(`warming/${name}`)).toBe(false);
  });

  it('refuses a name the schedules file manages with failed_precondition, and leaves that schedule as the file made it', async () => {
    const name = `ops-file-${randomUUID().slice(0, 8)}`;
    const store = createTemporalWarmingScheduleStore(temporal);
    const def = { name, cron: '0 4 * * *', memberQuery: { hasRteEnabled: true }, strategy: 'INTELLIGENT' as const, priority: 'PRELOAD' as const, enabled: true, description: 'from the file' };
    await upsertWarmingSchedule(desiredWarmingSchedule(def, taskQueue), store, 'file');
    created.push(`warming/${name}`);
    const before = await store.get(`warming/${name}`);
    expect(before?.managedBy).toBe('file');
    const r = await codeOf(warming.scheduleWarming({ scheduleName: name, cronExpression: '30 5 * * *', memberQuery: {}, enabled: false }, { headers: writeHeaders }));
    expect(r.code).toBe(Code.FailedPrecondition);
    expect(r.message).toMatch(/^schedule_name: .*managed by the operators' warming schedules file/);
    const after = await store.get(`warming/${name}`);
    expect(after).toMatchObject({ managedBy: 'file', specHash: before!.specHash, paused: false });
  });

  it('a schedule belongs to the service that created it: another service is refused with permission_denied and changes nothing; rte:admin may change it', async () => {
    const name = `ops-own-${randomUUID().slice(0, 8)}`;
    const id = `warming/${name}`;
    created.push(id);
    const base = { scheduleName: name, cronExpression: '0 4 * * *', memberQuery: { hasRteEnabled: true }, strategy: WarmingStrategy.INTELLIGENT, priority: WarmCacheRequest_Priority.BACKGROUND, enabled: true };
    await warming.scheduleWarming(base, { headers: writeHeaders });
    const before = await createTemporalWarmingScheduleStore(temporal).get(id);
    expect(before?.owner).toBe('ops-test');
    const otherHeaders = { authorization: `Bearer ${await mintDevToken({ service: 'ops-other', scopes: ['rte:warming:write'], secret })}` };
    for (const change of [{ strategy: WarmingStrategy.FORCE, priority: WarmCacheRequest_Priority.URGENT }, { enabled: false }]) {
      const r = await codeOf(warming.scheduleWarming({ ...base, ...change }, { headers: otherHeaders }));
      expect(r.code).toBe(Code.PermissionDenied);
      expect(r.message).toMatch(/^schedule_name: .*belongs to another client service.*caller "ops-other"/);
      // The owner's name is not told to another tenant (probe p18 F4).
      expect(r.message).not.toContain('ops-test');
    }
    const after = await createTemporalWarmingScheduleStore(temporal).get(id);
    expect(after).toMatchObject({ specHash: before!.specHash, paused: false, owner: 'ops-test' });
    const adminHeaders = { authorization: `Bearer ${await mintDevToken({ service: 'ops-admin', scopes: ['rte:admin'], secret })}` };
    const paused = await warming.scheduleWarming({ ...base, enabled: false }, { headers: adminHeaders });
    expect(paused.nextRun).toBeUndefined();
    expect(await createTemporalWarmingScheduleStore(temporal).get(id)).toMatchObject({ paused: true, owner: 'ops-test' });
  });

  it('needs rte:warming:write', async () => {
    const r = await codeOf(warming.scheduleWarming({ scheduleName: 'ops-denied', cronExpression: '0 4 * * *', memberQuery: {} }, { headers: readHeaders }));
    expect(r.code).toBe(Code.PermissionDenied);
    expect(await exists('warming/ops-denied')).toBe(false);
  });

  it('the schedules file applies the doc\'s three examples idempotently', async () => {
    const prefix = `warming-test-${randomUUID().slice(0, 8)}/`;
    const defs = parseWarmingScheduleFile(readFileSync(path.resolve(__dirname, '../../schedules/warming-schedules.yaml'), 'utf8'));
    const store = createTemporalWarmingScheduleStore(temporal);
    const first = await applyWarmingSchedules(defs, store, { taskQueue, idPrefix: prefix });
    created.push(...first.created);
    expect(first.created).toEqual([`${prefix}appointment-preload`, `${prefix}morning-preload`, `${prefix}weekly-refresh`]);
    const second = await applyWarmingSchedules(defs, store, { taskQueue, idPrefix: prefix });
    expect(second.unchanged).toHaveLength(3);
    expect(second.created.length + second.updated.length + second.deleted.length).toBe(0);
    const desc = await temporal.schedule.getHandle(`${prefix}weekly-refresh`).describe();
    expect(desc.info.nextActionTimes[0]?.getTime()).toBe(nextAfter('0 3 * * 0', new Date()));
  });
});

describe('GetWarmingStats over hand-inserted records (integration)', () => {
  /** warm(member, source, completed hour, …): one cache_warms row; times relative to T0. */
  const rows: (WarmRow & { jobId: string })[] = [];
  function warm(member: string, source: string, h: number, o: { op?: string; outcome?: string; tookS?: number | null; horizonH?: number; usedH?: number } = {}) {
    const completedAt = T0 + h * H;
    rows.push({
      jobId: `job-${rows.length}`,
      memberHash: member,
      operation: o.op ?? 'check_eligibility',
      source,
      outcome: o.outcome ?? 'warmed',
      startedAt: o.tookS === null ? null : completedAt - (o.tookS ?? 10) * 1000,
      completedAt: o.outcome === 'failed' ? null : completedAt,
      horizonUntil: o.horizonH !== undefined ? T0 + o.horizonH * H : null,
      firstUsedAt: o.usedH !== undefined ? T0 + o.usedH * H : null,
    });
  }
  warm('hA', 'schedule-morning-preload', 4, { tookS: 20, usedH: 7 }); // used within 24 h
  warm('hB', 'schedule-morning-preload', 4, { tookS: 40 }); // horizon closed at T0+28h < NOW: scored, unused
  warm('hC', 'member-cron-daily-rte-warmup', 5, { tookS: 60, horizonH: 9, usedH: 8 }); // used within its own horizon
  warm('hD', 'member-cron-daily-rte-warmup', 6, { tookS: 80, horizonH: 7, usedH: 8 }); // used after its horizon
  warm('hE', 'member-cron-daily-rte-warmup', 30, { tookS: null, horizonH: 80 }); // horizon still open: not scored
  warm('hA', 'member-cron-daily-rte-warmup', 20, { tookS: 100 }); // same pair again, other source
  warm('hF', 'manual-trigger', 10, { outcome: 'failed' }); // not a warm
  warm('hG', 'manual-trigger', 50); // after end_time

  beforeAll(async () => {
    for (const r of rows) {
      await dir.pool.query(
        `INSERT INTO cache_warms (job_id, member_hash, operation, source, priority, path, outcome, accepted_at, started_at, completed_at, horizon_until, first_used_at, used_result)
         VALUES ($1, $2, $3, $4, 'PRELOAD', 'batch_api', $5, $6, $7, $8, $9, $10, $11)`,
        [
          r.jobId,
          r.memberHash,
          r.operation,
          r.source,
          r.outcome,
          new Date(T0),
          r.startedAt === null ? null : new Date(r.startedAt),
          r.completedAt === null ? null : new Date(r.completedAt),
          r.horizonUntil === null ? null : new Date(r.horizonUntil),
          r.firstUsedAt === null ? null : new Date(r.firstUsedAt),
          r.firstUsedAt === null ? null : 'HIT',
        ],
      );
    }
    // Reads per hour: warmed 46 of 50 served from cache, not warmed 60 of 100; one bucket outside the range.
    const counts: [number, boolean, string, number][] = [
      [6, true, 'HIT', 40],
      [7, true, 'STALE', 6],
      [7, true, 'MISS', 4],
      [6, false, 'HIT', 60],
      [7, false, 'MISS', 30],
      [8, false, 'ERROR', 10],
      [49, false, 'MISS', 1000],
    ];
    for (const [h, warmed, result, reads] of counts) {
      await dir.pool.query('INSERT INTO cache_read_counts (hour, warmed, result, reads) VALUES ($1, $2, $3, $4)', [new Date(T0 + h * H), warmed, result, reads]);
    }
  });

  const range = { startTime: timestampFromMs(T0), endTime: timestampFromMs(T0 + 48 * H) };

  it('matches the figures computed by hand (and the reference arithmetic over the same rows)', async () => {
    const { stats } = await warming.getWarmingStats(range, { headers: readHeaders });
    // Warms in range: hA@4, hB, hC, hD, hE, hA@20 (6 rows, 5 distinct member+operation pairs).
    expect(stats?.totalMembersWarmed).toBe(5);
    expect(stats?.bySource).toEqual({ 'schedule-morning-preload': 2, 'member-cron-daily-rte-warmup': 4 });
    // Used within the horizon: hA@4 (7 < 28), hC (8 < 9); hD used at 8 ≥ its horizon 7.
    expect(stats?.cacheHitsAvoided).toBe(2);
    // Scored at NOW = T0+48h: hA@4, hB, hC, hD, hA@20 (horizon T0+44h); hE's horizon (T0+80h) is open.
    expect(stats?.predictionAccuracy).toBeCloseTo(2 / 5, 6);
    // (20 + 40 + 60 + 80 + 100) / 5 s; hE has no start time.
    expect(stats?.avgWarmDuration).toMatchObject({ seconds: 60n, nanos: 0 });
    // 46/50 − 60/100 (the hour-49 bucket is outside the range).
    expect(stats?.cacheHitRateImprovement).toBeCloseTo(0.92 - 0.6, 6);

    const reference = computeWarmingStats({ ...aggregateWarmRows(rows, { startMs: T0, endMs: T0 + 48 * H, sources: [] }, NOW), reads: [] });
    expect(reference).toMatchObject({ totalMembersWarmed: 5, cacheHitsAvoided: 2, predictionAccuracy: 0.4, avgWarmDurationMs: 60_000 });
  });

  it('filters by source', async () => {
    const { stats } = await warming.getWarmingStats({ ...range, sources: ['schedule-morning-preload'] }, { headers: readHeaders });
    expect(stats).toMatchObject({ totalMembersWarmed: 2, bySource: { 'schedule-morning-preload': 2 }, cacheHitsAvoided: 1 });
    expect(stats?.predictionAccuracy).toBeCloseTo(0.5, 6);
    expect(stats?.avgWarmDuration).toMatchObject({ seconds: 30n });
  });

  it('an empty range answers zeros, not an error', async () => {
    const { stats } = await warming.getWarmingStats({ startTime: timestampFromMs(T0 - 10 * 24 * H), endTime: timestampFromMs(T0 - 9 * 24 * H) }, { headers: readHeaders });
    expect(stats).toMatchObject({ totalMembersWarmed: 0, cacheHitsAvoided: 0, predictionAccuracy: 0, bySource: {}, cacheHitRateImprovement: 0 });
    expect(stats?.avgWarmDuration).toBeUndefined();
  });

  it.each([
    ['end before start', { startTime: timestampFromMs(T0), endTime: timestampFromMs(T0 - H) }, 'end_time'],
    ['a range over 93 days', { startTime: timestampFromMs(T0), endTime: timestampFromMs(T0 + 94 * 24 * H) }, 'end_time'],
    ['no start', { endTime: timestampFromMs(T0) }, 'start_time'],
  ])('refuses %s naming the field', async (_n, r, field) => {
    const res = await codeOf(warming.getWarmingStats(create(GetWarmingStatsRequestSchema, r), { headers: readHeaders }));
    expect(res.code).toBe(Code.InvalidArgument);
    expect(res.message.startsWith(`${field}:`)).toBe(true);
  });

  it('needs rte:warming:read', async () => {
    expect((await codeOf(warming.getWarmingStats(range, { headers: writeHeaders }))).code).toBe(Code.PermissionDenied);
  });
});
