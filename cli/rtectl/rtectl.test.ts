import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BatchEventType, BatchStatus, BatchStatusUpdateSchema, GetBatchStatusResponseSchema } from '../../gen/rte/v1/batch_pb';
import { CacheControl, SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { captureIo } from './io';
import { InputError, parseMemberList, parseMemberQuery, parseMode, parseTimeArg } from './parse';
import { GetWarmingJobResponseSchema, WarmCacheRequest_Priority, WarmingStrategy } from '../../gen/rte/v1/warming_pb';
import { batchStatusLines, runRtectl, warmingJobLines } from './program';
import { applyUpdate, formatEta, type WatchState } from './watch';

describe('rtectl input parsing', () => {
  it('accepts every spelling of a mode and refuses an unknown one, naming the flag and the valid values', () => {
    expect(parseMode('cache-only')).toBe(CacheControl.CACHE_ONLY);
    expect(parseMode('CACHE_ONLY')).toBe(CacheControl.CACHE_ONLY);
    expect(parseMode('CACHE_CONTROL_STALE_WHILE_REVALIDATE')).toBe(CacheControl.STALE_WHILE_REVALIDATE);
    expect(() => parseMode('fast')).toThrow(new InputError('--mode', "unknown value 'fast'; valid: default, cache-only, prefer-cached, bypass-cache, stale-while-revalidate"));
  });

  it('reads member lists and MemberQuery files strictly', () => {
    expect(parseMemberList('# ids\nm_1\n\nm_2, m_3\n')).toEqual(['m_1', 'm_2', 'm_3']);
    expect(() => parseMemberList('# nothing\n')).toThrow(/--members: no member ids/);
    expect(() => parseMemberList('m_1\nm_1')).toThrow(/listed twice/);
    expect(parseMemberQuery('sponsorIds: [ACME]\nlimit: 5\n').limit).toBe(5);
    expect(() => parseMemberQuery('sponsorIdz: [ACME]')).toThrow(/--query: .*sponsorIdz/);
    expect(() => parseMemberQuery('- a')).toThrow(/--query: expected a MemberQuery mapping/);
    expect(parseTimeArg('--since', '2h', 10 * 3_600_000).getTime()).toBe(8 * 3_600_000);
    expect(() => parseTimeArg('--since', 'yesterday')).toThrow(/--since/);
  });
});

describe('rtectl watch state', () => {
  const u = (init: Parameters<typeof create<typeof BatchStatusUpdateSchema>>[1]) => create(BatchStatusUpdateSchema, init);
  it('folds updates: counters never go backwards, the terminal event wins', () => {
    let s: WatchState = { batchId: 'batch/a/b', total: 0, completed: 0, failed: 0, status: BatchStatus.PENDING };
    s = applyUpdate(s, u({ eventType: BatchEventType.EVENT_TYPE_STARTED, status: BatchStatus.RUNNING, update: { case: 'started', value: { totalMembers: 10 } } }));
    s = applyUpdate(s, u({ eventType: BatchEventType.EVENT_TYPE_PROGRESS, status: BatchStatus.RUNNING, update: { case: 'progress', value: { totalMembers: 10, completed: 4, failed: 1, estimatedCompletion: timestampFromMs(60_000) } } }));
    s = applyUpdate(s, u({ eventType: BatchEventType.EVENT_TYPE_PROGRESS, status: BatchStatus.PAUSED, update: { case: 'progress', value: { totalMembers: 10, completed: 3, failed: 1 } } }));
    expect(s).toMatchObject({ total: 10, completed: 4, failed: 1, status: BatchStatus.PAUSED, etaMs: 60_000 });
    s = applyUpdate(s, u({ eventType: BatchEventType.EVENT_TYPE_FAILED, status: BatchStatus.CANCELLED, update: { case: 'failed', value: { status: BatchStatus.CANCELLED, errorCode: 'CANCELLED', errorMessage: 'by op' } } }));
    expect(s.terminal).toEqual({ status: BatchStatus.CANCELLED, code: 'CANCELLED', message: 'by op' });
    expect(formatEta(60_000, 0)).toBe('ETA 1m00s');
    expect(formatEta(7_200_000, 0)).toBe('ETA 2h00m');
    expect(formatEta(undefined, 0)).toBe('ETA --');
  });
});

describe('rtectl batch status text', () => {
  const status = (s: BatchStatus, window: SchedulingWindow, extra: Record<string, unknown> = {}) =>
    create(GetBatchStatusResponseSchema, {
      batchId: 'batch/svc/j',
      status: s,
      progress: { totalMembers: 2, estimatedCompletion: timestampFromMs(Date.UTC(2026, 11, 3, 7)) },
      resolvedOptions: { schedulingWindow: window },
      ...extra,
    });
  it('a batch waiting for its window says which window and when it should finish; a finished one does not', () => {
    expect(batchStatusLines(status(BatchStatus.PENDING, SchedulingWindow.LOW_UTILIZATION), [], false)).toEqual([
      'batch/svc/j: PENDING',
      '  0/2 done · 0 ok · 0 failed · 0 cache hits',
      '  waiting for the LOW_UTILIZATION window · estimated completion 2026-12-03T07:00:00.000Z',
    ]);
    expect(batchStatusLines(status(BatchStatus.RUNNING, SchedulingWindow.ANY), [], false)[2]).toBe('  estimated completion 2026-12-03T07:00:00.000Z');
    expect(batchStatusLines(status(BatchStatus.CANCELLED, SchedulingWindow.LOW_UTILIZATION, { failureCode: 'CANCELLED', failureMessage: 'ok' }), [], false)).toEqual([
      'batch/svc/j: CANCELLED',
      '  0/2 done · 0 ok · 0 failed · 0 cache hits',
      '  CANCELLED: ok',
    ]);
  });
});

describe('rtectl warm job text', () => {
  it('says the status and why, the counts, the failure reasons, and when the answer is last-known', () => {
    const r = create(GetWarmingJobResponseSchema, {
      jobId: 'warming/manual-trigger/api-1',
      status: BatchStatus.PARTIALLY_COMPLETED,
      reason: '1 failed of 3 warms; most common: MemberNotFoundError: member is not in the directory (1)',
      source: 'manual-trigger',
      priority: WarmCacheRequest_Priority.URGENT,
      strategy: WarmingStrategy.INTELLIGENT,
      operations: ['check_eligibility'],
      members: 3,
      counts: { warmed: 2, failed: 1 },
      failureReasons: [{ reason: 'MemberNotFoundError: member is not in the directory', count: 1 }],
      createdAt: timestampFromMs(Date.UTC(2026, 11, 3, 1)),
      finishedAt: timestampFromMs(Date.UTC(2026, 11, 3, 1, 1)),
    });
    expect(warmingJobLines(r)).toEqual([
      'warming/manual-trigger/api-1: PARTIALLY_COMPLETED — 1 failed of 3 warms; most common: MemberNotFoundError: member is not in the directory (1)',
      '  manual-trigger · URGENT INTELLIGENT · check_eligibility · 3 members',
      '  2 warmed · 0 already fresh · 0 skipped (cached) · 1 failed · 0 cancelled · 0 pending',
      '  created 2026-12-03T01:00:00.000Z · finished 2026-12-03T01:01:00.000Z',
      '  1 × MemberNotFoundError: member is not in the directory',
    ]);
    const old = warmingJobLines(create(GetWarmingJobResponseSchema, { ...r, counts: undefined, failureReasons: [], lastKnown: true, asOf: timestampFromMs(Date.UTC(2026, 11, 3, 2)) }));
    expect(old.slice(2)).toEqual([
      '  counts unknown (the warm records could not be read)',
      '  created 2026-12-03T01:00:00.000Z · finished 2026-12-03T01:01:00.000Z',
      "  last known as of 2026-12-03T02:00:00.000Z: the job's workflow could not be asked; ask again for the live state",
    ]);
  });
});

describe('rtectl commands without the platform', () => {
  it("a flag or value commander refuses is said once (exit 2), not commander's line and then ours", async () => {
    const io = captureIo({});
    expect(await runRtectl(['check', 'm_1', '--bogus'], { io })).toBe(2);
    expect(io.stderr).toEqual(["rtectl: unknown option '--bogus'"]);
    const bad = captureIo({});
    expect(await runRtectl(['check', 'm_1', '--mode', 'sometimes'], { io: bad })).toBe(2);
    expect(bad.stderr).toHaveLength(1);
    expect(bad.stderr[0]).toMatch(/^rtectl: .*--mode/);
  });

  it('refuses at once with exit 2 (JSON error naming the field) and 4 without a token; token mints a JWT', async () => {
    const io = captureIo({});
    expect(await runRtectl(['batch', 'submit', '--json'], { io })).toBe(2);
    expect(JSON.parse(io.stdout[0]!)).toMatchObject({ error: { code: 'invalid_argument', field: '--members', exitCode: 2 } });
    const noToken = captureIo({});
    expect(await runRtectl(['check', 'm_1'], { io: noToken })).toBe(4);
    expect(noToken.stderr.join('\n')).toMatch(/no token: set RTE_TOKEN/);
    const unknownCmd = captureIo({});
    expect(await runRtectl(['frobnicate'], { io: unknownCmd })).toBe(2);
    const tok = captureIo({ AUTH_DEV_SECRET: 'a-long-dev-secret' });
    expect(await runRtectl(['token', '--ttl', '60'], { io: tok })).toBe(0);
    expect(tok.stdout[0]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const badScope = captureIo({});
    expect(await runRtectl(['token', '--scopes', 'rte:nope', '--json'], { io: badScope })).toBe(2);
    expect(JSON.parse(badScope.stdout[0]!).error.field).toBe('--scopes');
    // A stats range over the API's 93 days names the flag the operator wrote.
    const longRange = captureIo({});
    expect(await runRtectl(['warm', 'stats', '--since', '200d', '--json'], { io: longRange })).toBe(2);
    expect(JSON.parse(longRange.stdout[0]!).error).toMatchObject({ code: 'invalid_argument', field: '--since' });
  });
});
