import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { BatchEventPayload } from '../../lib/batch/events';
import { sweptTerminalEvent, sweptWebhook, type EndedBatchView } from '../../lib/batch/terminal-sweep';
import { isTerminalStatus, type BatchStatusName, type DeliveryMode } from '../../lib/batch/types';
import type { BatchTerminalEventInput, EndedBy } from '../../workflows/terminal-sweep.defs';

/**
 * Activities of the terminal sweep (workflows/terminal-sweep.ts): find the batches Temporal ended without their
 * terminal event, read one's last state into its FAILED event, and record a sweep (log line, metric). The event is
 * published by the batch's own `publishBatchEvent` activity and delivered by its own `webhookDeliveryWorkflow`.
 */

export interface EndedBatchRef {
  batchId: string;
  endedBy: EndedBy;
  closedAtMs: number;
}

/** A batch Temporal ended, as GetBatchStatus reads it (describe + the batch's own last state). */
export interface EndedBatchState {
  /** Temporal's execution status name (TERMINATED, TIMED_OUT, FAILED; RUNNING after a reset). */
  executionStatus: string;
  /** The RteBatchStatus it last wrote. */
  shownStatus?: string;
  closedAtMs?: number;
  view: EndedBatchView;
}

/** What the sweep reads from Temporal; workers/ended-batches.ts adapts the worker's client, unit tests fake it. */
export interface EndedBatchSource {
  /** Batches a visibility query lists, at most `limit`. */
  list(query: string, limit: number): Promise<EndedBatchRef[]>;
  /** Workflow ids a visibility query lists, at most `limit`. */
  listIds(query: string, limit: number): Promise<string[]>;
  /** Undefined when the batch workflow no longer exists (past the namespace's retention). */
  lastState(batchId: string): Promise<EndedBatchState | undefined>;
}

export interface TerminalSweepMetrics {
  onSwept(endedBy: EndedBy): void;
}

export interface TerminalSweepActivityDeps {
  batches: EndedBatchSource;
  logger: Logger;
  metrics?: TerminalSweepMetrics;
}

export interface FindEndedBatchesInput {
  /** Batches ended at the Temporal level (lib/batch/terminal-sweep.ts endedByTemporalQuery). */
  query: string;
  /** Terminal-event workflows already completed (sweptQuery): their batches are left out. */
  sweptQuery: string;
  limit: number;
}

export type ReadEndedBatchResult =
  | { skip: string }
  | { event: BatchEventPayload; topic: string; webhook?: { url: string; mode: DeliveryMode } };

export interface RecordTerminalSweepInput {
  batchId: string;
  endedBy: EndedBy;
  eventId: string;
  webhook: 'started' | 'none' | 'exists';
}

/** Ids listed by the swept query at most (a day of swept batches; more only narrows the hint less). */
const MAX_SWEPT_LISTED = 10_000;
const SWEEP_SUFFIX = '/terminal-sweep';

const ENDED_BY_LABEL: Record<EndedBy, string> = { Terminated: 'terminated', TimedOut: 'timed_out', Failed: 'failed' };

export function createTerminalSweepMetrics(registry: Registry): TerminalSweepMetrics {
  const swept =
    (registry.getSingleMetric('rte_batch_terminal_sweeps_total') as Counter<'ended_by'> | undefined) ??
    new Counter({
      name: 'rte_batch_terminal_sweeps_total',
      help: 'Batches ended at the Temporal level (terminated, timed out, failed execution) whose FAILED event the terminal sweep sent, by how they ended',
      labelNames: ['ended_by'] as const,
      registers: [registry],
    });
  return { onSwept: (endedBy) => swept.inc({ ended_by: ENDED_BY_LABEL[endedBy] }) };
}

export function createTerminalSweepActivities(deps: TerminalSweepActivityDeps) {
  return {
    /** The batches to sweep: found by `query`, less those whose terminal-event workflow visibility shows completed. */
    async findBatchesEndedByTemporal(input: FindEndedBatchesInput): Promise<{ batches: EndedBatchRef[]; sweptBefore: number }> {
      const swept = new Set((await deps.batches.listIds(input.sweptQuery, MAX_SWEPT_LISTED)).filter((id) => id.endsWith(SWEEP_SUFFIX)).map((id) => id.slice(0, -SWEEP_SUFFIX.length)));
      const found = await deps.batches.list(input.query, input.limit + swept.size);
      const batches = found.filter((b) => !swept.has(b.batchId)).slice(0, input.limit);
      return { batches, sweptBefore: found.length - found.filter((b) => !swept.has(b.batchId)).length };
    },

    /**
     * The FAILED event of one batch Temporal ended, from its last state as GetBatchStatus reads it; `skip` when there
     * is nothing to send (the batch is gone, running again after a reset, or ended through its own code after all).
     * A last state without the batch's events so far (its status query did not answer) is retried, never guessed.
     */
    async readEndedBatch(input: BatchTerminalEventInput): Promise<ReadEndedBatchResult> {
      const state = await deps.batches.lastState(input.batchId);
      if (!state) return { skip: 'the batch workflow no longer exists (past the namespace retention)' };
      if (state.executionStatus === 'RUNNING' || state.executionStatus === 'CONTINUED_AS_NEW') return { skip: 'the batch workflow is running again (reset)' };
      if (state.executionStatus === 'COMPLETED') return { skip: 'the batch workflow completed: it sent its own terminal event' };
      if (state.shownStatus !== undefined && isTerminalStatus(state.shownStatus as BatchStatusName)) {
        return { skip: `the batch wrote its own terminal status ${state.shownStatus} (its terminal event went out)` };
      }
      const event = sweptTerminalEvent(state.view, state.closedAtMs ?? input.closedAtMs);
      if (!event) {
        throw ApplicationFailure.retryable(`batch ${input.batchId}: its last state did not come from the workflow (the batchStatus query did not answer), so its next event number is unknown`, 'BatchLastStateUnread');
      }
      const webhook = sweptWebhook(state.view.options);
      return { event, topic: state.view.options.notifications.kafkaTopic, ...(webhook ? { webhook } : {}) };
    },

    /** One log line and the metric per swept batch (batch id and event id; no member data). */
    async recordTerminalSweep(input: RecordTerminalSweepInput): Promise<void> {
      deps.metrics?.onSwept(input.endedBy);
      deps.logger.info(
        { batchId: input.batchId, endedBy: input.endedBy, eventId: input.eventId, webhook: input.webhook },
        'terminal sweep: FAILED event sent for a batch ended at the Temporal level',
      );
    },
  };
}

export type TerminalSweepActivities = ReturnType<typeof createTerminalSweepActivities>;
