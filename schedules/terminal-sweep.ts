import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleSpec } from '@temporalio/client';
import { RteJobType } from '../workflows/search-attributes';
import {
  TERMINAL_SWEEP_JOB_TYPE,
  TERMINAL_SWEEP_SCHEDULE_ID,
  TERMINAL_SWEEP_WORKFLOW_TYPE,
  type BatchTerminalSweepInput,
} from '../workflows/terminal-sweep.defs';
import { specHashOf, startWorkflowAction, temporalSchedules, type UpsertAction } from './reconcile';

/**
 * The terminal sweep's Temporal Schedule (workflows/terminal-sweep.defs.ts): id `batch-terminal-sweep`, a tick every
 * `intervalMs` (BATCH_TERMINAL_SWEEP_INTERVAL_SECONDS, 60 s), overlap SKIP (a slow sweep is never joined by a second),
 * a catch-up window of one interval (a tick missed while Temporal was down is not replayed: the next one sweeps the
 * same batches). Ensured like the platform's other schedules, by a CLI run at deploy (`stack up` runs
 * `cli/terminal-sweep-schedule.ts apply`): created when missing, updated when its spec hash differs, its pause state
 * left alone (operators may pause it: `temporal schedule toggle --schedule-id batch-terminal-sweep --pause`). Not at
 * worker startup: every test platform's worker process would point the namespace's one schedule at its own queue.
 */
export const TERMINAL_SWEEP_SPEC_HASH_MEMO_KEY = 'terminalSweepSpecHash';

export interface TerminalSweepScheduleOptions {
  taskQueue: string;
  intervalMs: number;
  lookbackMs: number;
  scheduleId?: string;
  /** Say what would change, change nothing. */
  dryRun?: boolean;
}

export interface DesiredTerminalSweepSchedule {
  scheduleId: string;
  spec: ScheduleSpec;
  input: BatchTerminalSweepInput;
  taskQueue: string;
  catchupWindowMs: number;
  specHash: string;
}

export function desiredTerminalSweepSchedule(o: TerminalSweepScheduleOptions): DesiredTerminalSweepSchedule {
  const spec: ScheduleSpec = { intervals: [{ every: o.intervalMs }] };
  const input: BatchTerminalSweepInput = { lookbackMs: o.lookbackMs };
  // Temporal's smallest catch-up window is 10 s.
  const catchupWindowMs = Math.max(10_000, o.intervalMs);
  const specHash = specHashOf({ v: 1, spec, input, taskQueue: o.taskQueue, overlap: 'SKIP', catchupWindowMs });
  return { scheduleId: o.scheduleId ?? TERMINAL_SWEEP_SCHEDULE_ID, spec, input, taskQueue: o.taskQueue, catchupWindowMs, specHash };
}

function action(d: DesiredTerminalSweepSchedule) {
  return startWorkflowAction({
    workflowType: TERMINAL_SWEEP_WORKFLOW_TYPE,
    scheduleId: d.scheduleId,
    taskQueue: d.taskQueue,
    input: d.input,
    memo: { [TERMINAL_SWEEP_SPEC_HASH_MEMO_KEY]: d.specHash },
    searchAttributes: [{ key: RteJobType, value: TERMINAL_SWEEP_JOB_TYPE }],
    summary: 'terminal sweep: FAILED events for batches ended at the Temporal level',
  });
}

function policies(d: DesiredTerminalSweepSchedule) {
  return { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: d.catchupWindowMs, pauseOnFailure: false };
}

function hashOf(desc: ScheduleDescription): string | undefined {
  const h = (desc.action as { memo?: Record<string, unknown> }).memo?.[TERMINAL_SWEEP_SPEC_HASH_MEMO_KEY];
  return typeof h === 'string' ? h : undefined;
}

/**
 * Creates the sweep's schedule when missing and updates it when its spec differs; safe to run repeatedly and from
 * several places at once (a concurrent create is answered "already running": unchanged; the worst race is an
 * identical update).
 */
export async function ensureTerminalSweepSchedule(client: Client, o: TerminalSweepScheduleOptions): Promise<UpsertAction> {
  const want = desiredTerminalSweepSchedule(o);
  const existing = await temporalSchedules.describe(client, want.scheduleId);
  if (!existing) {
    if (o.dryRun) return 'created';
    try {
      await client.schedule.create({
        scheduleId: want.scheduleId,
        spec: want.spec,
        action: action(want),
        policies: policies(want),
        memo: { description: 'FAILED events for batches ended at the Temporal level (docs/batch.md)' },
        state: { note: 'created by cli/terminal-sweep-schedule.ts apply' },
      });
      return 'created';
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) return 'unchanged';
      throw err;
    }
  }
  if (hashOf(existing) === want.specHash) return 'unchanged';
  if (o.dryRun) return 'updated';
  await temporalSchedules.update(client, want.scheduleId, { spec: want.spec, action: action(want), policies: policies(want) });
  return 'updated';
}
