/**
 * publishWarmingEvent (CacheWarmingEvent on Kafka) with fakes: a FAILED job says why in error_message (its own
 * failure, else GetWarmingJob's words from its warm records), and a member-cron job names its schedule.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { CacheWarmingEvent_EventType, CacheWarmingEventSchema, type CacheWarmingEvent } from '../../gen/rte/v1/events_pb';
import { silentLogger } from '../../lib/logger';
import type { OutgoingEvent } from '../kafka/types';
import { createWarmingActivities, type WarmingEventInput } from './activities';
import type { MemberRecord } from '../../lib/member-record';
import { pageDueMs, scheduleMember } from '../../lib/batch/windows';
import { decisionKey, type ChildRunReader, type WarmJobDurableState, type WarmJobReader } from './ports';

const jobState: WarmJobDurableState = {
  jobId: 'warming/member-cron-daily-rte-warmup/i-1',
  source: 'member-cron-daily-rte-warmup',
  priority: 'URGENT',
  strategy: 'INTELLIGENT',
  status: 'FAILED',
  createdAtMs: 0,
  updatedAtMs: 0,
  counts: { pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 3, cancelled: 0 },
  membersSkipped: 0,
  failureReasons: [
    { reason: 'PAYER_ERROR: AAA 75 Subscriber/Insured Not Found', count: 2 },
    { reason: 'MemberNotFoundError: member is not in the directory', count: 1 },
  ],
};

function harness(jobs?: WarmJobReader) {
  const published: OutgoingEvent[] = [];
  const acts = createWarmingActivities({
    lists: {} as never,
    errors: {} as never,
    cache: {} as never,
    warms: {} as never,
    events: { publish: async (e) => void published.push(...e), close: async () => undefined },
    hash: (m) => m,
    ...(jobs ? { jobs } : {}),
    logger: silentLogger(),
  });
  const last = (): CacheWarmingEvent => fromBinary(CacheWarmingEventSchema, published.at(-1)!.value);
  return { acts, last };
}

const event = (extra: Partial<WarmingEventInput> = {}): WarmingEventInput => ({
  topic: 't',
  eventId: 'warming/member-cron-daily-rte-warmup/i-1#FAILED',
  eventType: 'FAILED',
  jobId: 'warming/member-cron-daily-rte-warmup/i-1',
  source: 'member-cron-daily-rte-warmup',
  strategy: 'INTELLIGENT',
  priority: 'URGENT',
  operations: ['check_eligibility'],
  membersRequested: 3,
  membersWarmed: 0,
  membersSkipped: 0,
  membersFailed: 3,
  occurredAtMs: 1_000,
  ...extra,
});

/**
 * Warming activities for planWarmingPage over fakes: `ids` staged, nothing cached, every decision inserted, each
 * member in the zone `zone` gives; `load` the slot pool's (absent: no slot-load rule).
 */
function plannerActivities(o: { ids: string[]; now: number; zone: (id: string) => string; load?: { limit: number; inUse: number } }) {
  return createWarmingActivities({
    lists: { read: async () => o.ids, write: async () => undefined } as never,
    errors: {} as never,
    cache: { getMany: async (pairs: readonly unknown[]) => pairs.map(() => null) } as never,
    warms: {
      decide: async (_ctx: unknown, rows: ReadonlyArray<{ memberId: string; operation: string; path: 'realtime' | 'batch_api'; outcome: 'pending' }>) => ({
        inserted: [...rows],
        stored: new Map(rows.map((r) => [decisionKey(r.memberId, r.operation), { path: r.path, outcome: r.outcome }])),
      }),
    } as never,
    events: { publish: async () => undefined, close: async () => undefined },
    hash: (m) => m,
    ...(o.load ? { load: { load: async () => o.load! } } : {}),
    directory: { getMemberRecords: async (xs) => new Map(xs.map((id) => [id, { timeZone: o.zone(id) } as MemberRecord])) },
    logger: silentLogger(),
    now: () => o.now,
  });
}

describe('publishWarmingEvent', () => {
  it('a job FAILED because its warms failed says why, as GetWarmingJob: counts and the most common reason', async () => {
    const reads: string[] = [];
    const h = harness({ read: async (id) => (reads.push(id), jobState) });
    await h.acts.publishWarmingEvent(event({ scheduleName: 'daily-rte-warmup' }));
    expect(h.last()).toMatchObject({
      eventType: CacheWarmingEvent_EventType.FAILED,
      errorMessage: '3 failed of 3 warms; most common: PAYER_ERROR: AAA 75 Subscriber/Insured Not Found (2)',
      scheduleName: 'daily-rte-warmup',
    });
    expect(reads).toEqual(['warming/member-cron-daily-rte-warmup/i-1']);
  });

  it('a job that failed as a whole keeps its own failure; a COMPLETED event reads nothing', async () => {
    const reads: string[] = [];
    const h = harness({ read: async (id) => (reads.push(id), jobState) });
    await h.acts.publishWarmingEvent(event({ errorMessage: 'MemberLimitExceeded: 2,000,000 members' }));
    expect(h.last().errorMessage).toBe('MemberLimitExceeded: 2,000,000 members');
    await h.acts.publishWarmingEvent(event({ eventType: 'COMPLETED', membersFailed: 0, membersWarmed: 3 }));
    expect(h.last().errorMessage).toBe('');
    expect(reads).toEqual([]);
  });

  it('a cancelled job is published as CANCELLED with its reason and the warms it left undone (never COMPLETED)', async () => {
    const h = harness({ read: async () => jobState });
    await h.acts.publishWarmingEvent(event({ eventType: 'CANCELLED', membersFailed: 0, membersWarmed: 1, membersCancelled: 2, errorMessage: 'cancelled: wrong list' }));
    expect(h.last()).toMatchObject({ eventType: CacheWarmingEvent_EventType.CANCELLED, errorMessage: 'cancelled: wrong list', membersWarmed: 1, membersCancelled: 2 });
  });

  it('when the record cannot be read the FAILED event still goes out, saying no warm succeeded', async () => {
    const h = harness({ read: async () => Promise.reject(new Error('pg down')) });
    await h.acts.publishWarmingEvent(event());
    expect(h.last().errorMessage).toBe('no warm succeeded');
  });
});

describe('planWarmingPage: when the slot-load rule defers non-URGENT real-time warms (warming finding 7)', () => {
  // 07:30 UTC = 16:30 in Tokyo: its low-utilisation window (01:00–05:00, from 02:00) opens at 17:00 UTC.
  const NOW = Date.UTC(2026, 11, 4, 7, 30);
  const tokyoWindow = Date.UTC(2026, 11, 4, 17, 0);
  const ids = ['m-1', 'm-2', 'm-3'];

  function planner(inUse: number) {
    const acts = plannerActivities({ ids, now: NOW, zone: () => 'Asia/Tokyo', load: { limit: 15, inUse } });
    return (priority: 'URGENT' | 'PRELOAD' | 'BACKGROUND') =>
      acts.planWarmingPage({ jobId: 'warming/t/j', source: 't', priority, strategy: 'FORCE', operations: ['check_eligibility'], listRef: 'l', page: 0, start: 0, count: 3, acceptedAtMs: NOW });
  }

  it('busy (≥ 0.7): PRELOAD / BACKGROUND real-time warms start in the members’ low-utilisation window', async () => {
    for (const priority of ['PRELOAD', 'BACKGROUND'] as const) {
      const r = await planner(12)(priority);
      expect(r.entries.realtime).toBe(3);
      expect(r.realtimeDeferredUntilMs).toBeGreaterThanOrEqual(tokyoWindow - 5 * 60_000);
      expect(r.realtimeDeferredUntilMs).toBeLessThanOrEqual(tokyoWindow + 125 * 60_000);
    }
  });
  it('moderate (0.3–0.7): 30–60 min later', async () => {
    const r = await planner(6)('PRELOAD');
    expect(r.realtimeDeferredUntilMs! - NOW).toBeGreaterThanOrEqual(30 * 60_000);
    expect(r.realtimeDeferredUntilMs! - NOW).toBeLessThanOrEqual(60 * 60_000);
  });
  it('URGENT (a HIGH child) and a quiet pool are not deferred', async () => {
    expect((await planner(12)('URGENT')).realtimeDeferredUntilMs).toBeUndefined();
    expect((await planner(2)('PRELOAD')).realtimeDeferredUntilMs).toBeUndefined();
  });
});

describe('planWarmingPage: when BACKGROUND batch-API warms submit (probe p15 #2)', () => {
  // 15:30 UTC. Los Angeles' low-utilisation window opens at 02:00 PST = 10:00 UTC the next day; New York's at 07:00 UTC.
  const NOW = Date.UTC(2026, 11, 4, 15, 30);
  const laWindow = Date.UTC(2026, 11, 5, 10, 0);
  const ids = ['m-1', 'm-2', 'm-3', 'm-4'];

  const plan = (priority: 'PRELOAD' | 'BACKGROUND', zone: (id: string) => string) =>
    plannerActivities({ ids, now: NOW, zone }).planWarmingPage({ jobId: 'warming/t/j', source: 't', priority, strategy: 'INTELLIGENT', operations: ['check_eligibility'], listRef: 'l', page: 0, start: 0, count: ids.length, acceptedAtMs: NOW });

  it('in the members’ own low-utilisation window, as the child plans it (its median member, seeded by its id)', async () => {
    const r = await plan('BACKGROUND', () => 'America/Los_Angeles');
    expect(r.entries.batchApi).toBe(4);
    const [g] = r.groups;
    const times = ids.map((_, k) => scheduleMember({ window: 'LOW_UTILIZATION', nowMs: NOW, timeZone: 'America/Los_Angeles', seed: g!.listRef, position: k, groupSize: 4 }).atMs);
    expect(r.batchApiStartsAtMs).toBe(pageDueMs(times, 'batch'));
    expect(r.batchApiStartsAtMs).toBeGreaterThanOrEqual(laWindow);
    expect(r.batchApiStartsAtMs).toBeLessThanOrEqual(laWindow + 125 * 60_000);
  });
  it('a PRELOAD job’s batch-API warms do not wait for a window', async () => {
    expect((await plan('PRELOAD', () => 'America/Los_Angeles')).batchApiStartsAtMs).toBeUndefined();
  });
});

describe('finalizeWarmPage: a child batch terminated in Temporal (probe p15 #6)', () => {
  function finalizer(childRuns?: ChildRunReader) {
    const settled: Array<{ memberId: string; outcome: string; reason?: string }> = [];
    const acts = createWarmingActivities({
      lists: { read: async () => ['m-1', 'm-2'] } as never,
      errors: { page: async () => ({ errors: [] }) } as never,
      cache: {} as never,
      warms: {
        settlePending: async (_job: string, rows: typeof settled) => void settled.push(...rows),
        counts: async () => ({ pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 2, cancelled: 0 }),
      } as never,
      events: { publish: async () => undefined, close: async () => undefined },
      hash: (m) => m,
      ...(childRuns ? { childRuns } : {}),
      logger: silentLogger(),
    });
    const run = (child: { status: string; failure?: string; terminated?: boolean }) =>
      acts.finalizeWarmPage({ jobId: 'warming/t/j', listRef: 'l', start: 0, count: 2, operations: ['check_eligibility'], children: [{ batchId: 'warming/t/j/p0/check_eligibility/batch_api', operation: 'check_eligibility', path: 'batch_api', ...child }] });
    return { run, settled };
  }
  const reader: ChildRunReader = { terminationReason: async (id) => (id.endsWith('/batch_api') ? 'INC-7 stuck poll' : undefined) };

  it('its warms fail with the operator’s reason from the child’s run, in the words of a terminated job', async () => {
    const f = finalizer(reader);
    await f.run({ status: 'FAILED', failure: 'Terminated', terminated: true });
    expect(f.settled.map((r) => [r.outcome, r.reason])).toEqual([
      ['failed', 'the child batch workflow was terminated in Temporal (terminated: INC-7 stuck poll)'],
      ['failed', 'the child batch workflow was terminated in Temporal (terminated: INC-7 stuck poll)'],
    ]);
  });
  it('a run that did not flag it (bare "Terminated"), or a reason that cannot be read, still says it was terminated', async () => {
    const flagless = finalizer(reader);
    await flagless.run({ status: 'FAILED', failure: 'Terminated' });
    expect(flagless.settled[0]!.reason).toBe('the child batch workflow was terminated in Temporal (terminated: INC-7 stuck poll)');
    const unreadable = finalizer({ terminationReason: async () => Promise.reject(new Error('frontend down')) });
    await unreadable.run({ status: 'FAILED', failure: 'Terminated', terminated: true });
    expect(unreadable.settled[0]!.reason).toBe('the child batch workflow was terminated in Temporal');
  });
  it('a cancelled child’s warms read "cancelled: <reason>", as the warms the job settles itself (one spelling per cancel)', async () => {
    const f = finalizer(reader);
    await f.run({ status: 'CANCELLED', failure: 'CANCELLED: INC-9 stop' });
    expect(f.settled.map((r) => [r.outcome, r.reason])).toEqual([
      ['cancelled', 'cancelled: INC-9 stop'],
      ['cancelled', 'cancelled: INC-9 stop'],
    ]);
  });
  it('other child failures keep their own text', async () => {
    const f = finalizer(reader);
    await f.run({ status: 'FAILED', failure: 'BatchTimeout: batch timed out' });
    expect(f.settled[0]!.reason).toBe('BatchTimeout: batch timed out');
  });
});
