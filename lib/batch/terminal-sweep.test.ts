import { ApplicationFailure } from '@temporalio/common';
import { createTerminalSweepActivities, type EndedBatchSource, type EndedBatchState } from '../../activities/batch/terminal-sweep';
import { silentLogger } from '../logger';
import { webhookBody } from './events';
import { endedByTemporalQuery, sweptQuery, sweptTerminalEvent, sweptWebhook, type EndedBatchView } from './terminal-sweep';
import { emptyCounters, type ResolvedBatchOptions } from './types';

const options = (n: Partial<ResolvedBatchOptions['notifications']> = {}): ResolvedBatchOptions => ({
  priority: 'HIGH',
  strategy: 'REALTIME_ONLY',
  schedulingWindow: 'ANY',
  maxConcurrentRequests: 1,
  timeoutMs: 3_600_000,
  retry: { maxAttempts: 3, initialIntervalMs: 2_000, maxIntervalMs: 300_000, backoffMultiplier: 2 },
  notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE', ...n },
  cacheMode: 'DEFAULT',
});

/** A batch of 3 terminated with 1 member done, as GetBatchStatus reads it (closedView → endedAtTemporalLevel). */
const terminated = (o: Partial<EndedBatchView> = {}): EndedBatchView => ({
  batchId: 'batch/svc-a/job-1',
  clientService: 'svc-a',
  clientJobId: 'job-1',
  status: 'FAILED',
  counters: { ...emptyCounters(3), completed: 1, stediRealtimeCalls: 1 },
  percentDone: 33.3,
  submittedAtMs: 1_000,
  startedAtMs: 2_000,
  finishedAtMs: 9_000,
  options: options(),
  path: 'REALTIME',
  failure: { code: 'WORKFLOW_TERMINATED', message: 'the batch workflow ended terminated' },
  events: { seq: 2, lastEventId: 'evt2_2_batch_2fsvc-a_2fjob-1', jobType: 'RTE_BATCH' },
  ...o,
});

describe('terminal sweep: visibility queries', () => {
  test('batches Temporal ended without their own terminal status, closed since the lookback, on the sweeper\'s queue', () => {
    expect(endedByTemporalQuery({ workflowType: 'batchWorkflow', sinceMs: Date.UTC(2026, 11, 4, 18, 0, 0), taskQueue: 'rte-main' })).toBe(
      "WorkflowType='batchWorkflow' AND ExecutionStatus IN ('Terminated','TimedOut','Failed') AND RteBatchStatus NOT IN ('COMPLETED','FAILED','CANCELLED','PARTIALLY_COMPLETED') AND CloseTime > '2026-12-04T18:00:00.000Z' AND TaskQueue='rte-main'",
    );
  });

  test('a quote in a task queue name cannot end the literal', () => {
    expect(endedByTemporalQuery({ workflowType: 'batchWorkflow', sinceMs: 0, taskQueue: "q' OR 'x'='x" })).toContain("TaskQueue='q'' OR ''x''=''x'");
  });

  test('terminal-event workflows completed since the lookback', () => {
    expect(sweptQuery({ workflowType: 'batchTerminalEventWorkflow', sinceMs: Date.UTC(2026, 11, 4), taskQueue: 'rte-main' })).toBe(
      "WorkflowType='batchTerminalEventWorkflow' AND ExecutionStatus='Completed' AND StartTime > '2026-12-04T00:00:00.000Z' AND TaskQueue='rte-main'",
    );
  });
});

describe('terminal sweep: the FAILED event of a batch Temporal ended', () => {
  test('next sequence number, last counters, GetBatchStatus\'s reason, ended when Temporal closed it', () => {
    const e = sweptTerminalEvent(terminated(), 9_500)!;
    expect(e).toEqual({
      eventId: 'evt2_3_batch_2fsvc-a_2fjob-1',
      eventType: 'FAILED',
      occurredAtMs: 9_000,
      batchId: 'batch/svc-a/job-1',
      clientService: 'svc-a',
      clientJobId: 'job-1',
      jobType: 'RTE_BATCH',
      status: 'FAILED',
      counters: { ...emptyCounters(3), completed: 1, stediRealtimeCalls: 1 },
      percentDone: 33.3,
      submittedAtMs: 1_000,
      startedAtMs: 2_000,
      finishedAtMs: 9_000,
      options: options(),
      path: 'REALTIME',
      failure: { code: 'WORKFLOW_TERMINATED', message: 'the batch workflow ended terminated' },
    });
    // The webhook body says the same: FAILED, the counters as they stood (2 pending), the reason.
    const body = JSON.parse(webhookBody(e)) as { type: string; data: Record<string, unknown> };
    expect(body.type).toBe('batch.failed');
    expect(body.data).toMatchObject({ event_id: e.eventId, event_type: 'FAILED', status: 'FAILED', error: { code: 'WORKFLOW_TERMINATED' }, progress: { total_members: 3, completed: 1, pending: 2 } });
  });

  test('a batch terminated before its first event gets evt2_1; one timed out says WORKFLOW_TIMED_OUT', () => {
    const e = sweptTerminalEvent(terminated({ events: { seq: 0, jobType: 'CACHE_WARMING' }, failure: { code: 'WORKFLOW_TIMED_OUT', message: 'the batch workflow ended timed_out' } }), 9_500)!;
    expect([e.eventId, e.jobType, e.failure?.code]).toEqual(['evt2_1_batch_2fsvc-a_2fjob-1', 'CACHE_WARMING', 'WORKFLOW_TIMED_OUT']);
  });

  test('a batch whose events used the older id form continues in it', () => {
    expect(sweptTerminalEvent(terminated({ events: { seq: 4, lastEventId: 'evt_4_batch-svc-a-job-1', jobType: 'RTE_BATCH' } }), 9_500)!.eventId).toBe('evt_5_batch-svc-a-job-1');
  });

  test('without a close time in the view, the close time visibility listed', () => {
    const { finishedAtMs: _f, ...rest } = terminated();
    expect(sweptTerminalEvent(rest, 9_500)).toMatchObject({ occurredAtMs: 9_500, finishedAtMs: 9_500 });
  });

  test('no event when the view does not carry the batch\'s events (its last state came from the progress text)', () => {
    const { events: _e, ...rest } = terminated();
    expect(sweptTerminalEvent(rest, 9_500)).toBeUndefined();
  });

  test('webhook: when the batch has a callback and its filter lets a terminal event through', () => {
    expect(sweptWebhook(options())).toBeUndefined();
    expect(sweptWebhook(options({ callbackUrl: 'https://h.example/x' }))).toEqual({ url: 'https://h.example/x', mode: 'AT_LEAST_ONCE' });
    expect(sweptWebhook(options({ callbackUrl: 'https://h.example/x', eventTypes: ['COMPLETED'], deliveryMode: 'BEST_EFFORT' }))).toEqual({ url: 'https://h.example/x', mode: 'BEST_EFFORT' });
    expect(sweptWebhook(options({ callbackUrl: 'https://h.example/x', eventTypes: ['STARTED', 'PROGRESS'] }))).toBeUndefined();
  });
});

describe('terminal sweep activities (fake Temporal source)', () => {
  const state = (o: Partial<EndedBatchState> = {}): EndedBatchState => ({ executionStatus: 'TERMINATED', shownStatus: 'RUNNING', closedAtMs: 9_000, view: terminated(), ...o });
  const source = (s: EndedBatchState | undefined, listed: string[] = [], swept: string[] = []): EndedBatchSource => ({
    list: async (_q, limit) => listed.slice(0, limit).map((batchId) => ({ batchId, endedBy: 'Terminated', closedAtMs: 9_000 })),
    listIds: async () => swept,
    lastState: async () => s,
  });
  const input = { batchId: 'batch/svc-a/job-1', endedBy: 'Terminated' as const, closedAtMs: 9_000 };

  test('find leaves out batches visibility shows swept, and keeps the limit', async () => {
    const acts = createTerminalSweepActivities({ batches: source(undefined, ['batch/a/1', 'batch/a/2', 'batch/a/3'], ['batch/a/1/terminal-sweep']), logger: silentLogger() });
    const r = await acts.findBatchesEndedByTemporal({ query: 'q', sweptQuery: 's', limit: 1 });
    expect(r.batches.map((b) => b.batchId)).toEqual(['batch/a/2']);
    expect(r.sweptBefore).toBe(1);
  });

  test('read: the event, its topic and webhook', async () => {
    const view = terminated({ options: options({ callbackUrl: 'https://h.example/x' }) });
    const r = await createTerminalSweepActivities({ batches: source(state({ view })), logger: silentLogger() }).readEndedBatch(input);
    expect(r).toMatchObject({ event: { eventId: 'evt2_3_batch_2fsvc-a_2fjob-1' }, topic: 'domain.rte.v1.batch_job_events', webhook: { url: 'https://h.example/x' } });
  });

  test.each([
    ['gone', undefined, 'no longer exists'],
    ['reset and running', state({ executionStatus: 'RUNNING' }), 'running again'],
    ['completed', state({ executionStatus: 'COMPLETED' }), 'completed'],
    ['its own terminal status', state({ shownStatus: 'CANCELLED' }), 'own terminal status CANCELLED'],
  ])('read skips a batch %s', async (_t, s, why) => {
    const r = await createTerminalSweepActivities({ batches: source(s), logger: silentLogger() }).readEndedBatch(input);
    expect('skip' in r && r.skip).toContain(why);
  });

  test('read retries (never guesses a number) when the last state did not come from the workflow', async () => {
    const { events: _e, ...view } = terminated();
    const err = await createTerminalSweepActivities({ batches: source(state({ view })), logger: silentLogger() })
      .readEndedBatch(input)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(false);
  });

  test('record: one metric per swept batch by how it ended', async () => {
    const swept: string[] = [];
    await createTerminalSweepActivities({ batches: source(undefined), logger: silentLogger(), metrics: { onSwept: (e) => swept.push(e) } }).recordTerminalSweep({ ...input, eventId: 'evt2_3_x', webhook: 'none' });
    expect(swept).toEqual(['Terminated']);
  });
});
