import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { BatchEventType, BatchStatus, BatchStatusUpdateSchema, type BatchStatusUpdate, type WatchBatchRequest } from '../../gen/rte/v1/batch_pb';
import type { BatchOutcomeStore } from '../../activities/batch/ports';
import { optionsToProto, progressToProto, STATUS_TO_PROTO, tsOrUndefined } from '../../lib/batch/proto-mapping';
import { isTerminalStatus, type ExecutionPath } from '../../lib/batch/types';
import { batchFailureOf } from '../../lib/batch/member-failure';
import type { BatchStatusView } from '../../workflows/batch.defs';
import type { BatchTemporalPort } from './batch-temporal-port';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../interceptors';

const OUTCOME_READ_PAGE = 1000;

export interface BatchStatusStreamDeps {
  temporal: Pick<BatchTemporalPort, 'status'>;
  /** Per-member outcomes for MEMBER_COMPLETED updates; absent: none are streamed. */
  outcomes?: Pick<BatchOutcomeStore, 'read'>;
  now: () => number;
  /** How often the workflow is queried and how often a keepalive goes out. */
  watch: { pollIntervalMs: number; keepaliveMs: number; unaskableLimitMs?: number };
  /** Told when a poll of the batch's status failed and the stream kept its last view (logs). */
  onPollError?: (batchId: string, err: unknown) => void;
}

/**
 * How long the stream rides out polls that fail (the batch's workflow cannot be asked: its worker was just killed and
 * Temporal has not moved the query on, Temporal restarting, a query that failed) before it ends with `unavailable`.
 * Meanwhile it keeps its last view, its keepalives and the members' outcomes (PostgreSQL). Before, the first such
 * failure ended the stream as `internal`.
 */
export const DEFAULT_WATCH_UNASKABLE_LIMIT_MS = 60_000;

/**
 * WatchBatchStatus's stream for one authorized batch, from its current `view`: STARTED, PROGRESS on every change,
 * MEMBER_COMPLETED when asked for by name, keepalives, and the terminal COMPLETED / FAILED update (to any filter naming
 * either; a filter naming neither ends on an update carrying the final status).
 */
export async function* batchStatusStream(
  deps: BatchStatusStreamDeps,
  req: WatchBatchRequest,
  signal: AbortSignal,
  first: BatchStatusView,
  /**
   * announce (default on): when the first view has nothing to send (a PENDING batch waiting for its window, or
   * nothing the watcher's filter asked for), an empty PROGRESS with the batch's current status goes out at once, so
   * the caller gets headers and the status now, not at the first keepalive (probe p16 #11f: 30 s of nothing).
   */
  opts: { announce?: boolean } = {},
): AsyncGenerator<BatchStatusUpdate> {
  const { now, watch } = deps;
  let view = first;
  const wanted = new Set(req.eventTypes);
  const want = (t: BatchEventType) => wanted.size === 0 || wanted.has(t);
  // The terminal update counts as one kind, as for webhooks (docs/batch.md): a filter naming COMPLETED or FAILED gets
  // the batch's end whatever its kind. Before, [COMPLETED] on a batch that was cancelled ended the stream with no word
  // of how the batch ended (probe p18 F17).
  const wantTerminal = want(BatchEventType.EVENT_TYPE_COMPLETED) || want(BatchEventType.EVENT_TYPE_FAILED);
  let sent = 0;
  /** The status the last update sent carried (undefined before any). */
  let lastSentStatus: BatchStatusView['status'] | undefined;
  const update = (t: BatchEventType, u: MessageInitShape<typeof BatchStatusUpdateSchema>['update']): BatchStatusUpdate => {
    sent++;
    lastSentStatus = view.status;
    // `timestamp` is when the update was produced (the proto's word), also for a last-known view's state: clients may
    // order updates by it, so it never steps back. The state's own age is GetBatchStatus's `as_of`.
    return create(BatchStatusUpdateSchema, { timestamp: timestampFromMs(now()), eventType: t, batchId: req.batchId, update: u, status: STATUS_TO_PROTO[view.status] ?? BatchStatus.PENDING });
  };
  let sentStarted = false;
  let lastProgressKey = '';
  let lastSentAt = now();
  /** When the polls began failing (undefined while they succeed). */
  let unaskableSince: number | undefined;
  // MEMBER_COMPLETED only when asked for by name (a stream of up to 100,000 updates is opt-in). Every
  // member's outcome is sent once: from the batch's first member on, also to a watcher that joins late.
  const memberUpdates = wanted.has(BatchEventType.EVENT_TYPE_MEMBER_COMPLETED) && deps.outcomes !== undefined;
  let outcomeCursor = 0;
  const sentMembers = new Set<number>();
  async function* memberCompletions(fromStart: boolean): AsyncGenerator<BatchStatusUpdate> {
    // Sequence numbers are assigned at insert but rows commit in any order, so a live pass can step over a
    // row that commits late; the final pass (after the batch is terminal, when every row is in) reads the
    // whole feed again and sends whatever was missed.
    let cursor = fromStart ? 0 : outcomeCursor;
    for (;;) {
      const rows = await deps.outcomes!.read(req.batchId, cursor, OUTCOME_READ_PAGE);
      for (const o of rows) {
        cursor = Math.max(cursor, o.seq);
        if (sentMembers.has(o.memberIndex)) continue;
        sentMembers.add(o.memberIndex);
        lastSentAt = now();
        yield update(BatchEventType.EVENT_TYPE_MEMBER_COMPLETED, {
          case: 'memberCompleted',
          value: {
            accountId: o.memberId,
            success: o.success,
            ...(o.durationMs !== undefined ? { duration: durationFromMs(o.durationMs) } : {}),
            ...(o.errorMessage !== undefined ? { errorMessage: o.errorMessage } : {}),
          },
        });
      }
      if (!fromStart) outcomeCursor = cursor;
      if (rows.length < OUTCOME_READ_PAGE) return;
    }
  }
  for (;;) {
    // A batch paused before it started has not started either.
    if (!sentStarted && view.status !== 'PENDING' && !(view.status === 'PAUSED' && view.startedAtMs === undefined)) {
      sentStarted = true;
      // A batch cancelled while it waited for its window never started: no STARTED for it.
      if (want(BatchEventType.EVENT_TYPE_STARTED) && (view.startedAtMs !== undefined || !isTerminalStatus(view.status))) {
        lastSentAt = now();
        yield update(BatchEventType.EVENT_TYPE_STARTED, {
          case: 'started',
          value: {
            totalMembers: view.counters.total,
            startedAt: tsOrUndefined(view.startedAtMs),
            resolvedOptions: optionsToProto(view.options, view.path as ExecutionPath | undefined),
            // The counters as they stand (probe p16 #11g: a watcher of a finished batch got STARTED with status
            // COMPLETED and no counters, so `rtectl batch watch` printed 0/2 … COMPLETED before 2/2).
            progress: progressToProto(view.counters, view.startedAtMs, now(), view.finishedAtMs ?? view.estimatedCompletionMs, view.status),
          },
        });
      }
    }
    const c = view.counters;
    const key = `${c.completed}/${c.failed}/${c.cancelled}/${c.total}/${view.status}`;
    // Progress follows STARTED: a PENDING batch (waiting for its window) only gets keepalives.
    if (key !== lastProgressKey && sentStarted && !isTerminalStatus(view.status)) {
      lastProgressKey = key;
      if (want(BatchEventType.EVENT_TYPE_PROGRESS)) {
        lastSentAt = now();
        yield update(BatchEventType.EVENT_TYPE_PROGRESS, { case: 'progress', value: progressToProto(c, view.startedAtMs, now(), view.estimatedCompletionMs, view.status) });
      }
    }
    if (memberUpdates && sentStarted) yield* memberCompletions(isTerminalStatus(view.status));
    if (isTerminalStatus(view.status)) {
      // A finished batch is estimated at its finish time, not at the moment the watcher read it (as GetBatchStatus).
      const finalProgress = progressToProto(c, view.startedAtMs, now(), view.finishedAtMs, view.status);
      if (!wantTerminal) {
        // A filter naming no terminal kind gets no terminal update, but its last update says how the batch ended: an
        // empty PROGRESS with the final status unless one already carried it (a finished batch watched with a filter
        // that matches nothing got zero updates; batch.md promises its current status at once).
        if (lastSentStatus !== view.status) yield update(BatchEventType.EVENT_TYPE_PROGRESS, { case: undefined });
      } else if (view.status === 'COMPLETED' || view.status === 'PARTIALLY_COMPLETED') {
        // The update keeps its own kind (COMPLETED), also for a watcher that named only FAILED.
        yield update(BatchEventType.EVENT_TYPE_COMPLETED, { case: 'completed', value: { status: STATUS_TO_PROTO[view.status], finalProgress, completedAt: tsOrUndefined(view.finishedAtMs) } });
      } else {
        yield update(BatchEventType.EVENT_TYPE_FAILED, {
          case: 'failed',
          value: {
            status: STATUS_TO_PROTO[view.status],
            errorCode: batchFailureOf(view.status, view.failure, view.counters)?.code ?? view.status,
            errorMessage: batchFailureOf(view.status, view.failure, view.counters)?.message ?? '',
            finalProgress,
            failedAt: tsOrUndefined(view.finishedAtMs),
          },
        });
      }
      return;
    }
    if (opts.announce !== false && sent === 0) {
      // The caller learns the batch's status (and the submitter its batch id) now, not at the first keepalive.
      lastSentAt = now();
      yield update(BatchEventType.EVENT_TYPE_PROGRESS, { case: undefined });
    }
    await sleepUnlessAborted(watch.pollIntervalMs, signal);
    if (signal.aborted) return;
    if (now() - lastSentAt >= watch.keepaliveMs) {
      // Keepalive (doc): an empty PROGRESS update, so proxies and load balancers keep the stream open.
      lastSentAt = now();
      yield update(BatchEventType.EVENT_TYPE_PROGRESS, { case: undefined });
    }
    let next: BatchStatusView | undefined;
    try {
      next = await deps.temporal.status(req.batchId);
      unaskableSince = undefined;
    } catch (err) {
      // A refusal that names the request (not found, permission) ends the stream as it is; anything else is the
      // workflow not answering for now.
      if (err instanceof ConnectError && err.code !== Code.Unavailable && err.code !== Code.DeadlineExceeded && err.code !== Code.Internal) throw err;
      deps.onPollError?.(req.batchId, err);
      unaskableSince ??= now();
      const limitMs = watch.unaskableLimitMs ?? DEFAULT_WATCH_UNASKABLE_LIMIT_MS;
      if (now() - unaskableSince >= limitMs) {
        throw new ConnectError(
          `batch ${req.batchId}: its status could not be read for ${Math.round((now() - unaskableSince) / 1000)} s (${unaskableReason(err)}); the batch itself goes on - watch again (the stream resends every member's outcome)`,
          Code.Unavailable,
          { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
          undefined,
          err,
        );
      }
      continue;
    }
    if (!next) throw new ConnectError(`batch ${req.batchId} not found`, Code.NotFound);
    // Live answers and last-known ones (GetBatchStatus's fallback when the workflow is slow to answer: visibility and
    // PostgreSQL) interleave during a worker outage, and either may be the one ahead: activities keep recording
    // outcomes (seen by the last-known view) while the workflow gets no tasks, and after a restart the live view can
    // lag what PostgreSQL already had (probe p17 #3). The stream follows whichever is ahead in members done and never
    // steps a client's counters back; a final view always goes through.
    if (!isTerminalStatus(next.status) && !isAheadOrLevel(next, view)) continue;
    view = next;
  }
}

/**
 * The client's words for why the status could not be read: a fixed wording per error class, never the error's own
 * message (a Temporal or gRPC message can name servers, queues and internals; the server log has the whole chain).
 */
export function unaskableReason(err: unknown): string {
  if (err instanceof ConnectError) {
    if (err.code === Code.DeadlineExceeded) return 'the status read timed out';
    if (err.code === Code.Unavailable) return 'a service the status read needs is unavailable';
  }
  return 'the batch workflow did not answer its status query';
}

const isLastKnown = (v: BatchStatusView): boolean => (v as { lastKnownAsOfMs?: number }).lastKnownAsOfMs !== undefined;
/** Members done either way: the measure of progress that only ever grows for one batch. */
const doneOf = (v: BatchStatusView): number => v.counters.completed + v.counters.failed + v.counters.cancelled;

/**
 * Whether a non-final `next` may replace the view the stream last took: it is further on, or level with it and not a
 * last-known answer replacing a live one (at equal progress the live view's status — PAUSED, WAITING — is the fresher).
 */
function isAheadOrLevel(next: BatchStatusView, view: BatchStatusView): boolean {
  const d = doneOf(next) - doneOf(view);
  if (d !== 0) return d > 0;
  return !(isLastKnown(next) && !isLastKnown(view));
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
