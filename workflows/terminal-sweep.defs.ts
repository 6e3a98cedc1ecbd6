/**
 * Contract of the terminal sweep (workflows/terminal-sweep.ts; docs/batch.md "Batches ended at the Temporal level").
 *
 * `batchTerminalSweepWorkflow` runs on a Temporal Schedule (id `batch-terminal-sweep`, every minute by default,
 * overlap SKIP; schedules/terminal-sweep.ts) or when started by hand. It lists the batches on its task queue that
 * Temporal ended (terminated, timed out, failed execution) without their own terminal status, and starts one
 * `batchTerminalEventWorkflow` per batch, id `<batch id>/terminal-sweep`, which sends the batch's FAILED event to
 * Kafka and, when the batch has a webhook whose filter lets it through, starts its `webhookDeliveryWorkflow`
 * (id `<batch id>/webhook/<event id>`, as the batch itself would). The id reuse policy ALLOW_DUPLICATE_FAILED_ONLY
 * makes a batch's sweep happen once: a later sweep of a batch whose terminal-event workflow completed (or is still
 * running) is refused by Temporal and skipped; one that failed (Kafka unreachable past its retries) is tried again.
 */
export const TERMINAL_SWEEP_WORKFLOW_TYPE = 'batchTerminalSweepWorkflow';
export const TERMINAL_EVENT_WORKFLOW_TYPE = 'batchTerminalEventWorkflow';
/** Schedule id and the id prefix of its runs (the schedule appends each tick's time). */
export const TERMINAL_SWEEP_SCHEDULE_ID = 'batch-terminal-sweep';
export const TERMINAL_SWEEP_JOB_TYPE = 'BATCH_TERMINAL_SWEEP';
/** How far back a sweep looks for closed batches by default: the dev namespace's retention (24 h). */
export const DEFAULT_SWEEP_LOOKBACK_MS = 24 * 3_600_000;
/** Batches one sweep starts at most (the rest go to the next tick). */
export const DEFAULT_SWEEP_MAX_BATCHES = 100;

export function terminalSweepWorkflowId(batchId: string): string {
  return `${batchId}/terminal-sweep`;
}

export interface BatchTerminalSweepInput {
  /** Batches closed up to this long ago (default DEFAULT_SWEEP_LOOKBACK_MS). */
  lookbackMs?: number;
  /** Default DEFAULT_SWEEP_MAX_BATCHES. */
  maxBatches?: number;
}

export interface BatchTerminalSweepResult {
  /** Batches the visibility query found, less those visibility already shows swept. */
  found: number;
  /** Terminal-event workflows this sweep started (batch ids). */
  started: string[];
  /** Batches whose terminal-event workflow Temporal refused as already there (swept before). */
  alreadySwept: string[];
}

/** How Temporal ended the batch (visibility's ExecutionStatus). */
export type EndedBy = 'Terminated' | 'TimedOut' | 'Failed';

export interface BatchTerminalEventInput {
  batchId: string;
  endedBy: EndedBy;
  closedAtMs: number;
}

export interface BatchTerminalEventResult {
  batchId: string;
  outcome: 'sent' | 'skipped';
  /** Set when sent. */
  eventId?: string;
  /** `started`: its webhook delivery workflow was started; `none`: no webhook wanted; `exists`: started before. */
  webhook?: 'started' | 'none' | 'exists';
  /** Why it was skipped. */
  reason?: string;
}
