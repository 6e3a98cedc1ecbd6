import type { PlanMembersInput, PlanMembersResult } from '../../activities/batch/activities';
import type { ResolvedBatchOptions } from '../../lib/batch/types';
import { hourWindowSlot, MINUTE_MS, scheduleMember, windowForMember } from '../../lib/batch/windows';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { batchStatusQuery, type BatchTuning, type BatchWorkflowResult } from '../../workflows/batch.defs';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/**
 * Issue 10: "an ANY-window deferral is never re-evaluated when load drops" and "a CACHE_ONLY batch waited 3 hours
 * for the low-utilisation window because Stedi was busy at submit time".
 *
 * The real batchWorkflow on the dev server with stand-in activities: Stedi's load is a variable the test sets, and
 * planning uses the real window rule (lib/batch/windows.ts scheduleMember) in a zone whose LOW_UTILIZATION window is
 * hours away. The re-check interval is compressed to 1 s through the batch's tuning (production: 5 min).
 */
const OPTIONS: ResolvedBatchOptions = {
  priority: 'NORMAL',
  strategy: 'REALTIME_ONLY',
  schedulingWindow: 'ANY',
  maxConcurrentRequests: 3,
  timeoutMs: 3_600_000,
  retry: { maxAttempts: 1, initialIntervalMs: 200, maxIntervalMs: 1_000, backoffMultiplier: 2 },
  notifications: { kafkaTopic: 'unused-in-this-test', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
  cacheMode: 'DEFAULT',
};
const TUNING: Partial<BatchTuning> = { loadRecheckMs: 1_000 };
const ZONES = ['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', 'America/Los_Angeles', 'Asia/Kolkata'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A zone whose low-utilisation window opens at least an hour from now. */
function zoneWithClosedLowUtilisation(): { zone: string; opensAtMs: number } {
  const now = Date.now();
  for (const zone of ZONES) {
    const opensAtMs = hourWindowSlot('LOW_UTILIZATION', now, zone).startMs;
    if (opensAtMs - now >= 60 * MINUTE_MS) return { zone, opensAtMs };
  }
  throw new Error('no zone with a closed LOW_UTILIZATION window');
}

function standIns(zone: string) {
  const state = {
    load: 0.9,
    loadReads: 0,
    planLoads: [] as number[],
    refreshed: [] as Array<{ index: number; atMs: number }>,
  };
  const activities = {
    async getStediLoad() {
      state.loadReads += 1;
      const inUse = Math.round(state.load * 15);
      return { limit: 15, inUse, freeSlots: 15 - inUse, load: state.load };
    },
    /** The real window rule, in one zone; the page is due when its first member is (real-time mode). */
    async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
      state.planLoads.push(input.load);
      const times = Array.from({ length: input.count }, (_, k) => {
        const g = windowForMember(input.window, input.total, input.start + k);
        return scheduleMember({ window: g.window, nowMs: input.scheduleBaseMs, timeZone: zone, seed: input.batchId, position: g.position, groupSize: g.groupSize, load: input.load }).atMs;
      });
      const due = Math.min(...times);
      if (due > input.nowMs + 1000) return { kind: 'wait', notBeforeMs: due };
      if (input.cacheMode === 'CACHE_ONLY') return { kind: 'plan', hits: input.count, hitErrors: 0, notCached: 0, refreshCount: 0, refresh: [], windows: { ANY: input.count } };
      const refresh = times.map((atMs, k) => ({ i: input.start + k, memberId: `m-load-${input.start + k}`, atMs }));
      return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: refresh.length, refresh, windows: { ANY: refresh.length } };
    },
    async refreshEligibility(input: EligibilityRefreshInput) {
      state.refreshed.push({ index: input.batchMember?.index ?? -1, atMs: Date.now() });
      return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
    },
    async recordMemberErrors() {},
    async publishBatchEvent() {},
    async releaseMemberList() {},
  };
  return { state, activities };
}

describe('ANY-window load deferral is re-evaluated (integration)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('a batch deferred to the low-utilisation window because Stedi was busy starts soon after load drops', async () => {
    const { zone, opensAtMs } = zoneWithClosedLowUtilisation();
    const { state, activities } = standIns(zone);
    const taskQueue = uniqueName('tq-load-recheck');
    const worker = await createTestWorker(ctx, { taskQueue, activities });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/load-recheck/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'load-recheck', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 4 }, options: OPTIONS, tuning: TUNING }],
      });

      // Busy at submit (load 0.9 ≥ 0.7): deferred to the low-utilisation window, hours away.
      let q = await handle.query(batchStatusQuery);
      for (let k = 0; k < 100 && q.scheduledStartMs === undefined; k++) {
        await sleep(100);
        q = await handle.query(batchStatusQuery);
      }
      expect(q.status).toBe('PENDING');
      expect(q.scheduledStartMs).toBeGreaterThanOrEqual(opensAtMs - 6 * MINUTE_MS); // the window start, ± the doc's jitter
      // The view says why it waits (GetBatchStatus's status_detail is built from it): Stedi's load, not a chosen window.
      expect(q).toMatchObject({ deferredByLoad: true, waitingUntilMs: q.scheduledStartMs });
      // Still busy: it keeps waiting (and keeps looking).
      await sleep(3_500);
      expect((await handle.query(batchStatusQuery)).status).toBe('PENDING');
      expect(state.refreshed).toEqual([]);
      expect(state.loadReads).toBeGreaterThanOrEqual(2); // at the decision, then at least one re-check

      // Load drops below 0.3: the next re-check re-plans and the batch starts at once.
      const droppedAt = Date.now();
      state.load = 0.1;
      const view = (await handle.result()) as BatchWorkflowResult;
      expect(view.status).toBe('COMPLETED');
      expect(view.counters).toMatchObject({ total: 4, completed: 4, failed: 0, cancelled: 0 });
      expect(state.refreshed.map((r) => r.index).sort()).toEqual([0, 1, 2, 3]);
      expect(view.startedAtMs).toBeGreaterThanOrEqual(droppedAt - 1_000);
      expect(view.startedAtMs! - droppedAt).toBeLessThan(15_000);
      expect(view.startedAtMs!).toBeLessThan(opensAtMs);
      expect(state.planLoads[state.planLoads.length - 1]).toBe(0.1);
    });
  }, 120_000);

  it('a drop from busy (≥ 0.7) to moderate (0.3–0.7) re-plans to the 30–60 min delay instead of the window', async () => {
    const { zone, opensAtMs } = zoneWithClosedLowUtilisation();
    const { state, activities } = standIns(zone);
    const taskQueue = uniqueName('tq-load-moderate');
    const worker = await createTestWorker(ctx, { taskQueue, activities });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/load-moderate/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'load-recheck', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 2 }, options: OPTIONS, tuning: TUNING }],
      });
      for (let k = 0; k < 100 && (await handle.query(batchStatusQuery)).scheduledStartMs === undefined; k++) await sleep(100);
      const before = (await handle.query(batchStatusQuery)).scheduledStartMs!;
      expect(before).toBeGreaterThanOrEqual(opensAtMs - 6 * MINUTE_MS);
      state.load = 0.5;
      let after = before;
      for (let k = 0; k < 100 && after === before; k++) {
        await sleep(200);
        after = (await handle.query(batchStatusQuery)).scheduledStartMs ?? before;
      }
      const base = (await handle.query(batchStatusQuery)).submittedAtMs;
      expect(after).toBeLessThan(before);
      expect(after - base).toBeGreaterThanOrEqual(29 * MINUTE_MS);
      expect(after - base).toBeLessThanOrEqual(61 * MINUTE_MS);
      expect(state.refreshed).toEqual([]);
      await handle.cancel();
      expect(((await handle.result()) as BatchWorkflowResult).status).toBe('CANCELLED');
    });
  }, 120_000);

  it('a CACHE_ONLY batch never waits on Stedi load', async () => {
    const { zone } = zoneWithClosedLowUtilisation();
    const { state, activities } = standIns(zone);
    const taskQueue = uniqueName('tq-load-cache-only');
    const worker = await createTestWorker(ctx, { taskQueue, activities });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/load-cache-only/job');
      const t0 = Date.now();
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [
          { batchId, clientService: 'load-recheck', clientJobId: batchId, submittedAtMs: t0, selector: { kind: 'list', listRef: `${batchId}#ids`, total: 3 }, options: { ...OPTIONS, cacheMode: 'CACHE_ONLY' }, tuning: TUNING },
        ],
      });
      const view = (await handle.result()) as BatchWorkflowResult;
      expect(view.status).toBe('COMPLETED');
      expect(view.counters).toMatchObject({ total: 3, completed: 3, cacheHits: 3, stediRealtimeCalls: 0 });
      expect(view.scheduledStartMs).toBeUndefined();
      expect(view.finishedAtMs! - t0).toBeLessThan(30_000);
      expect(state.planLoads).toEqual([0]); // planned once, with Stedi's load ignored
      expect(state.refreshed).toEqual([]);
    });
  }, 120_000);
});
