import { create } from '@bufbuild/protobuf';
import { batchClient, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, MemberIdListSchema, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { silentLogger } from '../../lib/logger';
import { verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Chunks only while members are quick (issue 14, workflows/chunk-latency.ts). A chunk holds its lanes until its
 * slowest member answers but starts members only in its first 2 s, so at Stedi latency its lanes idle behind the
 * slowest (the "chunk convoy": 1.66–1.78 × the ideal makespan against 1.10 one activity per member). Here the
 * simulator answers in ~1.5 s (mean, lognormal σ 0.3), at real time: the batch's first chunks (probes of 3 members)
 * come back with slow members, and the rest of the batch runs one activity per member. Every member is still checked and counted once,
 * and Stedi never sees more than 15 calls at once.
 */
describe('real-time chunks at Stedi-like latency (integration)', () => {
  let p: TestPlatform;

  beforeAll(async () => {
    p = await startTestPlatform({
      population: 200,
      sim: { latency: { meanMs: 1_500, sigma: 0.3 }, timeScale: 1, seed: 11, logger: silentLogger() },
      // BATCH_REALTIME_CHUNK_MEMBERS is left at its default (chunks of 500).
      env: { STEDI_SLOTS_RESERVED_INTERACTIVE: '0' },
    });
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 60_000);

  it('slow members: the first chunks come back and the rest go one activity per member; each member once', async () => {
    const members = p.members.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'aaa').slice(0, 60);
    expect(members).toHaveLength(60);
    p.sim.resetStats();
    const c = await batchClient(p, 'svc-chunk-latency');
    const r = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('chunk-latency'),
        memberSelector: { case: 'memberIds', value: create(MemberIdListSchema, { memberIds: members.map((m) => m.memberId) }) },
        cacheControl: CacheControl.BYPASS_CACHE,
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 15 },
      }),
    );
    const end = await waitForBatchEnd(c, r.batchId, 120_000, 100);
    expect(BatchStatus[end.status]).toBe('COMPLETED');
    expect(end.progress).toMatchObject({ completed: 60, failed: 0 });

    const history = await p.temporal.workflow.getHandle(r.batchId).fetchHistory();
    const byType: Record<string, number> = {};
    for (const e of history.events ?? []) {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name) byType[name] = (byType[name] ?? 0) + 1;
    }
    // It started with probe chunks (latency unknown: 3 members each, 15 lanes at most) and, once one came back with
    // slow members, ran the other members one activity each.
    expect(byType['refreshEligibilityChunk']).toBeGreaterThanOrEqual(1);
    expect(byType['refreshEligibilityChunk']).toBeLessThanOrEqual(5);
    expect(byType['refreshEligibility']).toBeGreaterThanOrEqual(60 - 15);
    // Each member checked once; the pool's 15 held.
    const calls = p.sim.calls();
    expect(calls).toHaveLength(60);
    expect(new Set(calls.map((x) => x.member)).size).toBe(60);
    expect(p.sim.stats().inFlight.peak).toBeLessThanOrEqual(15);
  }, 150_000);
});
