import { scheduleRow, scheduleRowText } from './schedule-rows';

const next = new Date('2026-12-04T04:00:00.000Z');
const ran = new Date('2026-12-03T04:00:00.000Z');
const entry = (scheduleId: string, paused: boolean) => ({ scheduleId, state: { paused }, info: { nextActionTimes: [next], recentActions: [{ scheduledAt: ran }] } });

describe('rtectl schedules list rows', () => {
  it('a paused schedule shows no next run (Temporal still lists one), as ScheduleWarming leaves next_run unset', () => {
    const r = scheduleRow(entry('warming/daily-rte-warmup', true));
    expect(r).toEqual({ scheduleId: 'warming/daily-rte-warmup', kind: 'warming', paused: true, nextRun: null, recentRun: ran.toISOString() });
    expect(scheduleRowText(r)).toBe('warming/daily-rte-warmup  PAUSED  no next run');
  });

  it('an active schedule shows its next run', () => {
    const r = scheduleRow(entry('member-cron/daily-rte-warmup', false));
    expect(r).toMatchObject({ kind: 'member-cron', paused: false, nextRun: next.toISOString() });
    expect(scheduleRowText(r)).toBe('member-cron/daily-rte-warmup  active  next 2026-12-04T04:00:00.000Z');
    expect(scheduleRowText(scheduleRow({ ...entry('x/y', false), info: { nextActionTimes: [], recentActions: [] } }))).toBe('x/y  active  next -');
  });
});
