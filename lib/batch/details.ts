import type { BatchCounters, BatchStatusName, ExecutionPath, WindowName } from './types';

/**
 * What a batch workflow tells the Temporal Web UI (user metadata): a one-line static summary at start and
 * current details kept up to date, so an operator sees state and progress without running a query.
 * Pure: workflow code passes the clock in.
 */

const n = (x: number) => x.toLocaleString('en-US');
/** HH:MM UTC, with the date when it is not today. */
export function clock(ms: number, nowMs: number): string {
  const d = new Date(ms);
  const hhmm = `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')} UTC`;
  return d.toISOString().slice(0, 10) === new Date(nowMs).toISOString().slice(0, 10) ? hhmm : `${d.toISOString().slice(0, 10)} ${hhmm}`;
}

/**
 * Why a batch (or a warming job through its child batches) waits when the ANY window's slot-load rule deferred it:
 * the bound it keeps and that it may start sooner (it re-checks the load). The bound is 30–60 min away at moderate
 * load and the LOW_UTILIZATION window at high load, so the text names neither. One text for GetBatchStatus's
 * status_detail, GetWarmingJob's reason and the Web UI's details.
 */
export function deferredByLoadText(until: string): string {
  return `deferred by Stedi load: waiting until ${until} at the latest, or sooner when the load drops`;
}

export interface BatchSummaryInput {
  clientService: string;
  clientJobId: string;
  totalMembers?: number;
  strategy: string;
  priority: string;
  window: WindowName;
}

export function batchSummary(b: BatchSummaryInput): string {
  const members = b.totalMembers !== undefined ? `${n(b.totalMembers)} members` : 'member query';
  return `Batch ${b.clientService}/${b.clientJobId} · ${members} · ${b.strategy.toLowerCase().replace(/_/g, ' ')}, ${b.priority} priority, ${b.window} window`;
}

export interface BatchDetailsInput {
  status: BatchStatusName;
  counters: BatchCounters;
  totalKnown: boolean;
  path?: ExecutionPath;
  maxConcurrentRequests: number;
  window: WindowName;
  /** Stedi batch-API chunks submitted and not yet complete. */
  chunksInFlight: number;
  estimatedCompletionMs?: number;
  /** When the workflow waits for a scheduling window: when its next members are due. */
  waitingUntilMs?: number;
  /** The wait was chosen because Stedi's load is high (ANY window), not by a window the client asked for. */
  deferredByLoad?: boolean;
  failure?: { code: string; message: string };
  /** Who paused it (PAUSED only). */
  pausedBy?: string;
}

/**
 * How a paused batch is resumed, for the reader: `operator` (the workflow's Temporal Web UI details and its
 * RteBatchProgress text) the workflow's signal; `client` (the API's status_detail) the ResumeBatch RPC and rtectl
 * (probe p16 #11i: API clients were told to use a Temporal signal they cannot send).
 */
export type DetailsAudience = 'operator' | 'client';
const RESUME_HINT: Record<DetailsAudience, string> = {
  operator: 'resume with signal resumeBatch',
  client: 'resume with ResumeBatch (rtectl batch resume)',
};

export function batchDetails(d: BatchDetailsInput, nowMs: number, audience: DetailsAudience = 'operator'): string {
  const c = d.counters;
  const done = `${n(c.completed + c.failed)} / ${n(c.total)} done`;
  const failed = c.failed > 0 ? ` · ${n(c.failed)} failed` : '';
  const how =
    d.path === 'REALTIME'
      ? `real-time, ${d.maxConcurrentRequests} slots`
      : d.path === 'BATCH_API'
        ? `Stedi batch API, ${d.chunksInFlight} chunk${d.chunksInFlight === 1 ? '' : 's'} in flight`
        : undefined;
  const waiting =
    d.waitingUntilMs === undefined
      ? undefined
      : d.deferredByLoad
        ? deferredByLoadText(clock(d.waitingUntilMs, nowMs))
        : `waiting for ${d.window} window until ${clock(d.waitingUntilMs, nowMs)}`;
  switch (d.status) {
    case 'PENDING':
      if (!d.totalKnown) return `resolving member query · ${n(c.total)} members so far`;
      return waiting ? `${waiting} · ${n(c.total)} members` : `starting · ${n(c.total)} members`;
    case 'WAITING':
      return `${done}${failed} · ${waiting ?? `waiting for ${d.window} window`}`;
    case 'PAUSED':
      return `paused${d.pausedBy ? ` by ${d.pausedBy}` : ''} · ${done}${failed} · ${RESUME_HINT[audience]}`;
    case 'RUNNING': {
      const eta = d.estimatedCompletionMs !== undefined ? ` · ETA ${clock(d.estimatedCompletionMs, nowMs)}` : '';
      return `${done}${failed}${how ? ` · ${how}` : ''}${eta}`;
    }
    default: {
      const why = d.failure ? ` · ${d.failure.code}: ${d.failure.message.slice(0, 120)}` : '';
      const cancelled = c.cancelled > 0 ? ` · ${n(c.cancelled)} cancelled` : '';
      return `${d.status} · ${done}${failed}${cancelled}${why}`;
    }
  }
}
