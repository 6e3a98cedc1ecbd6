import { batchEventId, batchEventIdV2, eventPassesFilter, type BatchEventPayload, type BatchEventsSoFar } from './events';
import type { DeliveryMode, ResolvedBatchOptions } from './types';
import { TERMINAL_STATUSES } from './types';

/**
 * The terminal sweep's pure parts (workflows/terminal-sweep.ts runs them): which batches it looks for, and the FAILED
 * event it sends for one. A batch ended at the Temporal level (terminated, timed out, failed execution) runs no more
 * code, so it never sent its terminal event; the sweep sends it, once, on the batch's own channels. Bundle-safe.
 */

/** Temporal execution statuses of a batch that did not end through its own code, as visibility queries spell them. */
export const ENDED_BY_TEMPORAL = ['Terminated', 'TimedOut', 'Failed'] as const;

/** Single quotes doubled: a value inside a visibility query's '…' literal. */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Visibility query for batches that Temporal ended without their own terminal status (they keep the last
 * RteBatchStatus they wrote, e.g. RUNNING), closed after `sinceMs`, on `taskQueue` (the sweeper's own queue: a
 * deployment sweeps its own batches, and a test platform only its own). `workflowType` is batchWorkflow.
 */
export function endedByTemporalQuery(q: { workflowType: string; sinceMs: number; taskQueue: string }): string {
  return [
    `WorkflowType=${literal(q.workflowType)}`,
    `ExecutionStatus IN (${ENDED_BY_TEMPORAL.map(literal).join(',')})`,
    `RteBatchStatus NOT IN (${TERMINAL_STATUSES.map(literal).join(',')})`,
    `CloseTime > ${literal(new Date(q.sinceMs).toISOString())}`,
    `TaskQueue=${literal(q.taskQueue)}`,
  ].join(' AND ');
}

/**
 * Visibility query for the terminal-event workflows that completed since `sinceMs` (their batches are swept; the
 * sweep skips them without a start attempt). Only a hint: visibility lags, and Temporal's workflow-id uniqueness is
 * what keeps a batch to one terminal event.
 */
export function sweptQuery(q: { workflowType: string; sinceMs: number; taskQueue: string }): string {
  return [`WorkflowType=${literal(q.workflowType)}`, `ExecutionStatus='Completed'`, `StartTime > ${literal(new Date(q.sinceMs).toISOString())}`, `TaskQueue=${literal(q.taskQueue)}`].join(
    ' AND ',
  );
}

/** A batch's last state as GetBatchStatus reports a batch Temporal ended (the fields the FAILED event needs). */
export type EndedBatchView = Pick<
  BatchEventPayload,
  'batchId' | 'clientService' | 'clientJobId' | 'status' | 'counters' | 'percentDone' | 'submittedAtMs' | 'startedAtMs' | 'finishedAtMs' | 'options' | 'path' | 'failure'
> & { events?: BatchEventsSoFar };

/**
 * The FAILED event of a batch Temporal ended: the next sequence number after the last event the batch emitted, in
 * the id form its events used (evt2_ unless its last one was the older evt_), its last counters, FAILED with the
 * reason GetBatchStatus gives (WORKFLOW_TERMINATED, WORKFLOW_TIMED_OUT, WORKFLOW_FAILED), `occurredAtMs` and
 * `finishedAtMs` the time Temporal closed it. Undefined when the view does not carry the batch's events so far (its
 * last state came from the progress text, not from the workflow): the sweep then retries rather than guess a number.
 */
export function sweptTerminalEvent(view: EndedBatchView, closedAtMs: number): BatchEventPayload | undefined {
  const ev = view.events;
  if (!ev) return undefined;
  const seq = ev.seq + 1;
  const oldForm = ev.lastEventId !== undefined && !ev.lastEventId.startsWith('evt2_');
  const endedAt = view.finishedAtMs ?? closedAtMs;
  return {
    eventId: oldForm ? batchEventId(view.batchId, seq) : batchEventIdV2(view.batchId, seq),
    eventType: 'FAILED',
    occurredAtMs: endedAt,
    batchId: view.batchId,
    clientService: view.clientService,
    clientJobId: view.clientJobId,
    jobType: ev.jobType,
    ...(ev.initiatedByUserId ? { initiatedByUserId: ev.initiatedByUserId } : {}),
    status: 'FAILED',
    counters: { ...view.counters },
    percentDone: view.percentDone,
    submittedAtMs: view.submittedAtMs,
    ...(view.startedAtMs !== undefined ? { startedAtMs: view.startedAtMs } : {}),
    finishedAtMs: endedAt,
    options: view.options,
    ...(view.path ? { path: view.path } : {}),
    ...(view.failure ? { failure: view.failure } : {}),
  };
}

/**
 * Where the swept FAILED event goes as a webhook: the batch's callback URL when its `event_types` filter lets a
 * terminal event through (the current rule: a filter naming any terminal kind receives the terminal event), else
 * undefined.
 */
export function sweptWebhook(options: ResolvedBatchOptions): { url: string; mode: DeliveryMode } | undefined {
  const n = options.notifications;
  if (!n.callbackUrl || !eventPassesFilter('FAILED', n.eventTypes, { terminalAsOne: true })) return undefined;
  return { url: n.callbackUrl, mode: n.deliveryMode };
}
