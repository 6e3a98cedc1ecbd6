import { clock, deferredByLoadText } from '../batch/details';
import type { WarmOutcome, WarmingPriority, WarmingStrategyName } from './types';

/**
 * What a cache-warming job tells the Temporal Web UI (user metadata), like a batch (lib/batch/details.ts): a one-line
 * static summary set by whoever starts the job and current details kept up to date by the workflow, so an operator
 * sees state and progress without a query. Pure: workflow code passes the clock in.
 */

const n = (x: number) => x.toLocaleString('en-US');

export interface WarmingSummaryInput {
  source: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  operations: string[];
  /** Members, when known at start (a staged list); a member query resolves later. */
  members?: number;
  notBeforeMs?: number;
}

export function warmingSummary(w: WarmingSummaryInput, nowMs: number): string {
  const members = w.members !== undefined ? `${n(w.members)} members` : 'member query';
  const ops = w.operations.length === 1 ? w.operations[0]! : `${w.operations.length} operations`;
  const hold = w.notBeforeMs !== undefined && w.notBeforeMs > nowMs ? ` · not before ${clock(w.notBeforeMs, nowMs)}` : '';
  return `Cache warming ${w.source} · ${members} · ${ops} · ${w.priority} ${w.strategy}${hold}`;
}

/** Status words shared with batches (RteBatchStatus): PENDING, WAITING, RUNNING, PAUSED, then terminal. */
export type WarmingShownStatus = 'PENDING' | 'WAITING' | 'RUNNING' | 'PAUSED' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'PARTIALLY_COMPLETED';

export interface WarmingDetailsInput {
  status: WarmingShownStatus;
  priority: WarmingPriority;
  /** Members in the job and decided so far. */
  members: number;
  membersPlanned: number;
  membersSkipped: number;
  /** Entries (member × operation) routed so far, by path. */
  realtime: number;
  batchApi: number;
  /** Outcomes of finished pages (cache_warms). */
  outcomes: Record<WarmOutcome, number>;
  /** Progress of the running child batches (members completed / failed), as they last reported it. */
  inFlightCompleted: number;
  inFlightFailed: number;
  resolving: boolean;
  /** Held until notBefore (PENDING), or every running child waits for its window (WAITING). */
  waitingUntilMs?: number;
  /** The children's scheduling window while WAITING. */
  window?: string;
  /** WAITING because a child was deferred by Stedi's slot load (it may start sooner). */
  deferredByLoad?: boolean;
  estimatedCompletionMs?: number;
  pausedBy?: string;
  failure?: { code: string; message: string };
}

function paths(d: WarmingDetailsInput): string {
  if (d.realtime > 0 && d.batchApi > 0) return `${d.priority} via real-time + batch API`;
  if (d.batchApi > 0) return `${d.priority} via batch API`;
  if (d.realtime > 0) return `${d.priority} via real-time`;
  return d.priority;
}

export function warmingDetails(d: WarmingDetailsInput, nowMs: number): string {
  const o = d.outcomes;
  const toFetch = d.realtime + d.batchApi;
  const warmed = o.warmed + d.inFlightCompleted;
  const failedN = o.failed + d.inFlightFailed;
  const progress = `${n(warmed)} / ${n(toFetch)} warmed${failedN > 0 ? ` · ${n(failedN)} failed` : ''}`;
  const skipped = d.membersSkipped > 0 ? ` · ${n(d.membersSkipped)} members skipped (fresh)` : '';
  const planned = d.membersPlanned < d.members ? ` · ${n(d.membersPlanned)} / ${n(d.members)} members decided` : '';
  switch (d.status) {
    case 'PENDING':
      if (d.resolving) return `resolving member query · ${n(d.members)} members so far`;
      if (d.waitingUntilMs !== undefined) return `held until ${clock(d.waitingUntilMs, nowMs)} (not before) · ${n(d.members)} members · ${d.priority}`;
      return `starting · ${n(d.members)} members · ${d.priority}`;
    case 'WAITING': {
      if (d.deferredByLoad && d.waitingUntilMs !== undefined) return `${progress} · ${paths(d)} · ${deferredByLoadText(clock(d.waitingUntilMs, nowMs))}${planned}`;
      const until = d.waitingUntilMs !== undefined ? ` until ${clock(d.waitingUntilMs, nowMs)}` : '';
      return `${progress} · ${paths(d)} · waiting for ${d.window ?? 'its'} window${until}${planned}`;
    }
    case 'PAUSED':
      return `paused${d.pausedBy ? ` by ${d.pausedBy}` : ''} · ${progress} · ${paths(d)} · resume with signal resumeWarming`;
    case 'RUNNING': {
      const eta = d.estimatedCompletionMs !== undefined ? ` · ETA ${clock(d.estimatedCompletionMs, nowMs)}` : '';
      return `${progress} · ${paths(d)}${eta}${skipped}${planned}`;
    }
    default: {
      const why = d.failure ? ` · ${d.failure.code}: ${d.failure.message.slice(0, 120)}` : '';
      const rest = [o.skipped_fresh + o.skipped_cached > 0 ? `${n(o.skipped_fresh + o.skipped_cached)} skipped` : '', o.cancelled > 0 ? `${n(o.cancelled)} cancelled` : '']
        .filter(Boolean)
        .map((x) => ` · ${x}`)
        .join('');
      return `${d.status} · ${n(o.warmed)} / ${n(toFetch)} warmed${o.failed > 0 ? ` · ${n(o.failed)} failed` : ''}${rest}${why}`;
    }
  }
}

/**
 * Warms (member × operation) a cancelled job left undone, for its CANCELLED CacheWarmingEvent: its records settled
 * as cancelled (or still pending when the settlement could not run) plus the warms of members on pages it never
 * planned. With one operation, warmed + skipped members + failed + this = members requested.
 */
export function warmsCancelled(c: { members: number; membersPlanned: number; outcomes: Record<WarmOutcome, number> }, operations: number): number {
  return c.outcomes.cancelled + c.outcomes.pending + Math.max(0, c.members - c.membersPlanned) * operations;
}
