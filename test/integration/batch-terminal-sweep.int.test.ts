import { create } from '@bufbuild/protobuf';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret } from '../../activities/webhooks/signing';
import { batchClient, subscribeToBatchEvents, waitFor, type BatchEventSubscriber } from '../../bench/batch-harness';
import {
  BatchExecutionOptions_Priority as Priority,
  BatchExecutionOptions_Strategy as Strategy,
  BatchStatus,
  NotificationPreferences_DeliveryMode as DeliveryMode,
  SubmitBatchRequestSchema,
} from '../../gen/rte/v1/batch_pb';
import { validateSubmitBatch } from '../../lib/batch/submit-validation';
import { silentLogger } from '../../lib/logger';
import { BATCH_WORKFLOW_TYPE, batchWorkflowId, type BatchWorkflowInput } from '../../workflows/batch.defs';
import { ensureTerminalSweepSchedule } from '../../schedules/terminal-sweep';
import { TERMINAL_EVENT_WORKFLOW_TYPE, TERMINAL_SWEEP_WORKFLOW_TYPE, terminalSweepWorkflowId, type BatchTerminalEventResult, type BatchTerminalSweepResult } from '../../workflows/terminal-sweep.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { listenOnLocalWebhookPort } from '../helpers/webhook-receiver';
import { uniqueName } from '../helpers/temporal';

/**
 * A batch terminated in Temporal (`temporal workflow terminate`) runs no more code, so it never sent its terminal
 * event. One run of the terminal sweep (started here directly, as its schedule would every minute) sends it: FAILED
 * with WORKFLOW_TERMINATED, the batch's last counters and the next event number, on the real Kafka and to a webhook
 * receiver (signed); a batch a Temporal execution timeout ended gets WORKFLOW_TIMED_OUT from the same sweep; a second
 * sweep sends nothing more. Real platform (API, worker, Temporal dev server, Kafka,
 * PostgreSQL, Redis); Stedi simulator at a fifth of its real latency (2.7 s a call), one call at a time, so the batch
 * is RUNNING with one member done when it is terminated.
 */
const SERVICE = 'svc-sweep';
const secret = generateWebhookSecret();
const seqOf = (eventId: string): number => Number(/^evt2_(\d+)_/.exec(eventId)?.[1] ?? NaN);

describe('terminal sweep: a batch terminated in Temporal gets its FAILED event, once (integration)', () => {
  let p: TestPlatform;
  let events: BatchEventSubscriber;
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let receiverPort = 0;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });

  beforeAll(async () => {
    receiverPort = await listenOnLocalWebhookPort(receiver);
    p = await startTestPlatform({ population: 30, sim: { logger: silentLogger(), timeScale: 0.2 }, env: { WEBHOOK_SECRETS: `${SERVICE}=${secret}` } });
    events = await subscribeToBatchEvents(p, uniqueName('terminal-sweep-it'));
  }, 120_000);
  afterAll(async () => {
    await events?.stop();
    await p?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  }, 60_000);

  const sweep = (): Promise<BatchTerminalSweepResult> =>
    p.temporal.workflow.execute(TERMINAL_SWEEP_WORKFLOW_TYPE, { taskQueue: p.config.temporal.taskQueue, workflowId: uniqueName('terminal-sweep-it'), args: [{ lookbackMs: 3_600_000 }] });

  test('one sweep: FAILED with WORKFLOW_TERMINATED / WORKFLOW_TIMED_OUT, the last counters and the next number on Kafka and the webhook; a second sweep sends nothing', async () => {
    // A batch ended by a Temporal execution timeout: started directly (another Temporal service's way, README
    // contract) with a 5 s execution timeout; 3 members checked live one at a time (2.7 s each) cannot finish in it.
    const direct = { clientService: 'svc-sweep-direct', clientJobId: uniqueName('timeout') };
    const v = validateSubmitBatch(
      create(SubmitBatchRequestSchema, { clientJobId: direct.clientJobId, memberSelector: { case: 'memberQuery', value: { limit: 3 } }, cacheControl: 3, options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 1 } }),
    );
    const timedOutId = batchWorkflowId(direct.clientService, direct.clientJobId);
    const input: BatchWorkflowInput = { batchId: timedOutId, ...direct, submittedAtMs: Date.now(), selector: { kind: 'query', query: { limit: 3 } }, options: v.options };
    const timingOut = await p.temporal.workflow.start(BATCH_WORKFLOW_TYPE, { taskQueue: p.config.temporal.taskQueue, workflowId: timedOutId, args: [input], workflowExecutionTimeout: '5s' });

    // A batch submitted through the API with a webhook, RUNNING with its first member done, terminated by an operator.
    const c = await batchClient(p, SERVICE);
    const r = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('sweep'),
        memberSelector: { case: 'memberIds', value: { memberIds: p.members.slice(0, 3).map((m) => m.memberId) } },
        options: {
          priority: Priority.HIGH,
          strategy: Strategy.REALTIME_ONLY,
          maxConcurrentRequests: 1,
          // Only the terminal event goes to the receiver: what it gets, it gets from the sweep.
          notifications: { callbackUrl: `http://127.0.0.1:${receiverPort}/hooks`, eventTypes: ['FAILED'], deliveryMode: DeliveryMode.DELIVERY_AT_LEAST_ONCE },
        },
      }),
    );
    const batchId = r.batchId;
    await waitFor('the first member done', () => events.of(batchId).some((e) => e.event.eventType === 'PROGRESS'), 30_000);
    await p.temporal.workflow.getHandle(batchId).terminate('operator: terminal sweep test');
    const status = await c.getBatchStatus({ batchId });
    expect([status.status, status.failureCode]).toEqual([BatchStatus.FAILED, 'WORKFLOW_TERMINATED']);
    await timingOut.result().catch(() => undefined);
    expect((await timingOut.describe()).status.name).toBe('TIMED_OUT');
    // Neither sent a terminal event of its own.
    const before = events.of(batchId).map((e) => e.event);
    const beforeTimedOut = events.of(timedOutId).map((e) => e.event);
    expect([...before, ...beforeTimedOut].map((e) => e.eventType)).not.toContain('FAILED');
    const lastSeq = Math.max(...before.map((e) => seqOf(e.eventId)));

    const t0 = Date.now();
    const first = await sweep();
    expect(first.started).toEqual(expect.arrayContaining([batchId, timedOutId]));
    const sent = (await p.temporal.workflow.getHandle(terminalSweepWorkflowId(batchId)).result()) as BatchTerminalEventResult;
    expect(sent).toMatchObject({ outcome: 'sent', webhook: 'started' });
    expect(await p.temporal.workflow.getHandle(terminalSweepWorkflowId(timedOutId)).result()).toMatchObject({ outcome: 'sent', webhook: 'none' });

    // Kafka: one FAILED event each, the next number, GetBatchStatus's reason and counters.
    await waitFor('the FAILED events on Kafka', () => [batchId, timedOutId].every((id) => events.of(id).some((e) => e.event.eventType === 'FAILED')), 30_000);
    const failed = events.of(batchId).filter((e) => e.event.eventType === 'FAILED');
    expect(failed).toHaveLength(1);
    const ev = failed[0]!.event;
    expect(ev.eventId).toBe(sent.eventId);
    expect(seqOf(ev.eventId)).toBe(lastSeq + 1);
    expect(ev.result.case).toBe('failed');
    if (ev.result.case === 'failed') {
      expect(ev.result.value.errorCode).toBe('WORKFLOW_TERMINATED');
      expect(ev.result.value.errorMessage).toBe(status.failureMessage);
      expect(ev.result.value.partialResult).toMatchObject({ totalMembers: 3, successful: status.progress!.completed, failed: status.progress!.failed, skipped: status.progress!.cancelled });
    }
    expect(status.progress!.completed + status.progress!.failed).toBeGreaterThanOrEqual(1);
    const evTimedOut = events.of(timedOutId).find((e) => e.event.eventType === 'FAILED')!.event;
    expect(seqOf(evTimedOut.eventId)).toBe(Math.max(0, ...beforeTimedOut.map((e) => seqOf(e.eventId))) + 1);
    expect(evTimedOut.result.case === 'failed' && [evTimedOut.result.value.errorCode, evTimedOut.result.value.partialResult?.totalMembers]).toEqual(['WORKFLOW_TIMED_OUT', 3]);

    // The webhook: the same event, signed with the client's secret.
    await waitFor('the FAILED webhook', () => received.length >= 1, 30_000);
    const hook = received[0]!;
    expect(hook.headers['webhook-id']).toBe(ev.eventId);
    const payload = new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(payload.type).toBe('batch.failed');
    expect(payload.data).toMatchObject({ event_id: ev.eventId, status: 'FAILED', error: { code: 'WORKFLOW_TERMINATED' }, progress: { total_members: 3, completed: status.progress!.completed } });
    expect(() => new Webhook(generateWebhookSecret()).verify(hook.body, hook.headers as Record<string, string>)).toThrow();
    const sweptInMs = Date.now() - t0;

    // A second sweep sends nothing: the batches are refused by Temporal (or visibility already shows them swept).
    const second = await sweep();
    expect(second.started).not.toContain(batchId);
    expect(second.started).not.toContain(timedOutId);
    await new Promise((res) => setTimeout(res, 2_000));
    expect(events.of(batchId).filter((e) => e.event.eventType === 'FAILED')).toHaveLength(1);
    expect(events.of(timedOutId).filter((e) => e.event.eventType === 'FAILED')).toHaveLength(1);
    expect(received).toHaveLength(1);
    expect(sweptInMs).toBeLessThan(30_000);
    // What keeps it once even when visibility lags behind: Temporal refuses the batch's terminal-event id again.
    await expect(
      p.temporal.workflow.start(TERMINAL_EVENT_WORKFLOW_TYPE, {
        taskQueue: p.config.temporal.taskQueue,
        workflowId: terminalSweepWorkflowId(batchId),
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        args: [{ batchId, endedBy: 'Terminated', closedAtMs: Date.now() }],
      }),
    ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
  }, 90_000);

  test('the schedule: created, then unchanged, updated when its interval changes; overlap SKIP; a triggered tick runs a sweep', async () => {
    // Its own id (the namespace's batch-terminal-sweep is the stack's), on this platform's queue.
    const scheduleId = uniqueName('batch-terminal-sweep-it');
    const o = { taskQueue: p.config.temporal.taskQueue, intervalMs: 3_600_000, lookbackMs: 3_600_000, scheduleId };
    try {
      expect(await ensureTerminalSweepSchedule(p.temporal, o)).toBe('created');
      expect(await ensureTerminalSweepSchedule(p.temporal, o)).toBe('unchanged');
      expect(await ensureTerminalSweepSchedule(p.temporal, { ...o, intervalMs: 1_800_000, dryRun: true })).toBe('updated');
      expect(await ensureTerminalSweepSchedule(p.temporal, { ...o, intervalMs: 1_800_000 })).toBe('updated');
      const handle = p.temporal.schedule.getHandle(scheduleId);
      const d = await handle.describe();
      expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      expect(d.spec.intervals?.[0]?.every).toBe(1_800_000);
      expect(d.action.type === 'startWorkflow' && d.action.workflowType).toBe(TERMINAL_SWEEP_WORKFLOW_TYPE);
      await handle.trigger();
      let runId: string | undefined;
      await waitFor('the triggered sweep', async () => ((runId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId), runId !== undefined), 15_000);
      const result = (await p.temporal.workflow.getHandle(runId!).result()) as BatchTerminalSweepResult;
      // The batch of the first test is swept already: this tick starts nothing for it.
      expect(result.started).toEqual([]);
    } finally {
      await p.temporal.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    }
  }, 60_000);
});
