import { create } from '@bufbuild/protobuf';
import { randomUUID } from 'node:crypto';
import { batchClient, subscribeToBatchEvents, waitFor, waitForBatchEnd, type BatchEventSubscriber } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema, MemberIdListSchema, type SubmitBatchRequest } from '../../gen/rte/v1/batch_pb';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { createPgMemberDirectory } from '../../directory/pg-member-directory';
import type { MemberRecord } from '../../lib/member-record';
import { batchDirectoryOver } from '../../workers/compose';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { silentLogger } from '../../lib/logger';
import { verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Hedging a finite batch's last-wave straggler (issue 14; activities/eligibility/hedge-policy.ts) on the real platform
 * (Temporal, the production worker composition with the Redis slot pool, PostgreSQL, Kafka, the API) and the Stedi
 * simulator at 1/50 of real time (mean latency 270 ms). One member's payer is slow on each member's FIRST call only
 * (`slowPayer.slowFirst`): its original call takes 10 s, a repeat answers normally. With STEDI_HEDGE=on the
 * straggler gets a duplicate call once the other 39 members are done, the batch ends on the duplicate's answer while
 * the original is still running at Stedi (its slot held), and the member is counted once.
 *
 * Both ways real-time members run: in chunks (the default, BATCH_REALTIME_CHUNK_MEMBERS=500, for a batch whose cap is
 * the pool's 15: at 270 ms this 40-member batch runs in one-lane probe chunks of 3 and stays in chunks, as its members
 * are quick) and one activity per member (a cap under 15). Chunked members were once never hedged: each chunk had a
 * latency window of its own, and a chunk never saw the 20 latencies a threshold needs.
 */
type MemberSelector = SubmitBatchRequest['memberSelector'];
const SLOW_EXTRA_MS = 500_000; // × time scale 0.02 = 10 s

describe('hedging a batch straggler (integration)', () => {
  let p: TestPlatform;
  let events: BatchEventSubscriber;
  /** Stragglers' payers used by earlier cases (the slow fault is per payer). */
  const usedPayers = new Set<string>();
  const usedMembers = new Set<string>();

  beforeAll(async () => {
    p = await startTestPlatform({
      population: 400,
      sim: { latency: { meanMs: 13_500, sigma: 0.5 }, timeScale: 0.02, seed: 7, logger: silentLogger() },
      // BATCH_REALTIME_CHUNK_MEMBERS is left at its default (chunks of 500).
      env: { STEDI_HEDGE: 'on', STEDI_HEDGE_MIN_MS: '0', STEDI_SLOTS_RESERVED_INTERACTIVE: '0' },
    });
    events = await subscribeToBatchEvents(p, `hedge-${randomUUID().slice(0, 8)}`);
  }, 120_000);

  afterAll(async () => {
    await events?.stop();
    await p?.close();
  }, 60_000);

  /** Activity types the batch's workflow scheduled, with counts. */
  async function scheduledActivities(batchId: string): Promise<Record<string, number>> {
    const history = await p.temporal.workflow.getHandle(batchId).fetchHistory();
    const byType: Record<string, number> = {};
    for (const e of history.events ?? []) {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name) byType[name] = (byType[name] ?? 0) + 1;
    }
    return byType;
  }

  /** 40 members on an id list, the straggler first (alone on its payer, one no earlier case used); all answered with coverage. */
  function listedMembers(): { straggler: MemberRecord; selector: MemberSelector; ok: number } {
    const ok = p.members.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'aaa' && !usedMembers.has(m.memberId));
    const straggler = ok.find((m) => !usedPayers.has(m.payerId))!;
    expect(straggler).toBeDefined();
    usedPayers.add(straggler.payerId);
    const others = ok.filter((m) => !usedPayers.has(m.payerId)).slice(0, 39);
    expect(others).toHaveLength(39);
    for (const m of [straggler, ...others]) usedMembers.add(m.memberId);
    // The straggler first: its slow call starts in the first wave and is still running when the rest are done.
    return { straggler, selector: { case: 'memberIds', value: create(MemberIdListSchema, { memberIds: [straggler.memberId, ...others.map((m) => m.memberId)] }) }, ok: 40 };
  }

  /** Runs a 40-member batch with one staged straggler at `cap` and checks the hedge; returns the batch id. */
  async function stragglerBatch(cap: number, members: { straggler: MemberRecord; selector: MemberSelector; ok: number }): Promise<string> {
    const { straggler, selector } = members;
    p.sim.setFaults({ reset: true });
    p.sim.setFaults({ slowPayer: { payerId: straggler.payerId, extraLatencyMs: SLOW_EXTRA_MS, slowFirst: 1 } });
    p.sim.resetStats();
    // The worker's counters, as deltas from before this batch.
    const count = async (event: string) => (await p.workers[0]!.metrics.stediHedges.get()).values.find((v) => v.labels['event'] === event)?.value ?? 0;
    const before = { started: await count('started'), won: await count('won'), lost: await count('lost') };
    const hedges = async (event: 'started' | 'won' | 'lost') => (await count(event)) - before[event];

    const c = await batchClient(p, 'svc-hedge');
    const r = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('hedge'),
        memberSelector: selector,
        cacheControl: CacheControl.BYPASS_CACHE,
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: cap },
      }),
    );
    const end = await waitForBatchEnd(c, r.batchId, 120_000, 100);
    const stragglerCallsAtEnd = p.sim.calls().filter((x) => x.payerId === straggler.payerId);
    const inFlightAtEnd = p.sim.stats().inFlight.current;

    // Payer errors (AAA answers) are failed members: a batch with some ends PARTIALLY_COMPLETED.
    const terminal = members.ok === 40 ? 'COMPLETED' : 'PARTIALLY_COMPLETED';
    expect(BatchStatus[end.status]).toBe(terminal);
    expect(end.progress).toMatchObject({ completed: members.ok, failed: 40 - members.ok });
    // The batch ended on the duplicate's answer: Stedi had answered one call for the straggler (the short hedge) and
    // was still working on the original.
    expect(stragglerCallsAtEnd).toHaveLength(1);
    expect(stragglerCallsAtEnd[0]!.latencyMs).toBeLessThan(SLOW_EXTRA_MS * 0.02);
    expect(inFlightAtEnd).toBeGreaterThanOrEqual(1);
    expect(await hedges('won')).toBeGreaterThanOrEqual(1);
    // At most floor(10 % × 40) = 4 hedges for the batch.
    const started = await hedges('started');
    expect(started).toBeGreaterThanOrEqual(1);
    expect(started).toBeLessThanOrEqual(4);
    expect((await hedges('won')) + (await hedges('lost'))).toBe(started);

    // The loser keeps its slot until Stedi answers it: afterwards the straggler has two calls, the slow one among them.
    await waitFor('the original call to answer', () => p.sim.calls().filter((x) => x.payerId === straggler.payerId).length === 2, 30_000);
    expect(Math.max(...p.sim.calls().filter((x) => x.payerId === straggler.payerId).map((x) => x.latencyMs))).toBeGreaterThanOrEqual(SLOW_EXTRA_MS * 0.02);
    expect(p.sim.stats().inFlight.peak).toBeLessThanOrEqual(15);
    expect(p.sim.calls()).toHaveLength(40 + started);

    // Counted once on Kafka: one terminal event, every member once, and every billed Stedi call (hedges included).
    await waitFor(`the ${terminal} event on Kafka`, () => events.of(r.batchId).some((e) => e.event.eventType === terminal), 30_000);
    const mine = events.of(r.batchId).map((e) => e.event);
    expect(mine.filter((e) => ['COMPLETED', 'FAILED', 'PARTIALLY_COMPLETED', 'CANCELLED'].includes(e.eventType))).toHaveLength(1);
    const done = mine.find((e) => e.eventType === terminal)!;
    if (done.result.case !== 'completed') throw new Error(`terminal event carries ${done.result.case}`);
    expect(done.result.value).toMatchObject({ totalMembers: 40, successful: members.ok, failed: 40 - members.ok, stediRealtimeCalls: 40 + started });
    return r.batchId;
  }

  it('in chunks (the default): a straggler gets one duplicate call on an idle slot; the first answer wins, counted once; never more than 15 calls in flight', async () => {
    const batchId = await stragglerBatch(15, listedMembers());
    // Its members ran inside chunk activities, none as an activity of its own.
    const acts = await scheduledActivities(batchId);
    expect(acts['refreshEligibilityChunk']).toBeGreaterThanOrEqual(1);
    expect(acts['refreshEligibility']).toBeUndefined();
  }, 180_000);

  it('one activity per member (a cap under 15): the same', async () => {
    const batchId = await stragglerBatch(14, listedMembers());
    const acts = await scheduledActivities(batchId);
    expect(acts['refreshEligibility']).toBeGreaterThanOrEqual(40);
    expect(acts['refreshEligibilityChunk']).toBeUndefined();
  }, 180_000);

  it('a member_query batch (its size is the resolved list in PostgreSQL): the same, in chunks', async () => {
    // The query's 40 members, as the batch will resolve them; the straggler is one alone on its payer.
    const query = { limit: 40 };
    const page = await batchDirectoryOver(createPgMemberDirectory(p.directory.pool)).queryMemberIds(create(MemberQuerySchema, query), undefined, 40);
    expect(page.memberIds).toHaveLength(40);
    const records = page.memberIds.map((id) => p.members.find((m) => m.memberId === id)!);
    const onPayer = (payerId: string) => records.filter((m) => m.payerId === payerId).length;
    const straggler = records.find((m) => onPayer(m.payerId) === 1 && verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'aaa')!;
    expect(straggler).toBeDefined();
    const ok = records.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'aaa').length;
    const batchId = await stragglerBatch(15, { straggler, selector: { case: 'memberQuery', value: create(MemberQuerySchema, query) }, ok });
    const acts = await scheduledActivities(batchId);
    expect(acts['resolveQueryPage']).toBeGreaterThanOrEqual(1);
    expect(acts['refreshEligibilityChunk']).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
