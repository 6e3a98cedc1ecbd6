/**
 * Every documented flag of `rtectl warm`, `warm schedule` and `warm stats` (docs/rtectl.md) reaches the request its
 * command sends. The CLI talks to a real HTTP server on port 0 that records the requests (fake CacheWarmingService).
 */
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import { type ServiceImpl } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CacheWarmingService,
  GetWarmingJobResponseSchema,
  GetWarmingStatsResponseSchema,
  ScheduleWarmingResponseSchema,
  WarmCacheRequest_Priority,
  WarmCacheResponseSchema,
  WarmingStrategy,
  type GetWarmingStatsRequest,
  type ScheduleWarmingRequest,
  type WarmCacheRequest,
} from '../../gen/rte/v1/warming_pb';
import { captureIo } from './io';
import { runRtectl } from './program';

describe('rtectl warm flags reach their request', () => {
  const seen: { warm: { req: WarmCacheRequest; key: string | null }[]; schedule: ScheduleWarmingRequest[]; stats: GetWarmingStatsRequest[] } = { warm: [], schedule: [], stats: [] };
  let server: http.Server;
  let url: string;
  let dir: string;
  let queryFile: string;
  let membersFile: string;

  beforeAll(async () => {
    const impl: ServiceImpl<typeof CacheWarmingService> = {
      warmCache: (req, ctx) => {
        const key = ctx.requestHeader.get('idempotency-key');
        seen.warm.push({ req, key });
        if (key === 'ended') return create(WarmCacheResponseSchema, { warmingJobId: 'warming/t/api-2', status: BatchStatus.FAILED, reason: '2 failed of 2 warms', estimatedCompletion: timestampFromMs(Date.UTC(2026, 11, 4, 2)) });
        return create(WarmCacheResponseSchema, { warmingJobId: 'warming/t/api-1', membersQueued: req.memberIds.length, status: BatchStatus.RUNNING });
      },
      scheduleWarming: (req) => {
        seen.schedule.push(req);
        return create(ScheduleWarmingResponseSchema, { scheduleId: `warming/${req.scheduleName}` });
      },
      getWarmingStats: (req) => {
        seen.stats.push(req);
        return create(GetWarmingStatsResponseSchema, {});
      },
      getWarmingJob: (req) => create(GetWarmingJobResponseSchema, { jobId: req.jobId }),
    };
    server = http.createServer(connectNodeAdapter({ routes: (router) => router.service(CacheWarmingService, impl) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(path.join(os.tmpdir(), 'rtectl-warm-'));
    queryFile = path.join(dir, 'q.yaml');
    membersFile = path.join(dir, 'members.txt');
    await writeFile(queryFile, 'sponsorIds: [ACME]\nlimit: 5\n');
    await writeFile(membersFile, 'm_1\nm_2\n');
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.warm.length = 0;
    seen.schedule.length = 0;
    seen.stats.length = 0;
  });

  const run = async (args: string[]) => {
    const io = captureIo({ RTE_TOKEN: 't' });
    const code = await runRtectl(['--api-url', url, ...args, '--json'], { io });
    return { code, out: io.stdout.map((l) => JSON.parse(l) as Record<string, unknown>) };
  };

  it('warm schedule: --cron, --query, --priority, --strategy and --disabled', async () => {
    const r = await run(['warm', 'schedule', 'nightly', '--cron', '0 4 1 1 *', '--query', queryFile, '--priority', 'urgent', '--strategy', 'force', '--disabled']);
    expect(r.code).toBe(0);
    expect(seen.schedule).toHaveLength(1);
    const req = seen.schedule[0]!;
    expect(req).toMatchObject({ scheduleName: 'nightly', cronExpression: '0 4 1 1 *', priority: WarmCacheRequest_Priority.URGENT, strategy: WarmingStrategy.FORCE, enabled: false });
    expect(req.memberQuery).toMatchObject({ sponsorIds: ['ACME'], limit: 5 });
  });

  it('warm schedule: --priority and --strategy also when given before the name; no --disabled means enabled', async () => {
    expect((await run(['warm', 'schedule', '--priority', 'preload', '--strategy', 'fill-only', 'n2', '--cron', '0 4 * * *', '--query', queryFile])).code).toBe(0);
    expect(seen.schedule[0]).toMatchObject({ scheduleName: 'n2', priority: WarmCacheRequest_Priority.PRELOAD, strategy: WarmingStrategy.FILL_ONLY, enabled: true });
  });

  it('warm stats: --since, --until and every --source', async () => {
    const r = await run(['warm', 'stats', '--since', '2026-12-01T00:00:00Z', '--until', '2026-12-02T00:00:00Z', '--source', 'schedule-a', 'manual-trigger']);
    expect(r.code).toBe(0);
    const req = seen.stats[0]!;
    expect(req.sources).toEqual(['schedule-a', 'manual-trigger']);
    expect(timestampDate(req.startTime!).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(timestampDate(req.endTime!).toISOString()).toBe('2026-12-02T00:00:00.000Z');
    await run(['warm', 'stats', '--source', 'one']);
    expect(seen.stats[1]!.sources).toEqual(['one']);
  });

  it('warm: members, --priority, --strategy, --operations, --source and --idempotency-key', async () => {
    const r = await run(['warm', 'm_1', 'm_2', '--priority', 'urgent', '--strategy', 'fill-only', '--operations', 'check_eligibility,benefits', '--source', 'svc-x', '--idempotency-key', 'k-1']);
    expect(r.code).toBe(0);
    expect(seen.warm[0]!.req).toMatchObject({ memberIds: ['m_1', 'm_2'], priority: WarmCacheRequest_Priority.URGENT, strategy: WarmingStrategy.FILL_ONLY, operations: ['check_eligibility', 'benefits'], source: 'svc-x' });
    expect(seen.warm[0]!.key).toBe('k-1');
    // Flags before the member ids, and --members from a file.
    expect((await run(['warm', '--priority', 'preload', '--members', membersFile])).code).toBe(0);
    expect(seen.warm[1]!.req).toMatchObject({ memberIds: ['m_1', 'm_2'], priority: WarmCacheRequest_Priority.PRELOAD });
  });

  it('`warm cache` is the same command as `warm`; a WarmCache flag given to a subcommand is refused, sending nothing', async () => {
    expect((await run(['warm', 'cache', 'm_9', '--source', 'svc-y'])).code).toBe(0);
    expect(seen.warm[0]!.req).toMatchObject({ memberIds: ['m_9'], source: 'svc-y' });
    const r = await run(['warm', 'stats', '--idempotency-key', 'k']);
    expect(r.code).toBe(2);
    expect(r.out[0]).toMatchObject({ error: { code: 'invalid_argument', message: expect.stringContaining("unknown option '--idempotency-key'") } });
    expect(seen.stats).toHaveLength(0);
  });

  it('warm (text): a repeat of a job that already ended says how it ended, not "queued"', async () => {
    const io = captureIo({ RTE_TOKEN: 't' });
    expect(await runRtectl(['--api-url', url, 'warm', 'm_1', 'm_2', '--idempotency-key', 'ended'], { io })).toBe(0);
    expect(io.stdout).toEqual(['warming/t/api-2: already ended FAILED — 2 failed of 2 warms at 2026-12-04T02:00:00.000Z (details: rtectl warm job warming/t/api-2)']);
    const open = captureIo({ RTE_TOKEN: 't' });
    expect(await runRtectl(['--api-url', url, 'warm', 'm_1'], { io: open })).toBe(0);
    expect(open.stdout[0]).toMatch(/^warming\/t\/api-1: 1 queued, 0 already fresh/);
  });
});
