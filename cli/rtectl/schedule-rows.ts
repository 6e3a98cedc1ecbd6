/**
 * `rtectl schedules list` rows (pure, from what Temporal's schedule list answers). A paused schedule has no next run:
 * Temporal still computes next action times for it, but none will run while it is paused, and ScheduleWarming leaves
 * `next_run` unset for a disabled schedule, so the listing says the same.
 */
export interface ScheduleListEntry {
  scheduleId: string;
  state: { paused?: boolean };
  info: { nextActionTimes: Date[]; recentActions: { scheduledAt: Date }[] };
}

export interface ScheduleRow {
  scheduleId: string;
  kind: 'warming' | 'member-cron' | 'other';
  paused: boolean;
  /** null when paused (nothing will run) or when Temporal has no next action. */
  nextRun: string | null;
  recentRun: string | null;
}

export function scheduleRow(s: ScheduleListEntry): ScheduleRow {
  const id = s.scheduleId;
  const paused = !!s.state.paused;
  return {
    scheduleId: id,
    kind: id.startsWith('warming/') ? 'warming' : id.startsWith('member-cron/') ? 'member-cron' : 'other',
    paused,
    nextRun: paused ? null : (s.info.nextActionTimes[0]?.toISOString() ?? null),
    recentRun: s.info.recentActions.at(-1)?.scheduledAt.toISOString() ?? null,
  };
}

export function scheduleRowText(r: ScheduleRow): string {
  return r.paused ? `${r.scheduleId}  PAUSED  no next run` : `${r.scheduleId}  active  next ${r.nextRun ?? '-'}`;
}
