import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { SchedulingWindow } from '../gen/rte/v1/common_pb';
import type { MemberQuerySchema } from '../gen/rte/v1/member_query_pb';
import { ScheduleWarmingRequestSchema, WarmCacheRequest_Priority, WarmingStrategy } from '../gen/rte/v1/warming_pb';
import { FieldError } from '../lib/errors';
import { ScheduleFileError } from './load';
import {
  applyWarmingSchedules,
  desiredWarmingSchedule,
  upsertWarmingSchedule,
  WarmingScheduleExists,
  WarmingScheduleOwnedByAnother,
  type DesiredWarmingSchedule,
  type ExistingWarmingSchedule,
  type WarmingScheduleStore,
  type WarmingScheduleWriter,
} from './warming';
import { checkWarmingScheduleFile, parseWarmingScheduleFile } from './warming-load';
import { validateScheduleWarming } from './warming-request';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const NOW = new Date('2024-11-15T00:00:00.000Z');
const NEXT = new Date('2024-11-15T04:00:00.000Z');

interface Init {
  scheduleName?: string;
  cronExpression?: string;
  memberQuery?: MessageInitShape<typeof MemberQuerySchema> | undefined;
  strategy?: WarmingStrategy;
  priority?: WarmCacheRequest_Priority;
  enabled?: boolean;
}

const req = (init: Init = {}) =>
  create(ScheduleWarmingRequestSchema, {
    scheduleName: 'morning-preload',
    cronExpression: '0 4 * * *',
    memberQuery: { hasRteEnabled: true, minAppUsageProbability: 0.8 },
    strategy: WarmingStrategy.INTELLIGENT,
    priority: WarmCacheRequest_Priority.PRELOAD,
    enabled: true,
    ...init,
  });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FieldError) return err.fieldPath;
    throw err;
  }
  throw new Error('expected a FieldError');
}

describe('validateScheduleWarming', () => {
  it('accepts the doc example and keeps the query as proto JSON', () => {
    expect(validateScheduleWarming(req(), NOW)).toEqual({
      name: 'morning-preload',
      cron: '0 4 * * *',
      memberQuery: { hasRteEnabled: true, minAppUsageProbability: 0.8 },
      strategy: 'INTELLIGENT',
      priority: 'PRELOAD',
      enabled: true,
      description: '',
    });
  });

  it.each([
    ['empty name', 'schedule_name', req({ scheduleName: '' })],
    ['name with a slash', 'schedule_name', req({ scheduleName: 'a/b' })],
    ['upper-case name', 'schedule_name', req({ scheduleName: 'Morning' })],
    ['missing cron', 'cron_expression', req({ cronExpression: '  ' })],
    ['cron hour 25', 'cron_expression', req({ cronExpression: '0 25 * * *' })],
    ['cron with four fields', 'cron_expression', req({ cronExpression: '0 4 * *' })],
    ['missing query', 'member_query', req({ memberQuery: undefined })],
    ['query with a cursor', 'member_query.cursor', req({ memberQuery: { cursor: 'abc' } })],
    ['query with a limit', 'member_query.limit', req({ memberQuery: { limit: 10 } })],
    // Never ignored: the window of a warming job comes from its priority.
    ['query with a scheduling window', 'member_query.scheduling_window', req({ memberQuery: { schedulingWindow: SchedulingWindow.MORNING } })],
    ['query with the low-utilisation window', 'member_query.scheduling_window', req({ memberQuery: { schedulingWindow: SchedulingWindow.LOW_UTILIZATION } })],
    ['probability above 1', 'member_query.min_app_usage_probability', req({ memberQuery: { minAppUsageProbability: 1.5 } })],
    ['min age above max age', 'member_query.demographics_filter.min_age', req({ memberQuery: { demographicsFilter: { minAge: 60, maxAge: 20 } } })],
    ['bad predicate', 'member_query.predicate_filter.expression', req({ memberQuery: { predicateFilter: { expression: 'age >>> 3' } } })],
    ['unknown strategy', 'strategy', req({ strategy: 7 as WarmingStrategy })],
    ['unknown priority', 'priority', req({ priority: 9 as WarmCacheRequest_Priority })],
  ])('%s → %s', (_name, field, r) => {
    expect(fieldOf(() => validateScheduleWarming(r, NOW))).toBe(field);
  });

  it('keeps the decimal the caller wrote, not its float32 wire value', () => {
    expect(validateScheduleWarming(req({ memberQuery: { minAppUsageProbability: Math.fround(0.8) } }), NOW).memberQuery).toEqual({ minAppUsageProbability: 0.8 });
  });

  it('an unknown field is refused', () => {
    const r = req();
    r.$unknown = [{ no: 42, wireType: 0, data: new Uint8Array([1]) }];
    expect(fieldOf(() => validateScheduleWarming(r, NOW))).toBe('(field 42)');
  });

  it('feature flags are checked by key, resolved per run', () => {
    expect(() => validateScheduleWarming(req({ memberQuery: { requiredFeatureFlags: { 'rte-warming': true } } }), NOW)).not.toThrow();
    expect(fieldOf(() => validateScheduleWarming(req({ memberQuery: { requiredFeatureFlags: { '': true } } }), NOW))).toBe('member_query.required_feature_flags');
  });
});

class FakeStore implements WarmingScheduleStore {
  readonly schedules = new Map<string, ExistingWarmingSchedule & { input: unknown }>();
  readonly calls: string[] = [];
  raceOnCreate = false;
  raceOwner: string | undefined;
  async get(id: string) {
    const s = this.schedules.get(id);
    return s ? { scheduleId: s.scheduleId, specHash: s.specHash, managedBy: s.managedBy, paused: s.paused, nextRun: s.paused ? undefined : NEXT, owner: s.owner } : undefined;
  }
  async create(d: DesiredWarmingSchedule, writer: WarmingScheduleWriter) {
    if (this.raceOnCreate) {
      this.raceOnCreate = false;
      this.schedules.set(d.scheduleId, { scheduleId: d.scheduleId, specHash: 'other', managedBy: 'api', paused: false, nextRun: NEXT, input: null, owner: this.raceOwner });
      throw new WarmingScheduleExists(d.scheduleId);
    }
    this.calls.push(`create ${d.scheduleId}`);
    this.schedules.set(d.scheduleId, { scheduleId: d.scheduleId, specHash: d.specHash, managedBy: writer, paused: d.paused, nextRun: NEXT, input: d.input, owner: writer === 'api' ? d.owner : undefined });
  }
  async update(d: DesiredWarmingSchedule, writer: WarmingScheduleWriter) {
    this.calls.push(`update ${d.scheduleId}`);
    Object.assign(this.schedules.get(d.scheduleId)!, { specHash: d.specHash, managedBy: writer, input: d.input, owner: writer === 'api' ? d.owner : undefined });
  }
  async setPaused(id: string, paused: boolean) {
    this.calls.push(`${paused ? 'pause' : 'unpause'} ${id}`);
    this.schedules.get(id)!.paused = paused;
  }
  async listIds(prefix: string) {
    return [...this.schedules.keys()].filter((id) => id.startsWith(prefix));
  }
  async delete(id: string) {
    this.calls.push(`delete ${id}`);
    this.schedules.delete(id);
  }
}

const desired = (init: Init = {}) => desiredWarmingSchedule(validateScheduleWarming(req(init), NOW), 'rte-main');

describe('desiredWarmingSchedule tuning', () => {
  it('carries the platform tuning in the action input (a tick pages and polls like every other job) and in the spec hash', () => {
    const def = validateScheduleWarming(req(), NOW);
    const tuning = { pageSize: 20, continueAsNewAfterEvents: 1, batch: { pollBackoff: { initialMs: 500, maxMs: 1_000, multiplier: 2 } } };
    const plain = desiredWarmingSchedule(def, 'rte-main');
    const tuned = desiredWarmingSchedule(def, 'rte-main', undefined, tuning);
    expect(plain.input.tuning).toBeUndefined();
    expect(tuned.input.tuning).toEqual(tuning);
    expect(tuned.scheduleId).toBe(plain.scheduleId);
    expect(tuned.specHash).not.toBe(plain.specHash);
  });
});

describe('upsertWarmingSchedule', () => {
  it('create → same request again (no call) → update → disable (pause, no next run) → enable', async () => {
    const store = new FakeStore();
    expect(await upsertWarmingSchedule(desired(), store, 'api')).toEqual({ scheduleId: 'warming/morning-preload', action: 'created', nextRun: NEXT });
    expect(store.schedules.get('warming/morning-preload')?.input).toEqual({
      jobId: '',
      source: 'schedule-morning-preload',
      scheduleName: 'morning-preload',
      selector: { kind: 'query', query: { hasRteEnabled: true, minAppUsageProbability: 0.8 } },
      strategy: 'INTELLIGENT',
      priority: 'PRELOAD',
      operations: ['check_eligibility'],
    });
    store.calls.length = 0;
    expect(await upsertWarmingSchedule(desired(), store, 'api')).toMatchObject({ action: 'unchanged', nextRun: NEXT });
    expect(store.calls).toEqual([]);
    expect(await upsertWarmingSchedule(desired({ cronExpression: '30 4 * * *' }), store, 'api')).toMatchObject({ action: 'updated' });
    expect(await upsertWarmingSchedule(desired({ cronExpression: '30 4 * * *', enabled: false }), store, 'api')).toEqual({
      scheduleId: 'warming/morning-preload',
      action: 'unchanged',
      pausedChange: 'paused',
      nextRun: undefined,
    });
    expect(await upsertWarmingSchedule(desired({ cronExpression: '30 4 * * *' }), store, 'api')).toMatchObject({ pausedChange: 'unpaused', nextRun: NEXT });
    expect(store.calls).toEqual(['update warming/morning-preload', 'pause warming/morning-preload', 'unpause warming/morning-preload']);
  });

  it('a pause Temporal shows late (its describe lags the pause call): the upsert answers once a describe shows it, bounded', async () => {
    // The store's describe keeps showing the old pause state for a few reads after a setPaused (never, with neverShows).
    class LaggingStore extends FakeStore {
      lagReads = 0;
      neverShows = false;
      shown = new Map<string, boolean>();
      override async get(id: string) {
        const s = await super.get(id);
        if (!s) return s;
        if (this.lagReads > 0) {
          this.lagReads--;
          const old = this.shown.get(id) ?? s.paused;
          return { ...s, paused: old, nextRun: old ? undefined : NEXT };
        }
        this.shown.set(id, s.paused);
        return s;
      }
      override async setPaused(id: string, paused: boolean) {
        await super.setPaused(id, paused);
        this.lagReads = this.neverShows ? Number.POSITIVE_INFINITY : 3;
      }
    }
    const store = new LaggingStore();
    const sleeps: number[] = [];
    const settle = { timeoutMs: 1_000, intervalMs: 100, sleep: async (ms: number) => void sleeps.push(ms) };
    await upsertWarmingSchedule(desired(), store, 'api', { settle });
    expect(await upsertWarmingSchedule(desired({ enabled: false }), store, 'api', { settle })).toMatchObject({ pausedChange: 'paused', nextRun: undefined });
    // The answer came after the store's describe showed the pause: the next describe (an operator's) shows it too.
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
    expect((await store.get('warming/morning-preload'))?.paused).toBe(true);
    // Bounded: a pause that never shows returns after the timeout with the last read (the pause was accepted).
    sleeps.length = 0;
    store.neverShows = true;
    const r = await upsertWarmingSchedule(desired(), store, 'api', { settle });
    expect(r).toMatchObject({ pausedChange: 'unpaused' });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
  });

  it('a concurrent create by another writer converges by updating to this request', async () => {
    const store = new FakeStore();
    store.raceOnCreate = true;
    const d = desired();
    expect(await upsertWarmingSchedule(d, store, 'api')).toMatchObject({ action: 'updated' });
    expect(store.schedules.get(d.scheduleId)?.specHash).toBe(d.specHash);
  });

  describe('owner (the service that created it through ScheduleWarming)', () => {
    const owner = { service: 'warming-svc', admin: false };
    const other = { service: 'warming-other', admin: false };
    const admin = { service: 'ops-admin', admin: true };

    it('another service may neither rewrite nor pause it: refused before any write; the owner and an admin may', async () => {
      const store = new FakeStore();
      await upsertWarmingSchedule(desired(), store, 'api', { caller: owner });
      expect(store.schedules.get('warming/morning-preload')?.owner).toBe('warming-svc');
      store.calls.length = 0;
      for (const d of [desired({ strategy: WarmingStrategy.FORCE, priority: WarmCacheRequest_Priority.URGENT }), desired({ enabled: false }), desired()]) {
        await expect(upsertWarmingSchedule(d, store, 'api', { caller: other })).rejects.toMatchObject({ constructor: WarmingScheduleOwnedByAnother, owner: 'warming-svc' });
      }
      expect(store.calls).toEqual([]);
      expect(store.schedules.get('warming/morning-preload')).toMatchObject({ paused: false, specHash: desired().specHash });
      // The owner changes it; an admin pauses it and the schedule stays the owner's.
      expect(await upsertWarmingSchedule(desired({ cronExpression: '30 4 * * *' }), store, 'api', { caller: owner })).toMatchObject({ action: 'updated' });
      expect(await upsertWarmingSchedule(desired({ cronExpression: '30 4 * * *', enabled: false }), store, 'api', { caller: admin })).toMatchObject({ pausedChange: 'paused' });
      expect(await upsertWarmingSchedule(desired({ cronExpression: '45 4 * * *', enabled: false }), store, 'api', { caller: admin })).toMatchObject({ action: 'updated' });
      expect(store.schedules.get('warming/morning-preload')?.owner).toBe('warming-svc');
    });

    it('a concurrent create by another service is not taken over', async () => {
      const store = new FakeStore();
      store.raceOnCreate = true;
      store.raceOwner = 'warming-svc';
      await expect(upsertWarmingSchedule(desired(), store, 'api', { caller: other })).rejects.toBeInstanceOf(WarmingScheduleOwnedByAnother);
      expect(store.calls).toEqual([]);
    });

    it('a schedule from before owners were recorded gets its next API writer as owner', async () => {
      const store = new FakeStore();
      await upsertWarmingSchedule(desired(), store, 'api');
      expect(store.schedules.get('warming/morning-preload')?.owner).toBeUndefined();
      expect(await upsertWarmingSchedule(desired(), store, 'api', { caller: owner })).toMatchObject({ action: 'updated' });
      expect(store.schedules.get('warming/morning-preload')?.owner).toBe('warming-svc');
      await expect(upsertWarmingSchedule(desired(), store, 'api', { caller: other })).rejects.toBeInstanceOf(WarmingScheduleOwnedByAnother);
    });
  });
});

describe('warming schedules file', () => {
  const file = readFileSync(path.resolve(__dirname, 'warming-schedules.yaml'), 'utf8');

  it('ships the design doc\'s three examples', () => {
    const defs = parseWarmingScheduleFile(file, 'warming-schedules.yaml', NOW);
    expect(defs.map((d) => [d.name, d.cron, d.strategy, d.priority, d.enabled])).toEqual([
      ['morning-preload', '0 4 * * *', 'INTELLIGENT', 'PRELOAD', true],
      ['appointment-preload', '0 20 * * *', 'FORCE', 'URGENT', true],
      ['weekly-refresh', '0 3 * * 0', 'FILL_ONLY', 'BACKGROUND', true],
    ]);
    expect(defs[1]?.memberQuery).toEqual({ engagementFilter: { hasUpcomingAppointments: true, upcomingAppointmentWithinHours: 24 } });
  });

  it('refuses a bad entry naming the field and its line, through the RPC\'s validation', () => {
    const bad = `schedules:
  - schedule_name: ok
    cron: "0 4 * * *"
    member_query: {}
    enabled: true
  - schedule_name: bad
    cron: "0 25 * * *"
    member_query:
      demographics_filter: { min_age: 70, max_age: 20 }
    priority: PRIORITY_SOMETIMES
    enabled: true
`;
    let err: unknown;
    try {
      parseWarmingScheduleFile(bad, 'w.yaml', NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScheduleFileError);
    expect((err as ScheduleFileError).issues.map((i) => [i.field, i.line])).toEqual([['schedules[1].priority', 10]]);
    const semantic = bad.replace('    priority: PRIORITY_SOMETIMES\n', '');
    try {
      parseWarmingScheduleFile(semantic, 'w.yaml', NOW);
      throw new Error('accepted');
    } catch (e) {
      expect((e as ScheduleFileError).issues.map((i) => [i.field, i.line])).toEqual([['schedules[1].cron', 7]]);
    }
    const query = semantic.replace('"0 25 * * *"', '"0 4 * * *"');
    expect(() => parseWarmingScheduleFile(query, 'w.yaml', NOW)).toThrow(/schedules\[1\]\.member_query\.demographics_filter\.min_age/);
  });

  it('apply\'s directory check (review13 #2): an unknown id is refused naming the entry, field and index, at its line', async () => {
    const text = `schedules:
  - schedule_name: ok
    cron: "0 4 * * *"
    member_query: {}
    enabled: true
  - schedule_name: typo
    cron: "0 4 * * *"
    member_query:
      sponsor_ids: [S1, ACME_CROP]
    enabled: true
`;
    const check = jest.fn(async (q: { sponsorIds: string[] }) => {
      const i = q.sponsorIds.indexOf('ACME_CROP');
      if (i >= 0) throw new FieldError(`member_query.sponsor_ids[${i}]`, 'unknown sponsor id "ACME_CROP"');
    });
    const err = await checkWarmingScheduleFile(text, 'w.yaml', check, NOW).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScheduleFileError);
    expect((err as ScheduleFileError).issues).toEqual([expect.objectContaining({ field: 'schedules[1].member_query.sponsor_ids[1]', line: 9, message: 'unknown sponsor id "ACME_CROP"' })]);
    expect(check).toHaveBeenCalledTimes(2);
    await expect(checkWarmingScheduleFile(file, 'w.yaml', async () => undefined, NOW)).resolves.toHaveLength(3);
  });

  it('the apply deletes only schedules the file created', async () => {
    const store = new FakeStore();
    const defs = parseWarmingScheduleFile(file, 'warming-schedules.yaml', NOW);
    await upsertWarmingSchedule(desired({ scheduleName: 'from-the-api' }), store, 'api');
    expect((await applyWarmingSchedules(defs, store, { taskQueue: 'rte-main' })).created).toEqual([
      'warming/appointment-preload',
      'warming/morning-preload',
      'warming/weekly-refresh',
    ]);
    const second = await applyWarmingSchedules(defs.slice(1), store, { taskQueue: 'rte-main' });
    expect(second).toMatchObject({ deleted: ['warming/morning-preload'], unchanged: ['warming/appointment-preload', 'warming/weekly-refresh'], created: [], updated: [] });
    expect([...store.schedules.keys()].sort()).toEqual(['warming/appointment-preload', 'warming/from-the-api', 'warming/weekly-refresh']);
  });
});
