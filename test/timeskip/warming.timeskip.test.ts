import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { FinalizeWarmPageInput, PlanWarmingPageInput, PlanWarmingPageResult } from '../../activities/warming/activities';
import type { PlanMembersInput } from '../../activities/batch/activities';
import { hourWindowSlot, HOUR_MS, HOUR_WINDOWS } from '../../lib/batch/windows';
import type { WarmingPriority } from '../../lib/warming/types';
import { warmingStatusQuery, type CacheWarmingWorkflowInput, type WarmingStatusView } from '../../workflows/warming.defs';
import { createTimeSkippingEnv } from './env';
import { fakeBatchActivities } from './fake-activities';
import { MINUTE, until, workflowBundle, zoneWhereHourIsAhead } from './helpers';

/**
 * The cache-warming job's timers on a time-skipping TestWorkflowEnvironment: the lead-time hold until notBefore (the
 * member-cron consumer's "2–4 h / 12–24 h before predicted use") and a BACKGROUND job's child batch deferred to the
 * LOW_UTILIZATION window. Warming and batch activities are in-memory stand-ins; the child is the real batchWorkflow.
 */
describe('cacheWarmingWorkflow timers (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  const clock = () => env.currentTimeMs();
  const started: WorkflowHandle[] = [];
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    await workflowBundle();
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  });

  function fakes(path: 'realtime' | 'batch_api', timeZone?: string) {
    const batch = fakeBatchActivities({ clock, ...(timeZone ? { timeZone } : {}) });
    const plans: Array<{ atMs: number; input: PlanWarmingPageInput }> = [];
    const warming = {
      async warmingUpsertJob() {},
      async publishWarmingEvent() {},
      async planWarmingPage(input: PlanWarmingPageInput): Promise<PlanWarmingPageResult> {
        plans.push({ atMs: await clock(), input });
        const entries = { skippedFresh: 0, skippedCached: 0, realtime: path === 'realtime' ? input.count : 0, batchApi: path === 'batch_api' ? input.count : 0 };
        return { members: input.count, membersSkipped: 0, entries, groups: [{ operation: input.operations[0]!, path, listRef: `${input.jobId}#g`, count: input.count }] };
      },
      async finalizeWarmPage(input: FinalizeWarmPageInput) {
        return { pending: 0, warmed: input.count, skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0 };
      },
      async warmingCounts() {
        return { pending: 0, warmed: plans.reduce((n, p) => n + p.input.count, 0), skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0 };
      },
      async settleWarmingJob() {
        return { pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0 };
      },
      async releaseWarmingList() {},
    };
    return { acts: { ...batch.acts, ...warming }, batch, plans };
  }

  async function run<T>(acts: object, body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `ts-warm-${randomUUID().slice(0, 8)}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: acts });
    const t0 = Date.now();
    try {
      return await worker.runUntil(body(taskQueue));
    } finally {
      for (const h of started.splice(0)) await h.terminate('test over').catch(() => undefined);
      console.log(`${expect.getState().currentTestName}: ${((Date.now() - t0) / 1000).toFixed(1)} s wall`);
    }
  }

  async function start(taskQueue: string, priority: WarmingPriority, members: number, notBeforeMs?: number) {
    const jobId = `warming/timeskip/${randomUUID().slice(0, 8)}`;
    const input: CacheWarmingWorkflowInput = {
      jobId,
      source: 'timeskip',
      priority,
      strategy: 'INTELLIGENT',
      operations: ['eligibility'],
      selector: { kind: 'list', listRef: `${jobId}#ids`, total: members },
      acceptedAtMs: await clock(),
      ...(notBeforeMs !== undefined ? { notBeforeMs } : {}),
      warmingEventsTopic: 'timeskip-unused',
      batchEventsTopic: 'timeskip-unused',
    };
    const h = await env.client.workflow.start('cacheWarmingWorkflow', { taskQueue, workflowId: jobId, args: [input] });
    started.push(h);
    return h;
  }

  it('holds the whole job until notBefore (the lead time before predicted use), then warms', async () => {
    const f = fakes('realtime');
    await run(f.acts, async (tq) => {
      const notBeforeMs = (await clock()) + 3 * HOUR_MS;
      const h = await start(tq, 'URGENT', 3, notBeforeMs);
      const held = await until('holding', async () => {
        const v = await h.query(warmingStatusQuery);
        return v.phase === 'WAITING' && v.status === 'PENDING' ? v : undefined;
      });
      expect(held.notBeforeMs).toBe(notBeforeMs);
      expect(f.plans).toHaveLength(0);
      const view = (await h.result()) as WarmingStatusView;
      expect(view.status).toBe('COMPLETED');
      expect(view.counters.outcomes.warmed).toBe(3);
      expect(f.plans).toHaveLength(1);
      expect(f.plans[0]!.atMs).toBeGreaterThanOrEqual(notBeforeMs);
      expect(view.startedAtMs).toBeGreaterThanOrEqual(notBeforeMs);
      const refreshes = f.batch.named('refreshEligibility');
      expect(refreshes).toHaveLength(3);
      for (const r of refreshes) expect(r.atMs).toBeGreaterThanOrEqual(notBeforeMs);
    });
  }, 120_000);

  it('an ended job answers its end time with its terminal status, also while the final record is still written', async () => {
    const f = fakes('realtime');
    let reached!: () => void;
    const finalRecord = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const acts = {
      ...f.acts,
      // The job's final record (the one with finishedAtMs) is held: the gap in which the query used to answer
      // COMPLETED without finished_at (probe p15 #3).
      async warmingUpsertJob(job: { finishedAtMs?: number }) {
        if (job.finishedAtMs === undefined) return;
        reached();
        await released;
      },
    };
    await run(acts, async (tq) => {
      const h = await start(tq, 'URGENT', 2);
      await finalRecord;
      const mid = await h.query(warmingStatusQuery);
      release();
      expect(mid.status).toBe('COMPLETED');
      expect(mid.finishedAtMs).toEqual(expect.any(Number));
      const view = (await h.result()) as WarmingStatusView;
      expect(view.finishedAtMs).toBe(mid.finishedAtMs);
    });
  }, 120_000);

  it('a BACKGROUND job defers its Stedi batch submission to the LOW_UTILIZATION window', async () => {
    const timeZone = zoneWhereHourIsAhead(HOUR_WINDOWS.LOW_UTILIZATION.anchorHour, 6, await clock());
    const f = fakes('batch_api', timeZone);
    await run(f.acts, async (tq) => {
      const h = await start(tq, 'BACKGROUND', 4);
      const slot = hourWindowSlot('LOW_UTILIZATION', await clock(), timeZone);
      expect(slot.startMs - (await clock())).toBeGreaterThan(5 * HOUR_MS);
      const view = (await h.result()) as WarmingStatusView;
      expect(view.status).toBe('COMPLETED');
      // Planned at once, the child asked for the LOW_UTILIZATION window, and submitted only once it opened.
      expect(f.plans[0]!.atMs).toBeLessThan(slot.startMs);
      const windows = f.batch.named('planMembers').map((c) => (c.input as PlanMembersInput).window);
      expect(new Set(windows)).toEqual(new Set(['LOW_UTILIZATION']));
      const [submit] = f.batch.named('submitStediChunk');
      expect(submit!.atMs).toBeGreaterThanOrEqual(slot.startMs);
      expect(submit!.atMs).toBeLessThanOrEqual(slot.startMs + slot.spreadMs + 5 * MINUTE);
      expect(f.batch.named('refreshEligibility')).toHaveLength(0);
    });
  }, 120_000);
});
