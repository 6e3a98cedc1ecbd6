import { warmingDetails, warmingSummary, warmsCancelled, type WarmingDetailsInput } from './details';

const NOW = Date.parse('2026-12-02T01:00:00Z');
const outcomes = { pending: 0, warmed: 400, skipped_fresh: 0, skipped_cached: 0, failed: 1, cancelled: 0 };
const base: WarmingDetailsInput = {
  status: 'RUNNING',
  priority: 'PRELOAD',
  members: 1000,
  membersPlanned: 1000,
  membersSkipped: 0,
  realtime: 0,
  batchApi: 1000,
  outcomes,
  inFlightCompleted: 12,
  inFlightFailed: 2,
  resolving: false,
};

describe('warming job details (Temporal Web UI current details)', () => {
  it.each<[string, Partial<WarmingDetailsInput>, string]>([
    ['running on the batch API with an ETA', { estimatedCompletionMs: Date.parse('2026-12-02T04:31:00Z') }, '412 / 1,000 warmed · 3 failed · PRELOAD via batch API · ETA 04:31 UTC'],
    ['waiting for the children’s window', { status: 'WAITING', priority: 'BACKGROUND', waitingUntilMs: Date.parse('2026-12-02T07:07:00Z'), window: 'LOW_UTILIZATION' }, '412 / 1,000 warmed · 3 failed · BACKGROUND via batch API · waiting for LOW_UTILIZATION window until 07:07 UTC'],
    [
      'deferred by Stedi load (a non-URGENT real-time child under slot load)',
      { status: 'WAITING', priority: 'PRELOAD', realtime: 1_000, batchApi: 0, waitingUntilMs: Date.parse('2026-12-02T07:07:00Z'), window: 'ANY', deferredByLoad: true },
      '412 / 1,000 warmed · 3 failed · PRELOAD via real-time · deferred by Stedi load: waiting until 07:07 UTC at the latest, or sooner when the load drops',
    ],
    ['paused by someone', { status: 'PAUSED', pausedBy: 'ops-oncall' }, 'paused by ops-oncall · 412 / 1,000 warmed · 3 failed · PRELOAD via batch API · resume with signal resumeWarming'],
    ['held until notBefore', { status: 'PENDING', waitingUntilMs: Date.parse('2026-12-03T02:07:00Z') }, 'held until 2026-12-03 02:07 UTC (not before) · 1,000 members · PRELOAD'],
    ['resolving a query', { status: 'PENDING', resolving: true, members: 250 }, 'resolving member query · 250 members so far'],
    ['both paths, members still to decide', { realtime: 10, batchApi: 90, membersPlanned: 100 }, '412 / 100 warmed · 3 failed · PRELOAD via real-time + batch API · 100 / 1,000 members decided'],
    ['failed, with why', { status: 'FAILED', failure: { code: 'MemberLimitExceeded', message: 'too many' } }, 'FAILED · 400 / 1,000 warmed · 1 failed · MemberLimitExceeded: too many'],
  ])('%s', (_what, patch, expected) => {
    expect(warmingDetails({ ...base, ...patch }, NOW)).toBe(expected);
  });

  it('summary names the source, size, operations and priority, and a hold', () => {
    expect(warmingSummary({ source: 'member-cron-daily-rte-warmup', priority: 'URGENT', strategy: 'INTELLIGENT', operations: ['check_eligibility'], members: 1200 }, NOW)).toBe(
      'Cache warming member-cron-daily-rte-warmup · 1,200 members · check_eligibility · URGENT INTELLIGENT',
    );
    expect(warmingSummary({ source: 'api', priority: 'BACKGROUND', strategy: 'FORCE', operations: ['a', 'b'], notBeforeMs: NOW + 3_600_000 }, NOW)).toBe(
      'Cache warming api · member query · 2 operations · BACKGROUND FORCE · not before 02:00 UTC',
    );
  });
});

describe('warmsCancelled (a CANCELLED event\'s members_cancelled)', () => {
  const o = (x: Partial<typeof outcomes>) => ({ ...outcomes, warmed: 0, failed: 0, ...x });
  it.each([
    ['cancelled before any page was planned: every warm', { members: 5, membersPlanned: 0, outcomes: o({}) }, 1, 5],
    ['two operations, nothing planned', { members: 5, membersPlanned: 0, outcomes: o({}) }, 2, 10],
    ['settled rows plus unplanned pages', { members: 10, membersPlanned: 4, outcomes: o({ warmed: 1, cancelled: 3 }) }, 1, 9],
    ['settlement did not run: pending rows count too', { members: 2, membersPlanned: 2, outcomes: o({ warmed: 1, pending: 1 }) }, 1, 1],
  ])('%s', (_name, c, ops, want) => {
    expect(warmsCancelled(c, ops)).toBe(want);
  });
});
