import { WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { FieldError } from '../../lib/errors';
import { ConnectError, Code } from '@connectrpc/connect';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { hourWindowSlot, JITTER_MS } from '../../lib/batch/windows';
import { checkWarmCacheSource, undecidedEstimateMs, UNDECIDED_REASON, validateWarmCache, warmCacheAnswer } from './warming-service';

const base = { memberIds: ['M-1', 'M-2'], operations: [] as string[], strategy: S.INTELLIGENT, priority: P.URGENT, source: '' };
const fieldOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof FieldError ? e.fieldPath : `not a FieldError: ${String(e)}`;
  }
};

describe('validateWarmCache', () => {
  it('accepts a good request: defaults operations to all and source to manual-trigger', () => {
    expect(validateWarmCache(base)).toEqual({ memberIds: ['M-1', 'M-2'], operations: ['check_eligibility'], strategy: 'INTELLIGENT', priority: 'URGENT', source: 'manual-trigger' });
  });
  it('1,000 ids pass, 1,001 are refused naming member_ids', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `M-${i}`);
    expect(validateWarmCache({ ...base, memberIds: ids(1_000) }).memberIds).toHaveLength(1_000);
    expect(fieldOf(() => validateWarmCache({ ...base, memberIds: ids(1_001) }))).toBe('member_ids');
  });
  it("accepts the proto's example operations and warms the one entry CheckEligibility reads for both (probe p18 F10)", () => {
    // get_benefits is read from the eligibility check's entry: warming it twice would cost a second Stedi call.
    expect(validateWarmCache({ ...base, operations: ['check_eligibility', 'get_benefits'] }).operations).toEqual(['check_eligibility']);
    expect(validateWarmCache({ ...base, operations: ['get_benefits'] }).operations).toEqual(['check_eligibility']);
    expect(validateWarmCache({ ...base, operations: ['get_coverage', 'estimate_cost'] }).operations).toEqual(['check_eligibility']);
  });
  it.each([
    ['no ids', { memberIds: [] }, 'member_ids'],
    ['a blank id', { memberIds: ['M-1', ' '] }, 'member_ids[1]'],
    ['a duplicate id', { memberIds: ['M-1', 'M-2', 'M-1'] }, 'member_ids[2]'],
    ['an overlong id', { memberIds: ['x'.repeat(129)] }, 'member_ids[0]'],
    ['an id with a leading space', { memberIds: ['M-1', ' M-2'] }, 'member_ids[1]'],
    ['an id with a NUL', { memberIds: ['M-1\u0000'] }, 'member_ids[0]'],
    ['an id with a zero-width space', { memberIds: ['M-1', 'm_0000001\u200b'] }, 'member_ids[1]'],
    ['an id with a newline', { memberIds: ['M-1', 'M-2', 'M-3\n'] }, 'member_ids[2]'],
    ['an unknown operation', { operations: ['check_eligibility', 'teleport'] }, 'operations[1]'],
    ['a duplicate operation', { operations: ['check_eligibility', 'check_eligibility'] }, 'operations[1]'],
    ['an unknown strategy', { strategy: 9 as S }, 'strategy'],
    ['an unknown priority', { priority: 7 as P }, 'priority'],
    ['a bad source', { source: 'has space' }, 'source'],
  ])('refuses %s with its field', (_name, patch, field) => {
    expect(fieldOf(() => validateWarmCache({ ...base, ...patch }))).toBe(field);
  });
});

describe('checkWarmCacheSource', () => {
  const who = (scopes: string[]) => ({ service: 'svc', scopes: new Set(scopes) });
  const codeOf = (f: () => void) => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return Code[ConnectError.from(e).code];
    }
  };
  it('the platform\'s own sources (member-cron-*, schedule-*) need rte:admin; any other source is the caller\'s', () => {
    expect(codeOf(() => checkWarmCacheSource('member-cron-daily-rte-warmup', who(['rte:warming:write'])))).toBe('PermissionDenied');
    expect(codeOf(() => checkWarmCacheSource('schedule-morning-preload', who(['rte:warming:write'])))).toBe('PermissionDenied');
    expect(codeOf(() => checkWarmCacheSource('schedule-morning-preload', who(['rte:admin'])))).toBe('ok');
    // The design doc's own examples stay open: "member-cron", "manual-trigger", "appointment-scheduled".
    for (const s of ['member-cron', 'manual-trigger', 'appointment-scheduled', 'scheduled-visit']) expect(codeOf(() => checkWarmCacheSource(s, who(['rte:warming:write'])))).toBe('ok');
  });
});

describe('warmCacheAnswer', () => {
  const view = (status: WarmingStatusView['status'], extra: Partial<WarmingStatusView> = {}): WarmingStatusView => ({
    jobId: 'warming/s/api-1',
    source: 's',
    priority: 'URGENT',
    strategy: 'INTELLIGENT',
    operations: ['check_eligibility'],
    status,
    phase: 'RUNNING',
    paused: false,
    counters: { members: 5, membersPlanned: 5, membersSkipped: 1, realtime: 4, batchApi: 0, outcomes: { warmed: 0, skipped_fresh: 1, skipped_cached: 0, failed: 0, cancelled: 0, pending: 4 } },
    firstPlanned: true,
    acceptedAtMs: 1_000,
    children: [],
    ...extra,
  });
  const estimate = () => 99_000;

  it('a job at work: the members it queued and the estimate', () => {
    expect(warmCacheAnswer('j', view('RUNNING'), estimate, 5_000)).toEqual({ warmingJobId: 'j', membersQueued: 4, membersSkipped: 1, status: BatchStatus.RUNNING, reason: '', estimatedCompletionMs: 99_000 });
  });

  it('a repeat of a job that ended FAILED or CANCELLED: nothing queued, when it ended, and how it ended', () => {
    const outcomes = { warmed: 0, skipped_fresh: 1, skipped_cached: 0, failed: 4, cancelled: 0, pending: 0 };
    const failed = view('FAILED', { finishedAtMs: 3_000, counters: { ...view('FAILED').counters, outcomes } });
    expect(warmCacheAnswer('j', failed, estimate, 50_000)).toEqual({ warmingJobId: 'j', membersQueued: 0, membersSkipped: 1, status: BatchStatus.FAILED, reason: '4 failed of 5 warms', estimatedCompletionMs: 3_000 });
    const cancelled = view('CANCELLED', { finishedAtMs: 4_000, cancel: { reason: 'wrong list', atMs: 3_900 } });
    expect(warmCacheAnswer('j', cancelled, estimate, 50_000)).toMatchObject({ membersQueued: 0, status: BatchStatus.CANCELLED, reason: 'cancelled: wrong list', estimatedCompletionMs: 4_000 });
    const completed = view('COMPLETED', { finishedAtMs: 4_500 });
    expect(warmCacheAnswer('j', completed, estimate, 50_000)).toMatchObject({ membersQueued: 0, status: BatchStatus.COMPLETED, reason: '', estimatedCompletionMs: 4_500 });
  });

  it('a job Temporal ended without its own result (terminated): FAILED with how it ended', () => {
    expect(warmCacheAnswer('j', { kind: 'ended', status: 'FAILED', reason: 'the warming workflow was terminated in Temporal (terminated: INC-1)', closedAtMs: 7_000 }, estimate, 50_000)).toEqual({
      warmingJobId: 'j',
      membersQueued: 0,
      membersSkipped: 0,
      status: BatchStatus.FAILED,
      reason: 'the warming workflow was terminated in Temporal (terminated: INC-1)',
      estimatedCompletionMs: 7_000,
    });
  });

  it('a job not taken up by a worker by the answer\'s bound (probe p15): its id, every member queued, status as Temporal shows it, why, and the upper estimate', () => {
    expect(warmCacheAnswer('j', { kind: 'undecided', status: 'PENDING' }, estimate, 50_000, { members: 3, estimateMs: 90_000 })).toEqual({
      warmingJobId: 'j',
      membersQueued: 3,
      membersSkipped: 0,
      status: BatchStatus.PENDING,
      reason: UNDECIDED_REASON,
      estimatedCompletionMs: 90_000,
    });
    expect(UNDECIDED_REASON).toContain('follow the job with GetWarmingJob');
  });
});

describe('undecidedEstimateMs', () => {
  const v = (priority: 'URGENT' | 'PRELOAD' | 'BACKGROUND', strategy: 'INTELLIGENT' | 'FORCE' | 'FILL_ONLY', n = 2) => ({ memberIds: Array.from({ length: n }, (_, i) => `M-${i}`), operations: ['check_eligibility'], priority, strategy });
  it('as if nothing were cached: URGENT INTELLIGENT and FORCE real time on one slot, others the batch API latency', () => {
    expect(undecidedEstimateMs(v('URGENT', 'INTELLIGENT'), 1_000)).toBe(1_000 + 2 * 13_500);
    expect(undecidedEstimateMs(v('PRELOAD', 'FORCE', 3), 1_000)).toBe(1_000 + 3 * 13_500);
    expect(undecidedEstimateMs(v('URGENT', 'FILL_ONLY'), 1_000, 60_000)).toBe(61_000);
    expect(undecidedEstimateMs(v('PRELOAD', 'INTELLIGENT'), 1_000, 60_000)).toBe(61_000);
    // BACKGROUND: members' zones are not known yet, so the batch work starts at the latest LOW_UTILIZATION window end
    // over the US zones (Honolulu's, here), not New York's 02:00.
    const at = Date.parse('2026-12-04T15:00:00Z');
    const hawaii = hourWindowSlot('LOW_UTILIZATION', at, 'Pacific/Honolulu');
    const newYork = hourWindowSlot('LOW_UTILIZATION', at, 'America/New_York');
    expect(hawaii.startMs).toBeGreaterThan(newYork.startMs);
    expect(undecidedEstimateMs(v('BACKGROUND', 'INTELLIGENT'), at, 60_000)).toBe(hawaii.startMs + hawaii.spreadMs + JITTER_MS + 60_000);
  });
});
