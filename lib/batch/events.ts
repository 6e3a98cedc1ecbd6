import { batchFailureOf } from './member-failure';
import { averageDurationMs, pendingOf } from './progress';
import type { BatchCounters, BatchEventName, BatchStatusName, ExecutionPath, ResolvedBatchOptions } from './types';
import { cacheRefreshedOf } from './types';

/**
 * One batch lifecycle event, as the workflow records it. The Kafka activity encodes it as protobuf
 * `rte.v1.BatchJobEvent`; the webhook body is the JSON below. Bundle-safe.
 */
export interface BatchEventPayload {
  /**
   * Deterministic (`evt2_<seq>_<encoded batch id>`, batchEventIdV2; older batches `evt_<seq>_<batch>`): retries and
   * replays produce the same id; consumers dedupe on it. `<seq>` is consecutive per batch in Kafka (docs/batch.md).
   */
  eventId: string;
  eventType: BatchEventName;
  occurredAtMs: number;
  batchId: string;
  clientService: string;
  clientJobId: string;
  jobType: string;
  initiatedByUserId?: string;
  status: BatchStatusName;
  counters: BatchCounters;
  percentDone: number;
  estimatedCompletionMs?: number;
  submittedAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  options: ResolvedBatchOptions;
  path?: ExecutionPath;
  failure?: { code: string; message: string };
}

/**
 * What a batch's events so far say, in its status view (`BatchStatusView.events`): the sequence number of the last
 * event it emitted (0: none yet), that event's id (its id form: `evt2_` or the older `evt_`; absent when this run has
 * emitted none) and the identity fields its events carry. The terminal sweep (workflows/terminal-sweep.ts) continues
 * from it for a batch Temporal ended, whose code runs no more.
 */
export interface BatchEventsSoFar {
  seq: number;
  lastEventId?: string;
  jobType: string;
  initiatedByUserId?: string;
}

/** Standard Webhooks ids must not contain '.'; batch ids contain '/', which is fine but we keep ids URL-safe. */
export function batchEventId(batchId: string, seq: number): string {
  return `evt_${seq}_${batchId.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 200);
}

/**
 * Event ids, v2: an injective encoding of the batch id (letters, digits and '-' kept; every other character,
 * '_' included, becomes `_xx` / `_uxxxx`), so ids of different batches never collide (v1 mapped every
 * punctuation character to '-': `batch/a-b/c` and `batch/a/b-c` shared ids). No '.', URL-safe, no truncation.
 */
export function batchEventIdV2(batchId: string, seq: number): string {
  let enc = '';
  for (const ch of batchId) {
    if (/[A-Za-z0-9-]/.test(ch)) enc += ch;
    else {
      const cp = ch.codePointAt(0)!;
      enc += cp <= 0xff ? `_${cp.toString(16).padStart(2, '0')}` : `_u${cp.toString(16).padStart(6, '0')}`;
    }
  }
  return `evt2_${seq}_${enc}`;
}

/** Doc's callback event names: PROGRESS is sent as PROGRESS_UPDATE. */
export function webhookEventName(t: BatchEventName): string {
  return t === 'PROGRESS' ? 'PROGRESS_UPDATE' : t;
}

/** The kinds of a batch's terminal event; a batch emits exactly one of them. */
const TERMINAL_EVENTS: readonly BatchEventName[] = ['COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'CANCELLED'];

/**
 * Whether a webhook filter (empty = all) lets this event through. With `terminalAsOne` (batches since
 * patch `webhook-terminal-filter-v1`), a filter naming any terminal kind receives the batch's terminal event of
 * every kind: a client following the proto's example ["STARTED", "COMPLETED", "FAILED"] otherwise never heard that
 * its batch ended CANCELLED or PARTIALLY_COMPLETED (probe batch #2). The event keeps its own type.
 */
export function eventPassesFilter(t: BatchEventName, filter: readonly BatchEventName[], opts: { terminalAsOne?: boolean } = {}): boolean {
  if (filter.length === 0 || filter.includes(t)) return true;
  return opts.terminalAsOne === true && TERMINAL_EVENTS.includes(t) && filter.some((f) => TERMINAL_EVENTS.includes(f));
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/**
 * Webhook JSON: Standard Webhooks envelope `{type, timestamp, data}` whose `data` carries the design doc's callback
 * fields (`batch_id`, `event`, `progress{…}`, `result{…}` with `total_duration_seconds`, `avg_member_duration_ms`).
 * Thin payload: counters only, never member ids.
 */
export function webhookBody(e: BatchEventPayload): string {
  const c = e.counters;
  const progress = {
    total_members: c.total,
    completed: c.completed,
    failed: c.failed,
    pending: pendingOf(c),
    cancelled: c.cancelled,
    cache_hits: c.cacheHits,
    cache_misses: c.cacheMisses,
    percent_complete: e.percentDone,
  };
  const terminal = e.eventType !== 'STARTED' && e.eventType !== 'PROGRESS';
  const durationMs = e.finishedAtMs !== undefined && e.startedAtMs !== undefined ? e.finishedAtMs - e.startedAtMs : undefined;
  const data: Record<string, unknown> = {
    event_id: e.eventId,
    event: webhookEventName(e.eventType),
    event_type: e.eventType,
    occurred_at: iso(e.occurredAtMs),
    batch_id: e.batchId,
    client_job_id: e.clientJobId,
    job_type: e.jobType,
    status: e.status,
    progress,
  };
  if (e.estimatedCompletionMs !== undefined && !terminal) data['estimated_completion'] = iso(e.estimatedCompletionMs);
  if (terminal) {
    data['result'] = {
      total_members: c.total,
      successful: c.completed,
      failed: c.failed,
      skipped: c.cancelled,
      cache_hits: c.cacheHits,
      cache_refreshed: cacheRefreshedOf(c),
      ...(durationMs !== undefined ? { total_duration_seconds: Math.round(durationMs / 1000) } : {}),
      ...(averageDurationMs(c) !== undefined ? { avg_member_duration_ms: averageDurationMs(c) } : {}),
      stedi_batch_calls: c.stediBatches,
      stedi_realtime_calls: c.stediRealtimeCalls,
    };
  }
  const failure = terminal ? batchFailureOf(e.status, e.failure, c) : e.failure;
  if (failure) data['error'] = { code: failure.code, message: failure.message };
  return JSON.stringify({ type: `batch.${e.eventType.toLowerCase()}`, timestamp: iso(e.occurredAtMs), data });
}
