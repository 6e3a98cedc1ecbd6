import { createInMemoryMemberListStore } from '../batch/memory-stores';
import { fromBinary } from '@bufbuild/protobuf';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { FeatureFlagProvider, FlagContext } from '../../directory/feature-flags';
import { MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { Topics } from '../../lib/kafka-topics';
import { silentLogger } from '../../lib/logger';
import { RULE_BASED_MODEL_VERSION, RuleBasedActivityPredictor } from '../../lib/prediction/rule-based';
import { InMemoryEventPublisher } from '../kafka/in-memory-publisher';
import { unlimitedRateLimiter } from '../kafka/rate-limiter';
import { createMemberCronActivities, type EmitShardInput, type MemberCronActivityDeps } from './activities';
import { InMemoryEmissionLedger } from './emission-ledger';
import type { MemberSnapshot } from './ports';
import { InMemoryPredictionOutcomeStore } from '../prediction-accuracy/in-memory-prediction-outcome-store';
import type { PredictionRecorder } from '../prediction-accuracy/ports';
import type { MemberCronCounts } from '../../workflows/member-cron.defs';
import type { MemberPredictionRow } from '../../directory/member-predictions';
import { timestampMs } from '@bufbuild/protobuf/wkt';

const DAY = 86_400_000;
const members: MemberSnapshot[] = ['m1', 'm2', 'm3', 'm4'].map((id, i) => ({
  memberId: id,
  sponsorId: i < 3 ? 'SPONSOR_A' : 'SPONSOR_B',
  populationIds: ['POP_1'],
  rteEnabled: true,
  lastEligibilityCheckAt: new Date('2024-11-01T00:00:00Z'),
  timeZone: 'America/New_York',
  nextAppointmentAt: null,
}));

class FakeFlags implements FeatureFlagProvider {
  values = new Map<string, boolean>();
  async variation(flag: string, ctx: FlagContext, def: boolean) {
    return this.values.get(`${flag}|${ctx.kind}|${ctx.key}`) ?? def;
  }
}

function setup(extra: Partial<MemberCronActivityDeps> = {}) {
  const publisher = new InMemoryEventPublisher();
  const ledger = new InMemoryEmissionLedger();
  const flags = new FakeFlags();
  const acts = createMemberCronActivities({
    directory: { queryMembers: async () => ({ members: [], nextCursor: null }) },
    lists: createInMemoryMemberListStore(),
    members: { getMemberSnapshots: async (ids) => new Map(members.filter((m) => ids.includes(m.memberId)).map((m) => [m.memberId, m])) },
    activity: {
      getRecentEvents: async (ids, _since, until) =>
        new Map(ids.map((id) => [id, Array.from({ length: 60 }, (_, d) => ({ type: 'APP_SESSION_STARTED', at: until.getTime() - (d + 1) * DAY }))])),
    },
    flags,
    predictor: new RuleBasedActivityPredictor(),
    publisher,
    rateLimiter: unlimitedRateLimiter,
    ledger,
    hashMemberId: (id) => `h-${id}`,
    logger: silentLogger(),
    snapshotFlagKeys: ['vpc-expansion'],
    clock: () => Date.parse('2024-11-15T00:00:05Z'),
    ...extra,
  });
  return { acts, publisher, ledger, flags };
}

/** A different workflow run (a rerun of the tick), as opposed to a retry of the same activity. */
const inRun = (runId: string, extra: { attempt?: number; heartbeatDetails?: unknown } = {}) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId: 'member-cron/daily-rte-warmup/2024-11-15T00:00:00.000Z/0', runId }, ...extra });

const input: EmitShardInput = {
  scheduleName: 'daily-rte-warmup',
  cronExpression: '@daily',
  scheduledTime: '2024-11-15T00:00:00.000Z',
  page: 0,
  memberIds: ['m1', 'm2', 'm3', 'm4'],
  deadLetterAfterAttempts: 3,
};

describe('memberCronEmitShard', () => {
  it('emits one decodable MemberCronEvent per member, keyed by member id, with event-id and context', async () => {
    const { acts, publisher, flags } = setup();
    flags.values.set('vpc-expansion|sponsor|SPONSOR_A', true);
    const counts = await new MockActivityEnvironment().run(acts.memberCronEmitShard, input);
    expect(counts).toEqual({ scanned: 4, matched: 4, emitted: 4, duplicates: 0, skipped: 0, deadLettered: 0 });
    const events = publisher.byTopic(Topics.memberCronEvents);
    expect(events.map((e) => e.key).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(4);
    const first = events.find((e) => e.key === 'm1');
    const decoded = fromBinary(MemberCronEventSchema, first?.value ?? new Uint8Array());
    expect(decoded.scheduleName).toBe('daily-rte-warmup');
    expect(decoded.cronExpression).toBe('@daily');
    expect(decoded.context?.sponsorId).toBe('SPONSOR_A');
    expect(decoded.context?.hasRteEnabled).toBe(true);
    expect(decoded.context?.featureFlags).toEqual({ 'vpc-expansion': true });
    expect(decoded.context?.predictedActivity?.modelVersion).toBe(RULE_BASED_MODEL_VERSION);
    expect(decoded.context?.predictedActivity?.appUsageProbability).toBeGreaterThan(0.3);
    expect(first?.schema).toBe('rte.v1.MemberCronEvent');
  });

  it('a rerun of the same tick emits nothing and reports duplicates; a new tick emits again', async () => {
    const { acts, publisher } = setup();
    await inRun('run-1').run(acts.memberCronEmitShard, input);
    const again = await inRun('run-2').run(acts.memberCronEmitShard, input);
    expect(again).toMatchObject({ emitted: 0, duplicates: 4 });
    expect(publisher.published).toHaveLength(4);
    const nextTick: MemberCronCounts = await new MockActivityEnvironment().run(acts.memberCronEmitShard, { ...input, scheduledTime: '2024-11-16T00:00:00.000Z' });
    expect(nextTick.emitted).toBe(4);
  });

  it('writes each emitted member’s prediction (probability, confidence, window, version) to the directory, with the window on the event', async () => {
    const rows: MemberPredictionRow[] = [];
    const { acts, publisher } = setup({ predictions: { upsert: async (r) => (rows.push(...r), r.length) } });
    await new MockActivityEnvironment().run(acts.memberCronEmitShard, input);
    expect(rows.map((r) => r.memberId).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
    const m1 = publisher.byTopic(Topics.memberCronEvents).find((e) => e.key === 'm1');
    const a = fromBinary(MemberCronEventSchema, m1?.value ?? new Uint8Array()).context?.predictedActivity;
    const row = rows.find((r) => r.memberId === 'm1');
    expect(row).toMatchObject({ confidence: a?.confidence !== undefined ? expect.closeTo(a.confidence, 5) : -1, modelVersion: RULE_BASED_MODEL_VERSION, computedAtMs: Date.parse(input.scheduledTime) });
    expect(Math.fround(row!.appUsageProbability)).toBe(a?.appUsageProbability);
    expect(a?.predictedWindowStart).toBeDefined();
    expect(row!.windowStartMs).toBe(timestampMs(a!.predictedWindowStart!));
    expect(row!.windowEndMs).toBe(timestampMs(a!.predictedWindowEnd!));
    expect(row!.windowStartMs!).toBeGreaterThanOrEqual(Date.parse(input.scheduledTime));
    // A rerun of the tick emits nothing and writes nothing.
    rows.length = 0;
    await inRun('run-2').run(acts.memberCronEmitShard, input);
    expect(rows).toHaveLength(0);
  });

  it('a failed prediction write fails the attempt before anything is published; the retry emits exactly once', async () => {
    let failures = 1;
    const rows: MemberPredictionRow[] = [];
    const { acts, publisher } = setup({
      predictions: {
        upsert: async (r) => {
          if (failures-- > 0) throw new Error('directory down');
          rows.push(...r);
          return r.length;
        },
      },
    });
    await expect(new MockActivityEnvironment({ attempt: 1 }).run(acts.memberCronEmitShard, input)).rejects.toThrow('directory down');
    expect(publisher.published).toHaveLength(0);
    const retry: MemberCronCounts = await new MockActivityEnvironment({ attempt: 2 }).run(acts.memberCronEmitShard, input);
    expect(retry).toMatchObject({ emitted: 4, duplicates: 0 });
    expect(publisher.byTopic(Topics.memberCronEvents)).toHaveLength(4);
    expect(rows).toHaveLength(4);
    // On the dead-letter attempt a failing write no longer blocks emission.
    failures = 1;
    const last: MemberCronCounts = await new MockActivityEnvironment({ attempt: 3 }).run(acts.memberCronEmitShard, { ...input, scheduledTime: '2024-11-16T00:00:00.000Z' });
    expect(last.emitted).toBe(4);
  });

  it('skips the members of a sponsor switched off by the per-sponsor override flag', async () => {
    const { acts, publisher, flags } = setup();
    flags.values.set('member-cron-schedule-override|sponsor-schedule|SPONSOR_B/daily-rte-warmup', false);
    const counts = await new MockActivityEnvironment().run(acts.memberCronEmitShard, input);
    expect(counts).toMatchObject({ matched: 3, skipped: 1, emitted: 3 });
    expect(publisher.published.map((e) => e.key)).not.toContain('m4');
  });

  it('fails (for Temporal to retry) before the dead-letter attempt, and releases its claims', async () => {
    const { acts, publisher } = setup();
    publisher.failNext(1);
    await expect(new MockActivityEnvironment({ attempt: 1 }).run(acts.memberCronEmitShard, input)).rejects.toThrow('injected');
    const retry: MemberCronCounts = await new MockActivityEnvironment({ attempt: 2 }).run(acts.memberCronEmitShard, input);
    expect(retry.emitted).toBe(4);
    expect(publisher.byTopic(Topics.memberCronEvents)).toHaveLength(4);
  });

  it('a retry after a crash counts what the dead attempt emitted as emitted, even when its heartbeats were stale', async () => {
    const { acts: chunked, publisher } = setup({ publishChunkSize: 2 });
    // Attempt 1 publishes m1 and m2 (acknowledged and marked done), then dies; the server kept no heartbeat details
    // (heartbeats are throttled), so the retry sees none.
    publisher.failWhen = (e) => e.key === 'm3';
    await expect(inRun('run-1', { attempt: 1 }).run(chunked.memberCronEmitShard, input)).rejects.toThrow();
    publisher.failWhen = undefined;
    const retry: MemberCronCounts = await inRun('run-1', { attempt: 2, heartbeatDetails: undefined }).run(chunked.memberCronEmitShard, input);
    expect(retry).toMatchObject({ matched: 4, emitted: 4, duplicates: 0 });
    expect(publisher.byTopic(Topics.memberCronEvents).map((e) => e.key).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
    // A rerun of the tick (another workflow run) sees them all as duplicates.
    const rerun: MemberCronCounts = await inRun('run-2').run(chunked.memberCronEmitShard, input);
    expect(rerun).toMatchObject({ emitted: 0, duplicates: 4 });
  });

  it('dead-letters, with the reason, events that still cannot be published on the dead-letter attempt', async () => {
    const { acts, publisher } = setup();
    publisher.failWhen = (e) => e.topic === Topics.memberCronEvents && e.key === 'm2';
    const counts = await new MockActivityEnvironment({ attempt: 3 }).run(acts.memberCronEmitShard, input);
    expect(counts).toMatchObject({ emitted: 3, deadLettered: 1 });
    const dlq = publisher.byTopic(Topics.memberCronEventsDlq);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.key).toBe('m2');
    expect(dlq[0]?.headers?.['dlq-reason']).toContain('publish failed after 3 attempts');
  });
});

describe('memberCronEmitShard dead-letter accounting', () => {
  it('a retry after the dead-letter attempt completed its writes but not its result counts the dead letter once and does not re-send it', async () => {
    const { acts, publisher } = setup();
    publisher.failWhen = (e) => e.topic === Topics.memberCronEvents && e.key === 'm2';
    const first: MemberCronCounts = await inRun('run-1', { attempt: 3 }).run(acts.memberCronEmitShard, input);
    expect(first).toMatchObject({ emitted: 3, deadLettered: 1 });
    // The worker died right after its last heartbeat ({ emitted: 3, deadLettered: 1 } reached the server)
    // and before reporting the result: Temporal retries the same activity with those details.
    const retry: MemberCronCounts = await inRun('run-1', { attempt: 4, heartbeatDetails: { emitted: 3, deadLettered: 1 } }).run(acts.memberCronEmitShard, input);
    expect(retry).toMatchObject({ matched: 4, emitted: 3, deadLettered: 1, duplicates: 0 });
    expect(publisher.byTopic(Topics.memberCronEventsDlq)).toHaveLength(1);
  });

  it('a retry whose heartbeat details were lost still counts the earlier dead letter', async () => {
    const { acts, publisher } = setup();
    publisher.failWhen = (e) => e.topic === Topics.memberCronEvents && e.key === 'm2';
    await inRun('run-1', { attempt: 3 }).run(acts.memberCronEmitShard, input);
    const retry: MemberCronCounts = await inRun('run-1', { attempt: 4, heartbeatDetails: undefined }).run(acts.memberCronEmitShard, input);
    expect(retry).toMatchObject({ emitted: 3, deadLettered: 1 });
    expect(publisher.byTopic(Topics.memberCronEventsDlq)).toHaveLength(1);
  });

  it('a later rerun of the tick emits a dead-lettered event once the cause is fixed', async () => {
    const { acts, publisher } = setup();
    publisher.failWhen = (e) => e.topic === Topics.memberCronEvents && e.key === 'm2';
    await inRun('run-1', { attempt: 3 }).run(acts.memberCronEmitShard, input);
    publisher.failWhen = undefined;
    const rerun: MemberCronCounts = await inRun('run-2').run(acts.memberCronEmitShard, input);
    expect(rerun).toMatchObject({ emitted: 1, duplicates: 3, deadLettered: 0 });
    expect(publisher.byTopic(Topics.memberCronEvents).map((e) => e.key).sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
  });
});

describe('memberCronEmitShard records high-confidence predictions for the accuracy metric', () => {
  const RUN = 'daily-rte-warmup@2024-11-15T00:00:00.000Z';
  // m1-m3: a session every day for 60 days (P ≈ 0.69, confidence ≈ 0.81: high confidence);
  // m4: no sessions (confident it will NOT be used: not in the group).
  const activity = {
    getRecentEvents: async (ids: readonly string[], _since: Date, until: Date) =>
      new Map(ids.map((id) => [id, id === 'm4' ? [] : Array.from({ length: 60 }, (_, d) => ({ type: 'APP_SESSION_STARTED', at: until.getTime() - (d + 1) * DAY }))])),
  };

  it('records each emitted high-confidence member once per tick, keyed by the member hash, with the 24 h horizon', async () => {
    const store = new InMemoryPredictionOutcomeStore();
    const { acts } = setup({ activity, predictionOutcomes: store });
    await inRun('run-1').run(acts.memberCronEmitShard, input);
    expect(store.runs.get(RUN)).toMatchObject({ predicted: 3, used: 0, horizonEnd: Date.parse('2024-11-16T00:00:00.000Z') });
    expect([...store.members.keys()].sort()).toEqual(['h-m1', 'h-m2', 'h-m3']);
    expect(store.members.get('h-m1')?.get(RUN)?.probability).toBeGreaterThanOrEqual(0.5);
    // A rerun of the tick emits nothing new and records nothing new.
    await inRun('run-2').run(acts.memberCronEmitShard, input);
    expect(store.runs.get(RUN)?.predicted).toBe(3);
  });

  it('a retry after a crash does not record the predictions of the dead attempt again', async () => {
    const store = new InMemoryPredictionOutcomeStore();
    const recorded: string[][] = [];
    const spy: PredictionRecorder = {
      recordPredictions: (run, preds, now) => {
        recorded.push(preds.map((p) => p.memberHash));
        return store.recordPredictions(run, preds, now);
      },
    };
    const { acts, publisher } = setup({ activity, predictionOutcomes: spy, publishChunkSize: 2 });
    // Attempt 1 emits m1 and m2, then the chunk with m3 fails; attempt 2 emits m3 and m4.
    publisher.failWhen = (e) => e.key === 'm3';
    await expect(inRun('run-1', { attempt: 1 }).run(acts.memberCronEmitShard, input)).rejects.toThrow();
    publisher.failWhen = undefined;
    await inRun('run-1', { attempt: 2 }).run(acts.memberCronEmitShard, input);
    expect(recorded).toEqual([['h-m1', 'h-m2'], ['h-m3']]);
    expect(store.runs.get(RUN)?.predicted).toBe(3);
  });

  it('a failing prediction store does not fail the shard', async () => {
    const store = new InMemoryPredictionOutcomeStore();
    store.failNext = 1;
    const { acts, publisher } = setup({ activity, predictionOutcomes: store });
    const counts: MemberCronCounts = await inRun('run-1').run(acts.memberCronEmitShard, input);
    expect(counts).toMatchObject({ emitted: 4, deadLettered: 0 });
    expect(publisher.byTopic(Topics.memberCronEvents)).toHaveLength(4);
  });
});

describe('member cron pages by reference (issue 13: no member id or cursor in history)', () => {
  const ids = Array.from({ length: 5 }, (_, i) => `m${i + 1}`);
  /** A directory paging `ids` with cursors that (like the real one) encode the last member id. */
  const directory = {
    queryMembers: async (q: { cursor: string; limit: number }) => {
      const from = q.cursor === '' ? 0 : ids.indexOf(Buffer.from(q.cursor, 'base64url').toString()) + 1;
      const page = ids.slice(from, from + q.limit);
      const more = from + q.limit < ids.length;
      return { members: page.map((memberId) => ({ memberId })), nextCursor: more ? Buffer.from(page.at(-1)!).toString('base64url') : null };
    },
  } as unknown as MemberCronActivityDeps['directory'];

  it('stores each page and its successor cursor, returns only counts, and a shard reads then drops its page', async () => {
    const lists = createInMemoryMemberListStore();
    const { acts, publisher } = setup({ directory, lists });
    const env = new MockActivityEnvironment();
    const fetch = (page: number, extra: object) =>
      env.run(acts.memberCronFetchPage, { memberQuery: {}, pageSize: 2, pageRef: `r/${page}`, nextPageRef: `r/${page + 1}`, ...extra });
    const results = [await fetch(0, {}), await fetch(1, { cursorStored: true }), await fetch(2, { cursorStored: true })];
    expect(results).toEqual([
      { count: 2, more: true },
      { count: 2, more: true },
      { count: 1, more: false },
    ]);
    expect(JSON.stringify(results)).not.toMatch(/m\d/);
    expect(await lists.read('r/1', 0, 10)).toEqual(['m3', 'm4']);
    // A retried fetch reports what the first attempt stored.
    expect(await fetch(1, { cursorStored: true })).toEqual({ count: 2, more: true });

    const counts: MemberCronCounts = await env.run(acts.memberCronEmitShard, { ...input, memberIds: undefined, pageRef: 'r/1', count: 2 } as EmitShardInput);
    expect(counts.scanned).toBe(2);
    expect(publisher.byTopic(Topics.memberCronEvents).map((e) => e.key).sort()).toEqual(['m3', 'm4']);
    await env.run(acts.memberCronReleasePage, { pageRef: 'r/1' });
    expect(lists.size('r/1') + lists.size('r/1#cursor')).toBe(0);
    expect(lists.size('r/2')).toBe(1);
  });

  it('a page whose stored ids are gone fails non-retryably instead of emitting a partial page', async () => {
    const { acts } = setup({ lists: createInMemoryMemberListStore() });
    await expect(new MockActivityEnvironment().run(acts.memberCronEmitShard, { ...input, memberIds: undefined, pageRef: 'gone', count: 3 } as EmitShardInput)).rejects.toThrow('has 0 of 3 ids');
  });
});
