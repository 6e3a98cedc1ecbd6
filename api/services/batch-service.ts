import { create, toJson } from '@bufbuild/protobuf';
import { timestampFromMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { randomBytes } from 'node:crypto';
import {
  BatchStatus,
  BatchSummarySchema,
  CancelBatchResponseSchema,
  PauseBatchResponseSchema,
  ResumeBatchResponseSchema,
  GetBatchStatusResponseSchema,
  ListBatchesResponseSchema,
  SubmitBatchResponseSchema,
  WatchBatchRequestSchema,
  type BatchEligibilityService,
  type BatchSummary,
  type SubmitBatchRequest,
  type SubmitBatchResponse,
  type WebhookDeliveries,
  WebhookDeliveriesSchema,
} from '../../gen/rte/v1/batch_pb';
import type { Logger } from 'pino';
import { MemberQuerySchema, type MemberQuery } from '../../gen/rte/v1/member_query_pb';
import type { BatchErrorStore, BatchOutcomeStore, MemberListStore, StoredBatchError } from '../../activities/batch/ports';
import { emptyCounters, isTerminalStatus, type ExecutionPath, type RequestedStrategy, type ResolvedBatchOptions } from '../../lib/batch/types';
import { batchDetails } from '../../lib/batch/details';
import { optionsToProto, PATH_TO_PROTO, PRIORITY_TO_PROTO, PROTO_TO_STATUS, progressToProto, STATUS_TO_PROTO, STRATEGY_TO_PROTO, tsOrUndefined } from '../../lib/batch/proto-mapping';
import { CLIENT_JOB_ID_PATTERN, CLIENT_SERVICE_PATTERN, DEFAULT_SUBMIT_LIMITS, validateSubmitBatch, type SubmitLimits } from '../../lib/batch/submit-validation';
import type { SubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';
import { FieldError } from '../../lib/errors';
import { batchFailureOf } from '../../lib/batch/member-failure';
import { sameSubmitRequest, submitRequestHash, type SubmitSelector } from '../../lib/batch/request-hash';
import { createPageTokenCodec } from '../../lib/page-token';
import { BATCH_WORKFLOW_TYPE, batchWorkflowId, parseBatchId, type BatchStatusView, type BatchTuning, type BatchWorkflowInput } from '../../workflows/batch.defs';
import { actingService, requirePrincipal, Scope, type Principal } from '../auth';
import { lastKnownFields, type LastKnownView } from './batch-status-fallback';

// The Temporal adapter and the status stream live beside this file; re-exported so existing imports keep working.
export { createTemporalBatchPort, type BatchListItem, type BatchTemporalPort } from './batch-temporal-port';
import { BatchNotStartedError, CancelNotAppliedError, type BatchTemporalPort } from './batch-temporal-port';
import { batchStatusStream } from './batch-status-stream';
import { errorChainText, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../interceptors';

// ---- the service ----------------------------------------------------------------------------------------------

export interface BatchServiceDeps {
  temporal: BatchTemporalPort;
  /** Where submitted member ids are staged (PostgreSQL in production). */
  lists: Pick<MemberListStore, 'write' | 'read' | 'readAt' | 'delete'>;
  errors: Pick<BatchErrorStore, 'page'>;
  /** Per-member outcomes for WatchBatchStatus's MEMBER_COMPLETED updates; absent: none are streamed. */
  outcomes?: Pick<BatchOutcomeStore, 'read'>;
  rateLimiter: SubmitRateLimiter;
  /** Task queue of the batch workflow (the main worker queue). */
  taskQueue: string;
  limits?: SubmitLimits;
  /** Workflow tuning passed to every batch (tests compress time with it). */
  tuning?: Partial<BatchTuning>;
  now?: () => number;
  /** WatchBatchStatus: how often the workflow is queried and how often a keepalive goes out. */
  watch?: { pollIntervalMs: number; keepaliveMs: number; unaskableLimitMs?: number };
  /** Real-time check latency used for estimates (ms). Default 13,500. */
  realtimeLatencyMs?: number;
  /**
   * Compiles a member_query the way the directory will run it (FieldError naming the field when it cannot), so a
   * bad query is refused at submit instead of failing the batch later. Absent: only the proto-level checks run.
   */
  checkMemberQuery?: (query: MemberQuery) => Promise<void>;
  /**
   * Whether webhooks to this client service can be signed. A callback_url for a service without a secret is
   * refused at submit (failed_precondition) instead of every delivery being refused later. Absent: not checked.
   */
  canSignWebhooks?: (clientService: string) => boolean;
  /** Server secret page tokens are signed with (shared by every API replica). Absent: a per-process random one. */
  pageTokenSecret?: string;
  /** Warnings that do not fail a call (e.g. webhook deliveries unreadable); absent: not logged. */
  logger?: Pick<Logger, 'warn'>;
}

const ERRORS_PAGE_DEFAULT = 100;
/** How long GetBatchStatus waits for a batch's webhook deliveries from Temporal visibility. */
const WEBHOOK_DELIVERIES_WAIT_MS = 2_000;
const ERRORS_PAGE_MAX = 1000;
const LIST_PAGE_DEFAULT = 50;
const LIST_PAGE_MAX = 200;

// The request hash (SubmitBatch idempotency) lives in lib/batch/request-hash.ts; re-exported for existing imports.
export { submitRequestHash } from '../../lib/batch/request-hash';

function listRefFor(batchId: string): string {
  // One list per submit call, under the batch's prefix: a call that turns out to have joined a batch another call
  // started (concurrent submits of one job) deletes its own list without touching the one the batch reads.
  return `${batchId}#${randomBytes(8).toString('hex')}`;
}

/** protobuf's Timestamp range (0001-01-01 … 9999-12-31, as its JSON form allows), in seconds since the epoch. */
const TIMESTAMP_MIN_S = -62_135_596_800n;
const TIMESTAMP_MAX_S = 253_402_300_799n;

/** A ListBatches time bound as an ISO string, or a FieldError naming it (a binary client can send any seconds/nanos). */
function listTime(t: Timestamp | undefined, field: string): string | undefined {
  if (!t) return undefined;
  if (t.seconds < TIMESTAMP_MIN_S || t.seconds > TIMESTAMP_MAX_S) throw new FieldError(field, 'timestamp out of range (0001-01-01 to 9999-12-31)');
  if (!Number.isInteger(t.nanos) || t.nanos < 0 || t.nanos > 999_999_999) throw new FieldError(field, 'invalid timestamp: nanos must be 0 to 999,999,999');
  // Milliseconds rounded down (timestampDate rounds 9999-12-31T23:59:59.999999999 up into year 10000).
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1_000_000)).toISOString();
}

function pageSize(requested: number, dflt: number, max: number, field: string): number {
  if (!Number.isInteger(requested) || requested < 0) throw new FieldError(field, 'must not be negative');
  return requested === 0 ? dflt : Math.min(requested, max);
}

/** A caller sees its own service's batches; rte:admin sees all. Unknown and foreign batches look the same. */
function authorizeBatch(p: Principal, view: BatchStatusView | undefined, batchId: string): BatchStatusView {
  if (!view || (view.clientService !== p.service && !p.scopes.has(Scope.Admin))) {
    throw new ConnectError(`batch ${batchId} not found`, Code.NotFound);
  }
  return view;
}

/**
 * Whether a batch is paused now. A batch cancelled (or timed out) while paused keeps `paused` in its final view; it is
 * finished, not paused: nothing to resume, and nobody "paused" it any more (paused_by is for PAUSED batches).
 */
function pausedNow(view: BatchStatusView): boolean {
  return view.paused && !isTerminalStatus(view.status);
}

/**
 * How long SubmitBatch waits for a new batch's own answer (its batchAccepted update), from the call's arrival. The
 * batch answers within 15 s of its first workflow task (its own timer); the extra second lets that answer win when
 * the task runs at once. After it, a describe (ACCEPT_LOOKUP_MS) says whether the batch exists: ≤ 17 s in all.
 */
export const ACCEPT_WAIT_MS = 16_000;
/** The strategy a client names to ask for the path an OPTIMAL batch took (what resolved_options reports). */
const STRATEGY_OF_PATH: Record<ExecutionPath, RequestedStrategy> = { REALTIME: 'REALTIME_ONLY', BATCH_API: 'BATCH_ONLY' };
/**
 * The same for a repeat of an existing batch: shorter, as the batch's status (live 2.5 s, else last known 1.5 s:
 * batch-status-fallback.ts) answers after it, so a repeat too answers within 17 s of its arrival.
 */
export const REPEAT_ACCEPT_WAIT_MS = 12_000;
const LAST_KNOWN_DETAIL = 'last known state (the batch did not answer in time; the platform is busy): follow it with WatchBatchStatus or GetBatchStatus';

/** status_detail of a batch accepted but not yet taken up by a worker (its workflow has not run). */
export function unansweredDetail(knownTotal: number | undefined): string {
  const members = knownTotal === undefined ? 'member query not yet resolved' : `${knownTotal.toLocaleString('en-US')} member${knownTotal === 1 ? '' : 's'}`;
  return `accepted · ${members} · waiting for a worker to start it (the platform is busy): follow it with WatchBatchStatus or GetBatchStatus`;
}

/**
 * How long CancelBatch waits for the batch to apply the cancel, from the call's arrival (the status read before it
 * included). After it the durable cancel signal is sent (≤ 2 s) and the answer is deadline_exceeded "requested, not
 * yet applied": ≤ ~12 s in all.
 */
export const CANCEL_WAIT_MS = 10_000;

/** deadline_exceeded's message for a cancel the batch has (durably) but has not applied within CANCEL_WAIT_MS. */
export function cancelNotAppliedMessage(batchId: string, before: BatchStatusView): string {
  return (
    `cancel requested, not yet applied: batch ${batchId} has the cancel but did not apply it within ${CANCEL_WAIT_MS / 1000} s ` +
    `(the platform is busy; it was ${before.status} when asked); it ends CANCELLED when a worker runs it. ` +
    `Follow it with GetBatchStatus or WatchBatchStatus; retrying CancelBatch is safe (a batch applies one cancel)`
  );
}

/** Longest reason a pause or resume may carry (the same bound as a cancel's). */
const MAX_PAUSE_REASON_LENGTH = 500;
/** How long PauseBatch / ResumeBatch wait for the batch to show the change before saying it has not yet. */
const PAUSE_APPLIED_TIMEOUT_MS = 10_000;

function requireReason(reason: string): void {
  if (reason.length > MAX_PAUSE_REASON_LENGTH) throw new FieldError('reason', `at most ${MAX_PAUSE_REASON_LENGTH} characters`);
}

/**
 * A batch id SubmitBatch could have returned: `batch/<service>/<job>`, each part as SubmitBatch validates it (1-128 of
 * letters, digits and . _ : @ -). Anything else names no batch that can exist: invalid_argument naming batch_id, not
 * not_found (probe p16 #11e: a 300-character job part was not_found).
 */
function requireBatchId(batchId: string): void {
  const parsed = parseBatchId(batchId);
  if (!parsed) throw new FieldError('batch_id', 'must be a batch id as returned by SubmitBatch (batch/<service>/<job>)');
  if (!CLIENT_SERVICE_PATTERN.test(parsed.clientService)) throw new FieldError('batch_id', 'malformed: its service part must be 1-128 letters, digits or . _ : @ - (batch/<service>/<job>, as SubmitBatch returned it)');
  if (!CLIENT_JOB_ID_PATTERN.test(parsed.clientJobId)) throw new FieldError('batch_id', 'malformed: its job part (the client_job_id) must be 1-128 letters, digits or . _ : @ - (batch/<service>/<job>, as SubmitBatch returned it)');
}

/**
 * The options an earlier release resolved for this request, when they differ from today's: a request with a
 * `notifications` message, a callback URL and no delivery_mode resolved to BEST_EFFORT before probe p16 #10 (now
 * AT_LEAST_ONCE). Undefined otherwise.
 */
export function unsetModeBeforeP16(req: SubmitBatchRequest, options: ResolvedBatchOptions): ResolvedBatchOptions | undefined {
  const n = req.options?.notifications;
  if (!n || n.deliveryMode !== undefined || !options.notifications.callbackUrl) return undefined;
  return { ...options, notifications: { ...options.notifications, deliveryMode: 'BEST_EFFORT' } };
}

/** A CACHE_ONLY batch makes no Stedi call: it reads the cache, ~1 s per 1,000 members at most. */
const CACHE_ONLY_MS_PER_MEMBER = 1;

function estimateMs(view: BatchStatusView, now: number, latencyMs: number): number {
  // A finished batch's estimate is when it finished: it never moves past finishedAt.
  if (view.finishedAtMs !== undefined) return view.finishedAtMs;
  if (view.estimatedCompletionMs !== undefined) return view.estimatedCompletionMs;
  const start = Math.max(now, view.scheduledStartMs ?? now);
  // A query that selected nobody: there is nothing to do (it finishes at once), not an hour of Stedi batch API.
  if (view.totalKnown && view.counters.total === 0) return now;
  const o = view.options;
  if (o.cacheMode === 'CACHE_ONLY') return start + Math.max(1_000, view.counters.total * CACHE_ONLY_MS_PER_MEMBER);
  const realtime = view.path === 'REALTIME' || (view.path === undefined && o.strategy === 'REALTIME_ONLY');
  if (realtime) return start + Math.ceil(view.counters.total / Math.max(1, o.maxConcurrentRequests)) * latencyMs;
  // Stedi batch API: "15 minutes - 8 hours"; most batches finish within the hour.
  return start + Math.min(o.timeoutMs, 3_600_000);
}

/** Why a finished batch did not complete (a FAILED batch whose members all failed says so too): lib/batch/member-failure.ts. */
const failureOf = (view: { status: string; failure?: { code: string; message: string }; counters: { failed: number; cancelled: number } }) =>
  batchFailureOf(view.status, view.failure, view.counters);

/**
 * GetBatchStatus's estimate. Finished: the finish time (it must not keep moving). PAUSED: none (nothing moves until
 * resumed). Waiting for a window: when the window opens plus the remaining members' time, never the stale estimate of
 * the members done before. Otherwise the workflow's running estimate (from its own member durations) or, before any
 * member finished, the path's estimate from now; never in the past, and never past the batch's own deadline.
 */
function liveEstimateMs(view: BatchStatusView, now: number, latencyMs: number): number | undefined {
  if (view.finishedAtMs !== undefined) return view.finishedAtMs;
  if (view.status === 'PAUSED') return undefined;
  const remaining: BatchStatusView = { ...view, estimatedCompletionMs: undefined, counters: { ...view.counters, total: view.pending } };
  let eta: number | undefined;
  if (view.waitingUntilMs !== undefined) eta = estimateMs({ ...remaining, scheduledStartMs: view.waitingUntilMs }, now, latencyMs);
  // Stedi batch-API chunks answer all at once ("15 minutes - 8 hours"): members finished before (cache hits, refusals)
  // say nothing about when; most chunks are back within the hour of the start.
  else if (view.path === 'BATCH_API' && (view.chunksInFlight ?? 0) > 0) eta = Math.max(view.estimatedCompletionMs ?? 0, (view.startedAtMs ?? now) + Math.min(view.options.timeoutMs, 3_600_000));
  else if (view.options.cacheMode === 'CACHE_ONLY' && view.estimatedCompletionMs === undefined) eta = estimateMs(view, now, latencyMs);
  else if (view.estimatedCompletionMs !== undefined) eta = view.estimatedCompletionMs;
  else if (view.status === 'PENDING' || (view.status === 'RUNNING' && view.path === 'BATCH_API')) eta = estimateMs(remaining, now, latencyMs);
  if (eta === undefined) return undefined;
  eta = Math.max(eta, now);
  const deadline = view.startedAtMs !== undefined ? view.startedAtMs + view.options.timeoutMs : undefined;
  return deadline !== undefined && deadline >= now ? Math.min(eta, deadline) : eta;
}

function statusResponseFields(view: BatchStatusView, now: number, latencyMs: number) {
  const estimate = liveEstimateMs(view, now, latencyMs);
  return {
    statusDetail: batchDetails(
      {
        status: view.status,
        counters: view.counters,
        totalKnown: view.totalKnown,
        ...(view.path ? { path: view.path } : {}),
        maxConcurrentRequests: view.options.maxConcurrentRequests,
        window: view.options.schedulingWindow,
        chunksInFlight: view.chunksInFlight ?? 0,
        ...(estimate !== undefined && view.finishedAtMs === undefined ? { estimatedCompletionMs: estimate } : {}),
        ...(view.waitingUntilMs !== undefined ? { waitingUntilMs: view.waitingUntilMs } : {}),
        ...(view.deferredByLoad ? { deferredByLoad: true } : {}),
        ...(failureOf(view) ? { failure: failureOf(view)! } : {}),
        ...(view.pausedBy ? { pausedBy: view.pausedBy } : {}),
      },
      now,
      // API clients resume with ResumeBatch / rtectl, not the workflow's signal (probe p16 #11i).
      'client',
    ),
    // Only while it waits (PENDING, WAITING): a PAUSED batch keeps the workflow's waitingUntil, but nothing is due
    // then until someone resumes it (probe p18 F3), and a finished one has nothing left to be due.
    waitingUntil: tsOrUndefined(view.finishedAtMs === undefined && !isTerminalStatus(view.status) && view.status !== 'PAUSED' ? view.waitingUntilMs : undefined),
    batchId: view.batchId,
    status: STATUS_TO_PROTO[view.status],
    progress: progressToProto(view.counters, view.startedAtMs, now, estimate, view.status),
    clientServiceName: view.clientService,
    clientJobId: view.clientJobId,
    submittedAt: timestampFromMs(view.submittedAtMs),
    finishedAt: tsOrUndefined(view.finishedAtMs),
    resolvedOptions: optionsToProto(view.options, view.path as ExecutionPath | undefined),
    // A FAILED batch says why (the same code and message as the stream's, Kafka's and the webhook's FAILED event).
    ...(failureOf(view) && isTerminalStatus(view.status) && view.status !== 'COMPLETED' ? { failureCode: failureOf(view)!.code, failureMessage: failureOf(view)!.message } : {}),
  };
}

/** The batch RPCs over Temporal (workflows, queries, updates, visibility) and the PostgreSQL stores. */
export function createBatchService(deps: BatchServiceDeps): ServiceImpl<typeof BatchEligibilityService> {
  const limits = deps.limits ?? DEFAULT_SUBMIT_LIMITS;
  const now = deps.now ?? Date.now;
  const watch = deps.watch ?? { pollIntervalMs: 1_000, keepaliveMs: 30_000 };
  const onPollError = (batchId: string, err: unknown) =>
    deps.logger?.warn({ batchId, err: errorChainText(err) }, 'WatchBatchStatus: the batch status could not be read; the stream keeps its last view and polls again');
  const latencyMs = deps.realtimeLatencyMs ?? 13_500;
  const tokens = createPageTokenCodec(deps.pageTokenSecret ?? randomBytes(32).toString('hex'));

  async function viewFor(ctx: HandlerContext, batchId: string): Promise<BatchStatusView> {
    requireBatchId(batchId);
    const p = requirePrincipal(ctx.values);
    // Cheap pre-check from the id itself, so foreign batches are not even queried.
    const parsed = parseBatchId(batchId)!;
    if (parsed.clientService !== p.service && !p.scopes.has(Scope.Admin)) throw new ConnectError(`batch ${batchId} not found`, Code.NotFound);
    return authorizeBatch(p, await deps.temporal.status(batchId), batchId);
  }

  /**
   * A pause or resume is a signal the batch applies on its next workflow task: wait (briefly) until its status shows
   * it, so the answer never reports a change that has not happened. The signal is durable; if the batch is slow to
   * show it, the caller is told so (deadline_exceeded) instead of being told it worked.
   */
  async function appliedWithin(batchId: string, what: string, done: (v: BatchStatusView) => boolean): Promise<BatchStatusView> {
    const until = Date.now() + PAUSE_APPLIED_TIMEOUT_MS;
    for (;;) {
      const v = await deps.temporal.status(batchId);
      if (v && done(v)) return v;
      if (Date.now() >= until) {
        throw new ConnectError(`batch ${batchId} has the request but has not reported ${what} within ${PAUSE_APPLIED_TIMEOUT_MS / 1000} s; check GetBatchStatus`, Code.DeadlineExceeded);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Sends a pause/resume signal; a batch that finished between the check and the signal (the signal then fails: no
   * open workflow) is failed_precondition with its status, as if it had finished before, not an internal error.
   */
  async function finishedMeanwhile(batchId: string, what: string, send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (err) {
      const v = await deps.temporal.status(batchId).catch(() => undefined);
      if (v && isTerminalStatus(v.status)) throw new ConnectError(`batch ${batchId} is ${v.status}; only an open batch can be ${what}`, Code.FailedPrecondition);
      throw err;
    }
  }

  /**
   * The error store is written when a page of members is done, which can be hours later for a batch waiting for the
   * window of its other members; the workflow knows its newest errors (by list index) at once. Those that belong on
   * this page and are not stored yet are added, their member ids read from the batch's member list, so a failure the
   * counters show is also listed.
   */
  async function withRecentErrors(view: BatchStatusView, stored: StoredBatchError[], after: number, size: number): Promise<StoredBatchError[]> {
    if (!view.listRef || view.recentErrors.length === 0) return stored;
    const have = new Set(stored.map((e) => e.memberIndex));
    const bound = stored.length === size ? stored[stored.length - 1]!.memberIndex : Number.POSITIVE_INFINITY;
    const missing = view.recentErrors.filter((e) => e.memberIndex > after && e.memberIndex < bound && !have.has(e.memberIndex));
    if (missing.length === 0) return stored;
    // One read for all of them (up to the workflow's recent-error window); unreadable ids leave them out, as before.
    const ids = await deps.lists.readAt(view.listRef, missing.map((e) => e.memberIndex)).catch(() => new Map<number, string>());
    const added = missing.flatMap((e) => {
      const memberId = ids.get(e.memberIndex);
      return memberId === undefined ? [] : [{ ...e, memberId }];
    });
    return [...stored, ...added].sort((a, b) => a.memberIndex - b.memberIndex).slice(0, size);
  }

  /**
   * A batch with a callback_url: how its webhooks fared, so a client sees a refused or undelivered callback itself.
   * Visibility that cannot be read leaves the field unset (unknown), never zeros, and never fails the status.
   */
  async function webhookDeliveriesOf(view: BatchStatusView): Promise<WebhookDeliveries | undefined> {
    if (!view.options.notifications.callbackUrl || !deps.temporal.webhookDeliveries) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // Bounded: GetBatchStatus keeps its 5 s promise when visibility is slow (the field is then unset).
      const w = await Promise.race([
        deps.temporal.webhookDeliveries(view.batchId),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), WEBHOOK_DELIVERIES_WAIT_MS);
        }),
      ]);
      if (!w) return undefined;
      return create(WebhookDeliveriesSchema, {
        delivered: w.delivered,
        pending: w.pending,
        failed: w.failed,
        ...(w.lastFailure ? { lastFailure: w.lastFailure.message, lastFailureAt: timestampFromMs(w.lastFailure.atMs) } : {}),
        retrying: w.retrying ?? 0,
        ...(w.lastAttempt
          ? {
              lastAttemptError: w.lastAttempt.error,
              lastAttemptAt: timestampFromMs(w.lastAttempt.atMs),
              ...(w.lastAttempt.nextAtMs !== undefined ? { nextAttemptAt: timestampFromMs(w.lastAttempt.nextAtMs) } : {}),
            }
          : {}),
      });
    } catch (err) {
      deps.logger?.warn({ err, batchId: view.batchId }, 'GetBatchStatus: webhook deliveries could not be read from Temporal visibility');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  const service: ServiceImpl<typeof BatchEligibilityService> = {
    async submitBatch(req, ctx) {
      // SubmitBatch's own bound (docs/batch.md): the batch's answer is awaited until ACCEPT_WAIT_MS after the call
      // arrived. The batch's 15 s timer starts when its first workflow task runs, normally a moment after the start,
      // so without a backlog the batch's own answer comes first; with one, that timer never starts (probe p15).
      // Wall-clock on purpose, not deps.now: the bound becomes a gRPC deadline, which is wall-clock.
      const arrivedAt = Date.now();
      const p = requirePrincipal(ctx.values);
      const v = validateSubmitBatch(req, limits);
      const clientService = actingService(p, req.clientServiceName, 'client_service_name');
      const batchId = batchWorkflowId(clientService, v.clientJobId);
      const callback = v.options.notifications.callbackUrl;
      if (callback && deps.canSignWebhooks && !deps.canSignWebhooks(clientService)) {
        throw new ConnectError(
          `options.callback_url: no webhook signing secret is configured for client service ${clientService}; the operator must add "${clientService}=whsec_…" to WEBHOOK_SECRETS (API and worker) before callbacks can be delivered`,
          Code.FailedPrecondition,
        );
      }
      // Every member_query is compiled before acceptance: a query the directory would refuse is invalid_argument
      // now, not a FAILED batch minutes later (and costs nothing from the rate limit).
      const queryJson = req.memberSelector.case === 'memberQuery' ? toJson(MemberQuerySchema, req.memberSelector.value) : undefined;
      if (req.memberSelector.case === 'memberQuery' && deps.checkMemberQuery) await deps.checkMemberQuery(req.memberSelector.value);
      const hashSelector: SubmitSelector = v.selector.kind === 'ids' ? { kind: 'ids', memberIds: v.selector.memberIds } : { kind: 'query', query: queryJson };
      const requestHash = submitRequestHash(hashSelector, v.options);
      // A batch started before the canonical query hash carries the older one: either matches (lib/batch/request-hash.ts).
      // Probe p16 #10 changed what an unset delivery_mode under notifications resolves to (BEST_EFFORT → AT_LEAST_ONCE):
      // a retry of a request a batch was started with before that change is still the same request (that batch, with
      // the mode it resolved then), never already_exists.
      const beforeP16 = unsetModeBeforeP16(req, v.options);
      const sameRequest = (stored: string) => sameSubmitRequest(stored, hashSelector, v.options) || (beforeP16 !== undefined && sameSubmitRequest(stored, hashSelector, beforeP16));
      // The batch answers within 15 s (the batchAccepted update's bound): a member_query still resolving then is
      // PENDING with total_known false, the members resolved so far and no estimate (there is nothing to estimate from).
      const respond = (view: BatchStatusView, unanswered?: { detail: string }) => {
        const t = now();
        const lastKnown = (view as LastKnownView).lastKnownAsOfMs !== undefined;
        const detail = statusResponseFields(view, t, latencyMs).statusDetail;
        return create(SubmitBatchResponseSchema, {
          batchId,
          totalMembers: view.counters.total,
          submittedAt: timestampFromMs(view.submittedAtMs),
          // A batch not yet planned (its workflow has not run) has no estimate: its window and path are not chosen yet.
          // A repeat of a PAUSED batch has none either, as in GetBatchStatus: nobody knows when it resumes.
          ...(view.totalKnown && !unanswered && view.status !== 'PAUSED' ? { estimatedCompletion: timestampFromMs(estimateMs(view, t, latencyMs)) } : {}),
          resolvedOptions: optionsToProto(view.options, view.path as ExecutionPath | undefined),
          status: STATUS_TO_PROTO[view.status],
          totalKnown: view.totalKnown,
          statusDetail: unanswered ? unanswered.detail : lastKnown ? `${detail} · ${LAST_KNOWN_DETAIL}` : detail,
        });
      };

      // Idempotency first: a known job answers with its batch and does not count against the rate limit.
      const alreadyUsed = () =>
        new ConnectError(
          `client_job_id ${v.clientJobId} was already used for a different request (batch ${batchId}); resubmit the same request to get that batch, or use a new client_job_id`,
          Code.AlreadyExists,
        );
      if (await deps.temporal.exists(batchId)) {
        const stored = deps.temporal.requestHash ? await deps.temporal.requestHash(batchId) : undefined;
        if (stored !== undefined && !sameRequest(stored)) {
          // resolved_options reports what OPTIMAL decided (REALTIME_ONLY or BATCH_ONLY, lib/batch/proto-mapping.ts).
          // A client that replays the answer's options asks for exactly what the batch does: the same request, not
          // already_exists (probe p18 F14), provided the batch did take that path.
          const decided = v.options.strategy !== 'OPTIMAL' && sameSubmitRequest(stored, hashSelector, { ...v.options, strategy: 'OPTIMAL' });
          const path = decided ? (await deps.temporal.status(batchId))?.path : undefined;
          if (!path || STRATEGY_OF_PATH[path as ExecutionPath] !== v.options.strategy) throw alreadyUsed();
        }
        // A batch that exists may be running: when it does not answer in time, its status (live, else last known from
        // visibility and PostgreSQL, each bounded) answers, never a PENDING made up here.
        const accepted = await deps.temporal.accepted(batchId, arrivedAt + REPEAT_ACCEPT_WAIT_MS);
        const view = accepted ?? (await deps.temporal.status(batchId));
        if (!view) throw new ConnectError(`batch ${batchId} not found`, Code.NotFound);
        return respond(view);
      }

      const rate = await deps.rateLimiter.take(clientService, now());
      if (!rate.allowed) {
        const retryAfterS = Math.max(1, Math.ceil((rate.resetAtMs - now()) / 1000));
        const err = new ConnectError(
          `client service ${clientService} reached ${rate.limit} batch submissions per window; retry after ${retryAfterS} s`,
          Code.ResourceExhausted,
        );
        err.metadata.set('retry-after', String(retryAfterS));
        err.metadata.set('x-ratelimit-limit', String(rate.limit));
        err.metadata.set('x-ratelimit-reset', new Date(rate.resetAtMs).toISOString());
        throw err;
      }
      // What is left in the window, so a client can pace itself before the 429 (probe p18 contract F5). A repeat of a
      // known request spends nothing and carries neither header.
      ctx.responseHeader.set('x-ratelimit-limit', String(rate.limit));
      ctx.responseHeader.set('x-ratelimit-remaining', String(Math.max(0, rate.limit - rate.count)));

      let selector: BatchWorkflowInput['selector'];
      let listRef: string | undefined;
      if (v.selector.kind === 'ids') {
        listRef = listRefFor(batchId);
        await deps.lists.write(listRef, 0, v.selector.memberIds);
        selector = { kind: 'list', listRef, total: v.selector.memberIds.length };
      } else {
        selector = { kind: 'query', query: queryJson };
      }
      const input: BatchWorkflowInput = {
        batchId,
        clientService,
        clientJobId: v.clientJobId,
        submittedAtMs: now(),
        selector,
        options: v.options,
        requestHash,
        ...(deps.tuning ? { tuning: deps.tuning } : {}),
      };
      let started: Awaited<ReturnType<BatchTemporalPort['startAndAccept']>>;
      try {
        started = await deps.temporal.startAndAccept(input, deps.taskQueue, arrivedAt + ACCEPT_WAIT_MS);
      } catch (err) {
        if (!(err instanceof BatchNotStartedError)) throw err;
        // Nothing was started by the bound: the unit goes back (a retry takes its own). The staged list stays: a start
        // Temporal still applies late reads it, and the retry (same client_job_id) then answers with that batch.
        await deps.rateLimiter.release(clientService, rate);
        throw new ConnectError(
          `batch ${batchId} could not be started within ${ACCEPT_WAIT_MS / 1000} s (the platform is busy); retry after ${UNAVAILABLE_RETRY_AFTER_SECONDS} s with the same client_job_id (a retry never starts a second batch)`,
          Code.Unavailable,
          { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
          undefined,
          err,
        );
      }
      // A concurrent submit of the same job can pass the exists() check above too; the one whose start lost joined
      // the other's batch. It started nothing: its rate unit and staged list go back, and if it asked for something
      // else it is told so, exactly as it would have been one call later.
      const differs = started.requestHash !== undefined && !sameRequest(started.requestHash);
      if (differs || started.startedHere === false) {
        await Promise.all([deps.rateLimiter.release(clientService, rate), listRef ? deps.lists.delete(listRef) : undefined]);
        if (differs) throw alreadyUsed();
      }
      if (started.view) return respond(started.view);
      // The batch exists but its workflow has not run yet: PENDING from what this call knows (the same request as the
      // batch's: the hashes matched), no estimate.
      const total = input.selector.kind === 'list' ? input.selector.total : 0;
      const known = input.selector.kind === 'list';
      const view: BatchStatusView = {
        batchId,
        clientService,
        clientJobId: v.clientJobId,
        status: 'PENDING',
        phase: 'RESOLVING',
        paused: false,
        counters: emptyCounters(total),
        pending: total,
        percentDone: 0,
        submittedAtMs: started.submittedAtMs ?? input.submittedAtMs,
        options: v.options,
        recentErrors: [],
        totalErrors: 0,
        totalKnown: known,
      };
      return respond(view, { detail: unansweredDetail(known ? total : undefined) });
    },

    async getBatchStatus(req, ctx) {
      // Every argument is checked before anything is read, so a bad one is invalid_argument whatever the batch.
      requireBatchId(req.batchId);
      const size = pageSize(req.errorsPageSize, ERRORS_PAGE_DEFAULT, ERRORS_PAGE_MAX, 'errors_page_size');
      const after = req.errorsPageToken ? tokens.decode<{ a: number }>('errors', req.batchId, req.errorsPageToken, 'errors_page_token').a : -1;
      if (!Number.isSafeInteger(after) || after < -1) throw new FieldError('errors_page_token', 'invalid page token');
      const view = await viewFor(ctx, req.batchId);
      const [stored, webhooks] = await Promise.all([deps.errors.page(req.batchId, after, size), webhookDeliveriesOf(view)]);
      const page = { ...stored, errors: await withRecentErrors(view, stored.errors, after, size) };
      const last = page.errors[page.errors.length - 1];
      return create(GetBatchStatusResponseSchema, {
        ...statusResponseFields(view, now(), latencyMs),
        errors: page.errors.map((e) => ({ memberId: e.memberId, errorCode: e.errorCode, errorMessage: e.errorMessage, occurredAt: timestampFromMs(e.occurredAtMs) })),
        nextErrorsPageToken: last && page.errors.length === size ? tokens.encode('errors', req.batchId, { a: last.memberIndex }) : '',
        totalErrors: Math.max(page.total, view.totalErrors),
        ...(pausedNow(view) && view.pausedBy ? { pausedBy: view.pausedBy } : {}),
        ...(webhooks ? { webhookDeliveries: webhooks } : {}),
        // Issue 12: a view read from durable state (the workflow could not be asked) says so.
        ...lastKnownFields(view),
      });
    },

    async listBatches(req, ctx) {
      const p = requirePrincipal(ctx.values);
      const isAdmin = p.scopes.has(Scope.Admin);
      // A malformed name is the argument's fault whoever asks (invalid_argument), before whether the caller may act for it.
      if (req.clientServiceName !== '' && !CLIENT_SERVICE_PATTERN.test(req.clientServiceName)) throw new FieldError('client_service_name', 'must be 1-128 letters, digits or . _ : @ -');
      const service = req.clientServiceName === '' && isAdmin ? undefined : actingService(p, req.clientServiceName, 'client_service_name');
      const size = pageSize(req.pageSize, LIST_PAGE_DEFAULT, LIST_PAGE_MAX, 'page_size');
      // One row per batch: runs that continued as new are not batches of their own.
      const clauses = [`WorkflowType = '${BATCH_WORKFLOW_TYPE}'`, `ExecutionStatus != 'ContinuedAsNew'`];
      if (service !== undefined) {
        if (!/^[A-Za-z0-9._:@-]+$/.test(service)) throw new FieldError('client_service_name', 'invalid service name');
        clauses.push(`RteClientService = '${service}'`);
      }
      if (req.statuses.length > 0) {
        const names = req.statuses.map((s, i) => {
          const n = PROTO_TO_STATUS[s];
          if (!n) throw new FieldError(`statuses[${i}]`, `unknown enum value ${s}`);
          return n;
        });
        // A workflow ended at the Temporal level (terminated, timed out) keeps its last RteBatchStatus, e.g. RUNNING;
        // it is listed as FAILED (listedStatus), so it matches a FAILED filter and no open one.
        const open = names.filter((n) => !isTerminalStatus(n)).map((n) => `'${n}'`);
        const closed = names.filter((n) => isTerminalStatus(n)).map((n) => `'${n}'`);
        const parts: string[] = [];
        if (open.length > 0) parts.push(`(RteBatchStatus IN (${open.join(', ')}) AND ExecutionStatus = 'Running')`);
        if (closed.length > 0) parts.push(`RteBatchStatus IN (${closed.join(', ')})`);
        if (names.includes('FAILED')) parts.push(`ExecutionStatus IN ('Terminated', 'TimedOut', 'Failed', 'Canceled')`);
        clauses.push(`(${parts.join(' OR ')})`);
      }
      const after = listTime(req.submittedAfter, 'submitted_after');
      const before = listTime(req.submittedBefore, 'submitted_before');
      // An empty or inverted range is a client mistake (swapped bounds), not "no batches".
      if (after !== undefined && before !== undefined && before <= after) {
        throw new FieldError('submitted_before', 'must be later than submitted_after (the range is [submitted_after, submitted_before))');
      }
      if (after !== undefined) clauses.push(`StartTime >= '${after}'`);
      if (before !== undefined) clauses.push(`StartTime < '${before}'`);
      // Temporal's own token is wrapped in one of ours, bound to this visibility query: a token that is not ours
      // (or was issued for another filter) is invalid_argument at once instead of an opaque Temporal failure.
      const visibilityQuery = clauses.join(' AND ');
      const token = req.pageToken ? Buffer.from(tokens.decode<{ t: string }>('list', visibilityQuery, req.pageToken, 'page_token').t ?? '', 'base64url') : undefined;
      const r = await deps.temporal.list(visibilityQuery, size, token);
      const batches: BatchSummary[] = r.items.map((it) =>
        create(BatchSummarySchema, {
          batchId: it.batchId,
          clientServiceName: it.clientService,
          clientJobId: it.clientJobId,
          status: STATUS_TO_PROTO[it.status] ?? BatchStatus.PENDING,
          priority: PRIORITY_TO_PROTO[it.priority as keyof typeof PRIORITY_TO_PROTO] ?? 0,
          strategy:
            it.strategy === 'BATCH_API' || it.strategy === 'REALTIME'
              ? PATH_TO_PROTO[it.strategy]
              : (STRATEGY_TO_PROTO[it.strategy as keyof typeof STRATEGY_TO_PROTO] ?? 0),
          submittedAt: tsOrUndefined(it.startedAtMs),
          finishedAt: tsOrUndefined(it.closedAtMs),
        }),
      );
      return create(ListBatchesResponseSchema, {
        batches,
        nextPageToken: r.nextPageToken ? tokens.encode('list', visibilityQuery, { t: Buffer.from(r.nextPageToken).toString('base64url') }) : '',
      });
    },

    async cancelBatch(req, ctx) {
      // CancelBatch's bound (probe p16 #9: 50.6 s under a worker backlog): the batch's own answer is awaited until
      // CANCEL_WAIT_MS after arrival (wall-clock: it becomes a gRPC deadline), then the cancel is made durable and the
      // caller told it is requested, not applied (deadline_exceeded), never CANCELLED for a cancel that has not happened.
      const arrivedAt = Date.now();
      // The workflow's update refuses a longer reason; refused here first, naming the field, with nothing cancelled.
      requireReason(req.reason);
      const before = await viewFor(ctx, req.batchId);
      let view: BatchStatusView;
      try {
        view = await deps.temporal.cancel(req.batchId, req.reason, arrivedAt + CANCEL_WAIT_MS);
      } catch (err) {
        if (!(err instanceof CancelNotAppliedError)) throw err;
        throw new ConnectError(cancelNotAppliedMessage(req.batchId, before), Code.DeadlineExceeded, undefined, undefined, err);
      }
      const c = view.counters;
      return create(CancelBatchResponseSchema, {
        batchId: req.batchId,
        status: STATUS_TO_PROTO[view.status],
        // Only for a batch that ended CANCELLED (this call's cancel or an earlier one): a batch that had already finished
        // another way was not cancelled, and its finish time reported as cancelled_at read as one (probe p18 F2).
        ...(view.status === 'CANCELLED' ? { cancelledAt: timestampFromMs(view.finishedAtMs ?? now()) } : {}),
        completed: c.completed,
        failed: c.failed,
        cancelled: c.cancelled,
      });
    },

    async pauseBatch(req, ctx) {
      requireReason(req.reason);
      const view = await viewFor(ctx, req.batchId);
      if (isTerminalStatus(view.status)) throw new ConnectError(`batch ${req.batchId} is ${view.status}; only an open batch can be paused`, Code.FailedPrecondition);
      if (!view.paused) {
        // Who paused it (the caller's client service, from its token) travels with the signal, for GetBatchStatus.
        await finishedMeanwhile(req.batchId, 'paused', () => deps.temporal.pause(req.batchId, requirePrincipal(ctx.values).service));
        await appliedWithin(req.batchId, 'PAUSED', (v) => v.paused || isTerminalStatus(v.status));
      }
      const after = (await deps.temporal.status(req.batchId)) ?? view;
      return create(PauseBatchResponseSchema, { batchId: req.batchId, status: STATUS_TO_PROTO[after.status] });
    },

    async resumeBatch(req, ctx) {
      requireReason(req.reason);
      const view = await viewFor(ctx, req.batchId);
      if (!pausedNow(view)) throw new ConnectError(`batch ${req.batchId} is ${view.status}, not PAUSED; only a paused batch can be resumed`, Code.FailedPrecondition);
      await finishedMeanwhile(req.batchId, 'resumed', () => deps.temporal.resume(req.batchId));
      const after = await appliedWithin(req.batchId, 'resumed', (v) => !v.paused);
      return create(ResumeBatchResponseSchema, { batchId: req.batchId, status: STATUS_TO_PROTO[after.status] });
    },

    async *watchBatchStatus(req, ctx) {
      const view = await viewFor(ctx, req.batchId);
      yield* batchStatusStream({ temporal: deps.temporal, ...(deps.outcomes ? { outcomes: deps.outcomes } : {}), now, watch, onPollError }, req, ctx.signal, view);
    },

    async *submitBatchStreaming(req, ctx) {
      // Accepted (or attached to the existing batch of this client_job_id) by SubmitBatch itself: the same validation,
      // auth, idempotency, rate limit and start. Then WatchBatchStatus's stream of that batch (no MEMBER_COMPLETED:
      // those are opt-in by name there), whose first update goes out at once with the batch id.
      const { batchId } = (await service.submitBatch(req, ctx)) as SubmitBatchResponse;
      const view = await deps.temporal.status(batchId);
      if (!view) throw new ConnectError(`batch ${batchId} not found`, Code.NotFound);
      const watchReq = create(WatchBatchRequestSchema, { batchId });
      yield* batchStatusStream({ temporal: deps.temporal, now, watch, onPollError }, watchReq, ctx.signal, view, { announce: true });
    },
  };
  return service;
}

// Exported for tests and docs.
export const _internal = { listRefFor, estimateMs };
