import { formatScheduleReport, type ScheduleApplyReport } from './reconcile';

describe('formatScheduleReport', () => {
  const report = (dryRun: boolean): ScheduleApplyReport => ({ dryRun, created: ['a'], updated: ['b'], paused: [], unpaused: [], deleted: ['member-cron/old'], unchanged: ['c'] });

  it('a dry run says what it would do, never that it did it', () => {
    const text = formatScheduleReport('member-cron schedules', report(true));
    expect(text).toContain('(dry run: nothing changed)');
    expect(text).toMatch(/would delete\s+member-cron\/old/);
    expect(text).toMatch(/would create\s+a/);
    expect(text).not.toMatch(/^\s+deleted /m);
  });

  it('a real run reports what it did', () => {
    const text = formatScheduleReport('member-cron schedules', report(false));
    expect(text).toMatch(/^\s+deleted\s+member-cron\/old$/m);
    expect(text).toMatch(/^\s+created\s+a$/m);
  });
});
