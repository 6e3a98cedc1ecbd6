import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { BatchEventPayload } from '../../lib/batch/events';
import { hourWindowSlot, HOUR_MS, HOUR_WINDOWS } from '../../lib/batch/windows';
import { ErrorType } from '../../lib/errors';
import {
  batchStatusQuery,
  pauseBatchSignal,
  resumeBatchSignal,
  type BatchStatusView,
  type BatchTuning,
  type BatchWorkflowInput,
} from '../../workflows/batch.defs';
import { createTimeSkippingEnv } from './env';
import { fakeBatchActivities, type FakeBatchOptions } from './fake-activities';
import { batchOptions, MINUTE, until, workflowBundle, zoneWhereHourIsAhead } from './helpers';

/**
 * Every timer-driven behaviour of batchWorkflow on a time-skipping TestWorkflowEnvironment (Temporal's Java test
 * server, stack/test-server/): windows, WAITING, timeout, retry backoff, pause/resume, continue-as-new and Stedi
 * batch-API polling, each spanning hours of workflow time in seconds of wall time. Activities are in-memory stand-ins
 * (fake-activities.ts); the workflow is driven only through its public contract (workflows/batch.defs.ts).
 */
describe('batchWorkflow timers (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    await workflowBundle();
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
  });
  const clock = () => env.currentTimeMs();
  const started: WorkflowHandle[] = [];

  async function run<T>(fakes: ReturnType<typeof fakeBatchActivities>, body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `ts-${randomUUID().slice(0, 8)}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: fakes.acts });
    const t0 = Date.now();
    try {
      return await worker.runUntil(body(taskQueue));
    } finally {
      // A failed test must not leave a workflow behind: the test server would not skip time for the next one.
      for (const h of started.splice(0)) await h.terminate('test over').catch(() => undefined);
      console.log(`${expect.getState().currentTestName}: ${((Date.now() - t0) / 1000).toFixed(1)} s wall`);
    }
  }

  async function start(taskQueue: string, total: number, options: BatchWorkflowInput['options'], tuning?: Partial<BatchTuning>) {
    const batchId = `batch/timeskip/${randomUUID().slice(0, 8)}`;
    const input: BatchWorkflowInput = {
      batchId,
      clientService: 'timeskip',
      clientJobId: batchId.split('/')[2]!,
      submittedAtMs: await clock(),
      selector: { kind: 'list', listRef: `${batchId}#ids`, total },
      options,
      ...(tuning ? { tuning } : {}),
    };
    const h = await env.client.workflow.start('batchWorkflow', { taskQueue, workflowId: batchId, args: [input] });
    started.push(h);
    return h;
  }

  const events = (fakes: ReturnType<typeof fakeBatchActivities>) => fakes.named('publishBatchEvent').map((c) => (c.input as { event: BatchEventPayload }).event);

  it('waits PENDING for its scheduling window, checks members spread inside it, and shows WAITING between them', async () => {
    const timeZone = zoneWhereHourIsAhead(HOUR_WINDOWS.LOW_UTILIZATION.anchorHour, 8, await clock());
    const fakes = fakeBatchActivities({ timeZone, clock });
    await run(fakes, async (tq) => {
      const h = await start(tq, 4, batchOptions({ schedulingWindow: 'LOW_UTILIZATION' }));
      const slot = hourWindowSlot('LOW_UTILIZATION', (await h.describe()).startTime.getTime(), timeZone);
      expect(slot.startMs - (await clock())).toBeGreaterThan(5 * HOUR_MS);
      // Before the window: PENDING with the scheduled start, no check made.
      const before = await until('scheduled start', async () => {
        const v = await h.query(batchStatusQuery);
        return v.scheduledStartMs !== undefined ? v : undefined;
      });
      expect(before.status).toBe('PENDING');
      expect(before.scheduledStartMs).toBeGreaterThanOrEqual(slot.startMs);
      expect(before.scheduledStartMs).toBeLessThanOrEqual(slot.startMs + 5 * MINUTE);
      expect(fakes.named('refreshEligibility')).toHaveLength(0);

      const view = (await h.result()) as BatchStatusView;
      expect(view.status).toBe('COMPLETED');
      expect(view.counters.completed).toBe(4);
      expect(view.startedAtMs).toBeGreaterThanOrEqual(slot.startMs);
      const at = fakes.named('refreshEligibility').map((c) => c.atMs);
      expect(at).toHaveLength(4);
      // Spread over the window's 2 hours (±5 min jitter), never before it opens.
      for (const t of at) {
        expect(t).toBeGreaterThanOrEqual(slot.startMs);
        expect(t).toBeLessThanOrEqual(slot.startMs + slot.spreadMs + 5 * MINUTE);
      }
      expect(Math.max(...at) - Math.min(...at)).toBeGreaterThan(60 * MINUTE);
      // Between spread members the started batch is WAITING (events and RteBatchStatus), then RUNNING again.
      const statuses = events(fakes).map((e) => `${e.eventType}:${e.status}`);
      expect(statuses[0]).toBe('STARTED:RUNNING');
      expect(statuses).toContain('PROGRESS:WAITING');
      expect(statuses.lastIndexOf('PROGRESS:RUNNING')).toBeGreaterThan(statuses.indexOf('PROGRESS:WAITING'));
      expect(statuses[statuses.length - 1]).toBe('COMPLETED:COMPLETED');
    });
  }, 120_000);

  it('times out at its deadline: members not yet checked are cancelled and the batch says why', async () => {
    const timeZone = zoneWhereHourIsAhead(HOUR_WINDOWS.LOW_UTILIZATION.anchorHour, 3, await clock());
    const fakes = fakeBatchActivities({ timeZone, clock });
    await run(fakes, async (tq) => {
      // Four members spread over 2 h (0, 30, 60, 90 min ± jitter) and a 45-minute timeout from the first check.
      const h = await start(tq, 4, batchOptions({ schedulingWindow: 'LOW_UTILIZATION', timeoutMs: 45 * MINUTE }));
      const view = (await h.result()) as BatchStatusView;
      expect(view.failure?.code).toBe('TIMEOUT');
      expect(view.status).toBe('PARTIALLY_COMPLETED');
      expect(view.counters.completed).toBe(2);
      expect(view.counters.cancelled).toBe(2);
      expect(view.finishedAtMs! - view.startedAtMs!).toBeGreaterThanOrEqual(45 * MINUTE);
      expect(view.finishedAtMs! - view.startedAtMs!).toBeLessThan(46 * MINUTE);
      expect(fakes.named('refreshEligibility')).toHaveLength(2);
    });
  }, 120_000);

  it('retries a failing check with its exponential backoff, and a member that never succeeds fails after maxAttempts', async () => {
    const refresh: FakeBatchOptions['refresh'] = (input, attempt) => {
      if (input.memberId === 'm_1' || attempt < 4) throw ApplicationFailure.create({ type: ErrorType.StediPayerUnavailable, message: 'payer down' });
    };
    const fakes = fakeBatchActivities({ refresh, clock });
    await run(fakes, async (tq) => {
      const retry = { maxAttempts: 4, initialIntervalMs: 10 * MINUTE, maxIntervalMs: 30 * MINUTE, backoffMultiplier: 2 };
      const view = (await (await start(tq, 2, batchOptions({ retry }))).result()) as BatchStatusView;
      expect(view.status).toBe('PARTIALLY_COMPLETED');
      expect(view.counters.completed).toBe(1);
      expect(view.counters.failed).toBe(1);
      expect(view.recentErrors.map((e) => e.memberIndex)).toEqual([1]);
      for (const member of ['m_0', 'm_1']) {
        const attempts = fakes.named('refreshEligibility').filter((c) => (c.input as { memberId: string }).memberId === member);
        expect(attempts.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
        const gaps = attempts.slice(1).map((c, k) => Math.round((c.atMs - attempts[k]!.atMs) / MINUTE));
        expect(gaps).toEqual([10, 20, 30]); // 10 min × 2^n, capped at 30 min
      }
    });
  }, 120_000);

  it('pause holds every check past its window until resume; PAUSED (and by whom) is shown meanwhile', async () => {
    const timeZone = zoneWhereHourIsAhead(HOUR_WINDOWS.LOW_UTILIZATION.anchorHour, 2, await clock());
    const fakes = fakeBatchActivities({ timeZone, clock });
    await run(fakes, async (tq) => {
      const h = await start(tq, 3, batchOptions({ schedulingWindow: 'LOW_UTILIZATION' }));
      await until('planned', async () => ((await h.query(batchStatusQuery)).scheduledStartMs !== undefined ? true : undefined));
      await h.signal(pauseBatchSignal, { by: 'ops-oncall' });
      await until('PAUSED', async () => ((await h.query(batchStatusQuery)).status === 'PAUSED' ? true : undefined));
      expect((await h.query(batchStatusQuery)).pausedBy).toBe('ops-oncall');
      // A whole day passes: the window opens and closes, nothing is checked.
      await env.sleep(24 * HOUR_MS);
      expect(fakes.named('refreshEligibility')).toHaveLength(0);
      expect((await h.query(batchStatusQuery)).status).toBe('PAUSED');
      await h.signal(resumeBatchSignal);
      const view = (await h.result()) as BatchStatusView;
      expect(view.status).toBe('COMPLETED');
      expect(view.counters.completed).toBe(3);
      expect(view.pausedBy).toBeUndefined();
      const at = fakes.named('refreshEligibility').map((c) => c.atMs);
      const submitted = (await h.describe()).startTime.getTime();
      expect(at).toHaveLength(3);
      for (const t of at) expect(t).toBeGreaterThanOrEqual(submitted + 24 * HOUR_MS);
    });
  }, 120_000);

  it('continues as new with its state carried: every member checked exactly once across runs', async () => {
    const fakes = fakeBatchActivities({ clock });
    await run(fakes, async (tq) => {
      const h = await start(tq, 12, batchOptions({ maxConcurrentRequests: 2 }), { realtimePageSize: 2, continueAsNewAfterEvents: 40 });
      const view = (await h.result()) as BatchStatusView;
      expect(view.status).toBe('COMPLETED');
      expect(view.counters.completed).toBe(12);
      const checked = fakes.named('refreshEligibility').map((c) => (c.input as { batchMember: { index: number } }).batchMember.index);
      expect([...checked].sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
      // Follow the chain of runs from the first one.
      let runId: string | undefined = h.firstExecutionRunId;
      let runs = 0;
      while (runId) {
        runs += 1;
        const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(h.workflowId, runId).fetchHistory();
        const last: temporal.api.history.v1.IHistoryEvent = history.events![history.events!.length - 1]!;
        runId = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
      expect(runs).toBeGreaterThanOrEqual(3);
      // One STARTED event only, and one COMPLETED: the carried state knows the batch had started.
      const types = events(fakes).map((e) => e.eventType);
      expect(types.filter((t) => t === 'STARTED')).toHaveLength(1);
      expect(types.filter((t) => t === 'COMPLETED')).toHaveLength(1);
    });
  }, 120_000);

  it('Stedi batch API: submits once, polls with the 2 min → 8 h backoff and counts the results', async () => {
    const fakes = fakeBatchActivities({ pollsBeforeDone: 5, clock });
    await run(fakes, async (tq) => {
      const view = (await (await start(tq, 5, batchOptions({ strategy: 'BATCH_ONLY' }))).result()) as BatchStatusView;
      expect(view.status).toBe('COMPLETED');
      expect(view.path).toBe('BATCH_API');
      expect(view.counters).toMatchObject({ completed: 5, stediBatches: 1, stediBatchItems: 5, stediRealtimeCalls: 0 });
      const [submit] = fakes.named('submitStediChunk');
      const polls = fakes.named('pollStediChunk').map((c) => c.atMs);
      expect(polls).toHaveLength(6);
      const gaps = [submit!.atMs, ...polls].slice(1).map((t, k, a) => Math.round((t - (k === 0 ? submit!.atMs : a[k - 1]!)) / MINUTE));
      expect(gaps).toEqual([2, 4, 8, 16, 32, 64]);
    });
  }, 120_000);

  it('Stedi batch API: a poll never sleeps past the deadline; the timeout abandons the chunk', async () => {
    const fakes = fakeBatchActivities({ pollsBeforeDone: 100, clock });
    await run(fakes, async (tq) => {
      const view = (await (await start(tq, 5, batchOptions({ strategy: 'BATCH_ONLY', timeoutMs: 20 * MINUTE }))).result()) as BatchStatusView;
      expect(view.failure?.code).toBe('TIMEOUT');
      expect(view.status).toBe('FAILED');
      expect(view.counters.cancelled).toBe(5);
      const [submit] = fakes.named('submitStediChunk');
      const polls = fakes.named('pollStediChunk').map((c) => Math.round((c.atMs - submit!.atMs) / MINUTE));
      // 2, 6, 14 min, then the 16-minute backoff is cut to the deadline at 20 min.
      expect(polls.slice(0, 3)).toEqual([2, 6, 14]);
      expect(Math.max(...polls)).toBeLessThanOrEqual(20);
      expect(view.finishedAtMs! - view.startedAtMs!).toBeLessThan(21 * MINUTE);
    });
  }, 120_000);
});
