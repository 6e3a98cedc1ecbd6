import { create } from '@bufbuild/protobuf';
import { timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import type { BatchDurableProgress, BatchDurableProgressReader } from '../../activities/batch/ports';
import { SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { isTerminalStatus, type BatchCounters, type BatchStatusName } from '../../lib/batch/types';
import { validateSubmitBatch } from '../../lib/batch/submit-validation';
import { parseBatchId, type BatchStatusView } from '../../workflows/batch.defs';
import { RteBatchProgress, RteBatchStartedAt, RteBatchStatus } from '../../workflows/search-attributes';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../interceptors';
import { within } from '../../lib/within';
import { boundedTemporalCall } from '../../lib/temporal/bounded-wait';

/**
 * Issue 12: GetBatchStatus when the batch's workflow cannot be asked.
 *
 * A status query needs a worker: with none polling, Temporal holds it ~30 s; with Temporal down the client
 * retries. The live answer gets `liveBudgetMs` (a gRPC deadline on the describe + query); past that, or when
 * Temporal is unreachable, the answer is built within `fallbackBudgetMs` from what is durable without the
 * workflow — Temporal visibility (search attributes RteBatchStatus / RteBatchProgress / RteBatchStartedAt, memo
 * `options` / `submittedAtMs`, start and close time) and the PostgreSQL outcome store (members with an outcome,
 * size of the staged id list) — and marked last-known (`last_known`, `as_of`). If neither can be read, the answer
 * is `unavailable` with a retry hint. Total ≤ liveBudgetMs + fallbackBudgetMs (default 2.5 + 1.5 s < 5 s).
 */
export type LastKnownView = BatchStatusView & {
  /** Set only on a view read from durable state: the newest durable record it is built from. */
  lastKnownAsOfMs?: number;
};

export interface StatusFallbackDeps {
  client: Pick<Client, 'withDeadline' | 'workflow'>;
  /** The PostgreSQL side of the durable state; absent: visibility only. */
  progress?: BatchDurableProgressReader;
  liveBudgetMs?: number;
  fallbackBudgetMs?: number;
  now?: () => number;
  /** Told when an answer was served last-known (logs, metrics). */
  onFallback?: (batchId: string, source: 'visibility' | 'postgres', cause: unknown) => void;
}

export const DEFAULT_LIVE_BUDGET_MS = 2_500;
export const DEFAULT_FALLBACK_BUDGET_MS = 1_500;

/** The GetBatchStatusResponse fields of a last-known answer (none for a live one). */
export function lastKnownFields(view: BatchStatusView): { lastKnown?: boolean; asOf?: Timestamp } {
  const at = (view as LastKnownView).lastKnownAsOfMs;
  return at === undefined ? {} : { lastKnown: true, asOf: timestampFromMs(at) };
}

/** gRPC code of a Temporal client error (ServiceError wraps the grpc status as `cause`). */
function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

const NOT_FOUND = 5;
/** Failures that mean "the workflow could not answer" rather than "the request is wrong". */
function cannotAsk(err: unknown): boolean {
  const code = grpcCode(err);
  if (code !== undefined) return code !== NOT_FOUND && code !== 3 /* INVALID_ARGUMENT */ && code !== 7 /* PERMISSION_DENIED */;
  return err instanceof Error && /\b(UNAVAILABLE|DEADLINE_EXCEEDED)\b|timed? ?out|query/i.test(err.message);
}

function isNotFound(err: unknown): boolean {
  return grpcCode(err) === NOT_FOUND || (err instanceof Error && err.name === 'WorkflowNotFoundError');
}


const DEFAULT_OPTIONS: BatchStatusView['options'] = validateSubmitBatch(
  create(SubmitBatchRequestSchema, { clientJobId: 'defaults', memberSelector: { case: 'memberIds', value: { memberIds: ['m'] } } }),
).options;

const STATUS_NAMES: ReadonlySet<string> = new Set(['PENDING', 'RUNNING', 'WAITING', 'PAUSED', 'COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'CANCELLED']);

/** Counts in RteBatchProgress (lib/batch/details.ts): "12 / 60 done · 2 failed …", "starting · 60 members". */
export function parseProgressText(text: string | undefined): { done?: number; total?: number; failed?: number } {
  if (!text) return {};
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s.replace(/,/g, '')));
  const done = /([\d,]+) \/ ([\d,]+) done(?: · ([\d,]+) failed)?/.exec(text);
  if (done) return { done: num(done[1]), total: num(done[2]), failed: num(done[3]) ?? 0 };
  const members = /([\d,]+) members/.exec(text);
  return members ? { total: num(members[1]) } : {};
}

/**
 * Who paused a PAUSED batch, from its RteBatchProgress text ("paused by svc-ops · 12 / 60 done · …",
 * lib/batch/details.ts); undefined when the text names nobody (a pause that did not say).
 */
export function pausedByFromProgressText(text: string | undefined): string | undefined {
  const m = text ? /^paused by (.+?) · /.exec(text) : null;
  return m ? m[1] : undefined;
}

/**
 * Why a finished batch ended, from the RteBatchProgress text it wrote at the end ("FAILED · 3 / 60 done · 3 failed ·
 * TIMEOUT: the batch timed out after 60 s", lib/batch/details.ts; the message is cut at 120 characters there).
 */
export function failureFromProgressText(text: string | undefined): { code: string; message: string } | undefined {
  const m = text ? /^(?:FAILED|CANCELLED|PARTIALLY_COMPLETED) · .*? done(?: · [\d,]+ failed)?(?: · [\d,]+ cancelled)? · ([A-Za-z][A-Za-z0-9_]*): (.*)$/s.exec(text) : null;
  return m ? { code: m[1]!, message: m[2]! } : undefined;
}

function counters(total: number, completed: number, failed: number): BatchCounters {
  return { total, completed, failed, cancelled: 0, cacheHits: 0, cacheMisses: 0, stediRealtimeCalls: 0, stediBatchItems: 0, stediBatches: 0, durationMsSum: 0, durationCount: 0 };
}

function viewOf(
  batchId: string,
  f: { status: BatchStatusName; total: number; completed: number; failed: number; totalKnown: boolean; submittedAtMs: number; startedAtMs?: number; finishedAtMs?: number; options?: BatchStatusView['options']; asOfMs: number; pausedBy?: string; failure?: { code: string; message: string } },
): LastKnownView {
  const parsed = parseBatchId(batchId);
  const done = f.completed + f.failed;
  return {
    batchId,
    clientService: parsed?.clientService ?? '',
    clientJobId: parsed?.clientJobId ?? '',
    status: f.status,
    phase: isTerminalStatus(f.status) ? 'DONE' : f.status === 'PENDING' ? 'RESOLVING' : 'RUNNING',
    paused: f.status === 'PAUSED',
    ...(f.status === 'PAUSED' && f.pausedBy ? { pausedBy: f.pausedBy } : {}),
    counters: counters(f.total, f.completed, f.failed),
    pending: Math.max(0, f.total - done),
    percentDone: f.total > 0 ? Math.min(100, (100 * done) / f.total) : 0,
    submittedAtMs: f.submittedAtMs,
    ...(f.startedAtMs !== undefined ? { startedAtMs: f.startedAtMs } : {}),
    ...(f.finishedAtMs !== undefined ? { finishedAtMs: f.finishedAtMs } : {}),
    options: f.options ?? DEFAULT_OPTIONS,
    recentErrors: [],
    totalErrors: f.failed,
    ...(f.failure ? { failure: f.failure } : {}),
    totalKnown: f.totalKnown,
    lastKnownAsOfMs: f.asOfMs,
  };
}

/** Last-known view from Temporal visibility (describe) and, when readable, PostgreSQL. Exported for tests. */
export function fromVisibility(batchId: string, desc: Pick<WorkflowExecutionDescription, 'status' | 'startTime' | 'closeTime' | 'memo' | 'typedSearchAttributes'>, pg: BatchDurableProgress | undefined): LastKnownView {
  const sa = desc.typedSearchAttributes;
  const shown = sa.get(RteBatchStatus);
  const progressText = sa.get(RteBatchProgress);
  const text = parseProgressText(progressText);
  const startedAt = sa.get(RteBatchStartedAt);
  const closed = desc.status.name !== 'RUNNING' && desc.status.name !== 'CONTINUED_AS_NEW';
  let status: BatchStatusName = shown && STATUS_NAMES.has(shown) ? (shown as BatchStatusName) : 'PENDING';
  // Why it ended: the workflow's own words (its last progress text), else how Temporal closed it. Without this a
  // last-known FAILED answer would fall back to "no member succeeded", which is not why a terminated batch failed.
  let failure = isTerminalStatus(status) ? failureFromProgressText(progressText) : undefined;
  // Closed at the Temporal level without the workflow's own terminal status (terminated, timed out): FAILED.
  if (closed && !isTerminalStatus(status)) {
    status = 'FAILED';
    failure = { code: `WORKFLOW_${desc.status.name}`, message: `the batch workflow ended ${desc.status.name.toLowerCase()}` };
  }
  const completed = pg ? pg.completed : Math.max(0, (text.done ?? 0) - (text.failed ?? 0));
  const failed = pg ? pg.failed : (text.failed ?? 0);
  const total = Math.max(text.total ?? 0, pg?.listed ?? 0, completed + failed);
  const memo = desc.memo ?? {};
  const submittedAtMs = typeof memo['submittedAtMs'] === 'number' ? memo['submittedAtMs'] : desc.startTime.getTime();
  const closeMs = closed && desc.closeTime ? desc.closeTime.getTime() : undefined;
  const asOfMs = Math.max(submittedAtMs, startedAt?.getTime() ?? 0, closeMs ?? 0, pg?.lastOutcomeAtMs ?? 0);
  return viewOf(batchId, {
    status,
    total,
    completed,
    failed,
    totalKnown: text.total !== undefined || pg?.listed !== undefined,
    submittedAtMs,
    ...(startedAt ? { startedAtMs: startedAt.getTime() } : {}),
    ...(closeMs !== undefined ? { finishedAtMs: closeMs } : {}),
    ...(memo['options'] ? { options: memo['options'] as BatchStatusView['options'] } : {}),
    asOfMs,
    // The pause's `by` is in the progress text the batch wrote when it turned PAUSED (no extra search attribute).
    ...(status === 'PAUSED' && pausedByFromProgressText(progressText) ? { pausedBy: pausedByFromProgressText(progressText)! } : {}),
    ...(failure ? { failure } : {}),
  });
}

/**
 * Last-known view from PostgreSQL alone (Temporal unreachable). The status is what the outcomes imply: every
 * listed member has an outcome → COMPLETED / PARTIALLY_COMPLETED; some → RUNNING; none → PENDING.
 */
export function fromProgress(batchId: string, pg: BatchDurableProgress): LastKnownView {
  const done = pg.completed + pg.failed;
  const total = Math.max(pg.listed ?? 0, done);
  const allDone = pg.listed !== undefined && done >= pg.listed;
  const status: BatchStatusName = allDone ? (pg.failed > 0 ? 'PARTIALLY_COMPLETED' : 'COMPLETED') : done > 0 ? 'RUNNING' : 'PENDING';
  const submittedAtMs = pg.listedAtMs ?? pg.firstOutcomeAtMs ?? 0;
  return viewOf(batchId, {
    status,
    total,
    completed: pg.completed,
    failed: pg.failed,
    totalKnown: pg.listed !== undefined,
    submittedAtMs,
    ...(pg.firstOutcomeAtMs !== undefined ? { startedAtMs: pg.firstOutcomeAtMs } : {}),
    ...(allDone && pg.lastOutcomeAtMs !== undefined ? { finishedAtMs: pg.lastOutcomeAtMs } : {}),
    asOfMs: pg.lastOutcomeAtMs ?? submittedAtMs,
  });
}

/**
 * Wraps a batch port so `status()` answers within liveBudgetMs + fallbackBudgetMs: live when the workflow
 * answers in time, else last-known from durable state, else `unavailable` with retry-after.
 */
export function withStatusFallback<P extends { status(batchId: string): Promise<BatchStatusView | undefined> }>(port: P, deps: StatusFallbackDeps): P {
  const now = deps.now ?? Date.now;
  const liveMs = deps.liveBudgetMs ?? DEFAULT_LIVE_BUDGET_MS;
  const fallbackMs = deps.fallbackBudgetMs ?? DEFAULT_FALLBACK_BUDGET_MS;

  async function lastKnown(batchId: string, cause: unknown): Promise<LastKnownView | undefined> {
    const [d, pg] = await Promise.allSettled([
      boundedTemporalCall(deps.client, fallbackMs, () => deps.client.workflow.getHandle(batchId).describe(), now),
      deps.progress ? within(fallbackMs, deps.progress.read(batchId)) : Promise.resolve(undefined),
    ]);
    const progress = pg.status === 'fulfilled' ? pg.value : undefined;
    if (d.status === 'fulfilled') {
      deps.onFallback?.(batchId, 'visibility', cause);
      return fromVisibility(batchId, d.value, progress);
    }
    // Temporal answered that the batch does not exist: not found, whatever PostgreSQL holds.
    if (isNotFound(d.reason)) return undefined;
    if (progress) {
      deps.onFallback?.(batchId, 'postgres', cause);
      return fromProgress(batchId, progress);
    }
    throw new ConnectError(
      `batch ${batchId}: its workflow cannot be asked (Temporal unreachable or no worker answering) and no durable state could be read; retry after ${UNAVAILABLE_RETRY_AFTER_SECONDS} s`,
      Code.Unavailable,
      { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      undefined,
      cause,
    );
  }

  return {
    ...port,
    async status(batchId: string): Promise<BatchStatusView | undefined> {
      let cause: unknown;
      try {
        return await boundedTemporalCall(deps.client, liveMs, () => port.status(batchId), now);
      } catch (err) {
        if (!cannotAsk(err)) throw err;
        cause = err;
      }
      return lastKnown(batchId, cause);
    },
  };
}
