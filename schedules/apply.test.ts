import { applySchedules, desiredSchedule, type DesiredSchedule, type ExistingSchedule, type ScheduleStore } from './apply';
import { parseScheduleFile } from './load';

class FakeStore implements ScheduleStore {
  readonly schedules = new Map<string, ExistingSchedule & { input?: unknown }>();
  readonly calls: string[] = [];
  async listIds(prefix: string) {
    return [...this.schedules.keys()].filter((id) => id.startsWith(prefix));
  }
  async get(id: string) {
    const s = this.schedules.get(id);
    return s ? { scheduleId: s.scheduleId, specHash: s.specHash, paused: s.paused } : undefined;
  }
  async create(d: DesiredSchedule) {
    this.calls.push(`create ${d.scheduleId}`);
    this.schedules.set(d.scheduleId, { scheduleId: d.scheduleId, specHash: d.specHash, paused: d.paused, input: d.input });
  }
  async update(d: DesiredSchedule) {
    this.calls.push(`update ${d.scheduleId}`);
    const s = this.schedules.get(d.scheduleId);
    if (s) Object.assign(s, { specHash: d.specHash, input: d.input });
  }
  async setPaused(id: string, paused: boolean) {
    this.calls.push(`${paused ? 'pause' : 'unpause'} ${id}`);
    const s = this.schedules.get(id);
    if (s) s.paused = paused;
  }
  async delete(id: string) {
    this.calls.push(`delete ${id}`);
    this.schedules.delete(id);
  }
}

const FILE = `
schedules:
  - name: daily-rte-warmup
    cron: "@daily"
    filters:
      - has_rte_enabled: true
      - app_usage_probability: "> 0.5"
  - name: weekly-bulk-refresh
    cron: "0 2 * * 0"
    filters:
      - has_rte_enabled: true
  - name: monthly-full-sync
    cron: "@monthly"
`;
const opts = { taskQueue: 'rte-main' };

describe('applySchedules', () => {
  it('creates every schedule on first apply and does nothing on the second', async () => {
    const store = new FakeStore();
    const first = await applySchedules(parseScheduleFile(FILE), store, opts);
    expect(first.created).toEqual(['member-cron/daily-rte-warmup', 'member-cron/monthly-full-sync', 'member-cron/weekly-bulk-refresh']);
    store.calls.length = 0;
    const second = await applySchedules(parseScheduleFile(FILE), store, opts);
    expect(second.unchanged).toHaveLength(3);
    expect(second.created.length + second.updated.length + second.deleted.length).toBe(0);
    expect(store.calls).toEqual([]);
  });

  it('updates only the edited schedule, deletes removed ones, pauses disabled ones', async () => {
    const store = new FakeStore();
    await applySchedules(parseScheduleFile(FILE), store, opts);
    store.calls.length = 0;
    const edited = FILE.replace('"0 2 * * 0"', '"0 3 * * 0"')
      .replace('  - name: monthly-full-sync\n    cron: "@monthly"\n', '')
      .replace('cron: "@daily"', 'cron: "@daily"\n    enabled: false');
    const report = await applySchedules(parseScheduleFile(edited), store, opts);
    expect(report.updated).toEqual(['member-cron/weekly-bulk-refresh']);
    expect(report.deleted).toEqual(['member-cron/monthly-full-sync']);
    expect(report.paused).toEqual(['member-cron/daily-rte-warmup']);
    expect(report.unchanged).toEqual([]);
    expect(store.calls.sort()).toEqual(['delete member-cron/monthly-full-sync', 'pause member-cron/daily-rte-warmup', 'update member-cron/weekly-bulk-refresh']);
    // Re-enabling unpauses without touching the spec.
    store.calls.length = 0;
    const reenabled = await applySchedules(parseScheduleFile(edited.replace('enabled: false', 'enabled: true')), store, opts);
    expect(reenabled.unpaused).toEqual(['member-cron/daily-rte-warmup']);
    expect(store.calls).toEqual(['unpause member-cron/daily-rte-warmup']);
  });

  it('treats a filter change as a spec change', async () => {
    const store = new FakeStore();
    await applySchedules(parseScheduleFile(FILE), store, opts);
    const report = await applySchedules(parseScheduleFile(FILE.replace('"> 0.5"', '"> 0.7"')), store, opts);
    expect(report.updated).toEqual(['member-cron/daily-rte-warmup']);
    expect(store.schedules.get('member-cron/daily-rte-warmup')?.input).toMatchObject({ memberQuery: { minAppUsageProbability: 0.7 } });
  });

  it('dry run reports the plan and changes nothing', async () => {
    const store = new FakeStore();
    const report = await applySchedules(parseScheduleFile(FILE), store, { ...opts, dryRun: true });
    expect(report.created).toHaveLength(3);
    expect(store.calls).toEqual([]);
    expect(store.schedules.size).toBe(0);
  });

  it('never deletes schedules outside its prefix', async () => {
    const store = new FakeStore();
    store.schedules.set('other-team/nightly', { scheduleId: 'other-team/nightly', specHash: 'x', paused: false });
    const report = await applySchedules([], store, opts);
    expect(report.deleted).toEqual([]);
    expect(store.schedules.has('other-team/nightly')).toBe(true);
  });

  it('hash ignores enabled but covers the cron, the query and the task queue', () => {
    const [a] = parseScheduleFile(FILE);
    if (!a) throw new Error('no schedule');
    const h = desiredSchedule(a, 'q1').specHash;
    expect(desiredSchedule({ ...a, enabled: false }, 'q1').specHash).toBe(h);
    expect(desiredSchedule({ ...a, cron: '@weekly' }, 'q1').specHash).not.toBe(h);
    expect(desiredSchedule(a, 'q2').specHash).not.toBe(h);
    expect(desiredSchedule({ ...a, memberQuery: {} }, 'q1').specHash).not.toBe(h);
  });
});
