import { batchSummary } from '../../lib/batch/details';
import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import { createHash, randomBytes } from 'node:crypto';
import {
  BatchEventType,
  BatchStatus,
  BatchStatusUpdateSchema,
  BatchSummarySchema,
  CancelBatchResponseSchema,
  GetBatchStatusResponseSchema,
  ListBatchesResponseSchema,
  SubmitBatchRequestSchema,
  SubmitBatchResponseSchema,
  type BatchEligibilityService,
  type BatchStatusUpdate,
  type BatchSummary,
} from '../../gen/rte/v1/batch_pb';
import { MemberQuerySchema, type MemberQuery } from '../../gen/rte/v1/member_query_pb';
import type { BatchErrorStore, BatchOutcomeStore, MemberListStore } from '../../activities/batch/ports';
import { isTerminalStatus, type BatchStatusName, type ExecutionPath } from '../../lib/batch/types';
import { optionsToProto, PATH_TO_PROTO, PRIORITY_TO_PROTO, PROTO_TO_STATUS, progressToProto, STATUS_TO_PROTO, STRATEGY_TO_PROTO, tsOrUndefined } from '../../lib/batch/proto-mapping';
import { DEFAULT_SUBMIT_LIMITS, validateSubmitBatch, type SubmitLimits } from '../../lib/batch/submit-validation';
import type { SubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';
import { FieldError } from '../../lib/errors';
import { createPageTokenCodec } from '../../lib/page-token';
import {
  BATCH_JOB_TYPE,
  BATCH_WORKFLOW_TYPE,
  batchAcceptedUpdate,
  batchStatusQuery,
  batchWorkflowId,
  cancelBatchUpdate,
  legacyCancelBatchUpdate,
  parseBatchId,
  type BatchStatusView,
  type BatchTuning,
  type BatchWorkflowInput,
} from '../../workflows/batch.defs';
import { RteBatchStatus, RteClientJobId, RteClientService, RteJobType, RtePriority, RteStrategy } from '../../workflows/search-attributes';
import { actingService, requirePrincipal, Scope, type Principal } from '../auth';
import { lastKnownFields } from './batch-status-fallback';

// ---- the Temporal-facing port -------------------------------------------------------------------------------

export interface BatchListItem {
  batchId: string;
  clientService: string;
  clientJobId: string;
  status: BatchStatusName;
  priority?: string;
  strategy?: string;
  startedAtMs?: number;
  closedAtMs?: number;
}

/** What the batch API needs from Temporal. `createTemporalBatchPort` adapts a Temporal Client; tests use fakes. */
export interface BatchTemporalPort {
  /** Starts the batch workflow unless one with this id exists (running or closed: then a no-op). */
  start(input: BatchWorkflowInput, taskQueue: string): Promise<void>;
  /** Start (or join) the batch and wait until it is accepted, in one call (update-with-start). */
  startAndAccept(input: BatchWorkflowInput, taskQueue: string): Promise<BatchStatusView>;
  exists(batchId: string): Promise<boolean>;
  /** The canonical request hash stored with the batch at start (memo `requestHash`); undefined for older batches. */
  requestHash?(batchId: string): Promise<string | undefined>;
  /** Waits until the member count is known; answers closed batches from their result. */
  accepted(batchId: string): Promise<BatchStatusView>;
  /** Undefined for unknown batches. Closed batches are answered from their result. */
  status(batchId: string): Promise<BatchStatusView | undefined>;
  cancel(batchId: string, reason: string): Promise<BatchStatusView>;
  list(query: string, pageSize: number, pageToken?: Uint8Array): Promise<{ items: BatchListItem[]; nextPageToken?: Uint8Array }>;
}

function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err instanceof Error && /not found/i.test(err.message));
}

export function createTemporalBatchPort(client: Client): BatchTemporalPort {
  async function closedView(batchId: string): Promise<BatchStatusView | undefined> {
    const handle = client.workflow.getHandle(batchId);
    const desc = await handle.describe();
    if (desc.status.name === 'RUNNING' || desc.status.name === 'CONTINUED_AS_NEW') return handle.query(batchStatusQuery);
    if (desc.status.name === 'COMPLETED') return (await handle.result()) as BatchStatusView;
    // Terminated / timed out / failed at the Temporal level: report FAILED from what visibility knows.
    const parsed = parseBatchId(batchId);
    return {
      batchId,
      clientService: parsed?.clientService ?? '',
      clientJobId: parsed?.clientJobId ?? '',
      status: 'FAILED',
      phase: 'DONE',
      paused: false,
      counters: { total: 0, completed: 0, failed: 0, cancelled: 0, cacheHits: 0, cacheMisses: 0, stediRealtimeCalls: 0, stediBatchItems: 0, stediBatches: 0, durationMsSum: 0, durationCount: 0 },
      pending: 0,
      percentDone: 0,
      submittedAtMs: desc.startTime.getTime(),
      ...(desc.closeTime ? { finishedAtMs: desc.closeTime.getTime() } : {}),
      options: (desc.memo?.['options'] as BatchStatusView['options']) ?? DEFAULT_VIEW_OPTIONS,
      recentErrors: [],
      totalErrors: 0,
      failure: { code: `WORKFLOW_${desc.status.name}`, message: `the batch workflow ended ${desc.status.name.toLowerCase()}` },
      totalKnown: true,
    };
  }

  const startOptions = (input: BatchWorkflowInput, taskQueue: string): WorkflowStartOptions & { workflowIdConflictPolicy: WorkflowIdConflictPolicy } => ({
      taskQueue,
      workflowId: input.batchId,
      args: [input] as [BatchWorkflowInput],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { options: input.options, submittedAtMs: input.submittedAtMs, ...(input.requestHash ? { requestHash: input.requestHash } : {}) },
      typedSearchAttributes: [
        { key: RteBatchStatus, value: 'PENDING' },
        { key: RteClientService, value: input.clientService },
        { key: RteClientJobId, value: input.clientJobId },
        { key: RtePriority, value: input.options.priority },
        { key: RteStrategy, value: input.options.strategy },
        { key: RteJobType, value: BATCH_JOB_TYPE },
      ],
    });

  return {
    async startAndAccept(input, taskQueue) {
      try {
        return await client.workflow.executeUpdateWithStart(batchAcceptedUpdate, {
          startWorkflowOperation: new WithStartWorkflowOperation(BATCH_WORKFLOW_TYPE, startOptions(input, taskQueue)),
        });
      } catch (err) {
        // REJECT_DUPLICATE: a closed batch with this id exists (same job, same batch): answer from its result.
        const v = await closedView(input.batchId).catch(() => undefined);
        if (v) return v;
        throw err;
      }
    },
    async start(input, taskQueue) {
      try {
        await client.workflow.start(BATCH_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: input.batchId,
          args: [input],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          memo: { options: input.options, submittedAtMs: input.submittedAtMs, ...(input.requestHash ? { requestHash: input.requestHash } : {}) },
          // Web UI user metadata: what this batch is, without a click (current details come from the workflow).
          staticSummary: batchSummary({
            clientService: input.clientService,
            clientJobId: input.clientJobId,
            ...(input.selector.kind === 'list' ? { totalMembers: input.selector.total } : {}),
            strategy: input.options.strategy,
            priority: input.options.priority,
            window: input.options.schedulingWindow,
          }),
          typedSearchAttributes: [
            { key: RteBatchStatus, value: 'PENDING' },
            { key: RteClientService, value: input.clientService },
            { key: RteClientJobId, value: input.clientJobId },
            { key: RtePriority, value: input.options.priority },
            { key: RteStrategy, value: input.options.strategy },
            { key: RteJobType, value: BATCH_JOB_TYPE },
          ],
        });
      } catch (err) {
        // REJECT_DUPLICATE: a closed batch with this id exists. Same job, same batch.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return;
        throw err;
      }
    },
    async exists(batchId) {
      try {
        await client.workflow.getHandle(batchId).describe();
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    async requestHash(batchId) {
      const memo = (await client.workflow.getHandle(batchId).describe()).memo;
      const h = memo?.['requestHash'];
      return typeof h === 'string' ? h : undefined;
    },
    async accepted(batchId) {
      try {
        return await client.workflow.getHandle(batchId).executeUpdate(batchAcceptedUpdate);
      } catch (err) {
        const v = await closedView(batchId);
        if (v) return v;
        throw err;
      }
    },
    async status(batchId) {
      try {
        return await closedView(batchId);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async cancel(batchId, reason) {
      try {
        const handle = client.workflow.getHandle(batchId);
        try {
          return await handle.executeUpdate(cancelBatchUpdate, { args: [{ reason }] });
        } catch (err) {
          // A batch started by an older release knows the update only by its old name.
          if (err instanceof WorkflowUpdateFailedError && /handler|unknown update/i.test(String(err.cause?.message ?? err.message))) {
            return await handle.executeUpdate(legacyCancelBatchUpdate, { args: [{ reason }] });
          }
          throw err;
        }
      } catch (err) {
        // Already closed: cancelling is a no-op; report the final state.
        const v = await closedView(batchId);
        if (v) return v;
        throw err;
      }
    },
    async list(query, pageSize, pageToken) {
      const r = await client.workflowService.listWorkflowExecutions({
        namespace: client.options.namespace,
        query,
        pageSize,
        ...(pageToken ? { nextPageToken: pageToken } : {}),
      });
      const items: BatchListItem[] = (r.executions ?? []).map((e) => {
        const sa = decodeTypedSearchAttributes(e.searchAttributes?.indexedFields);
        const id = e.execution?.workflowId ?? '';
        const parsed = parseBatchId(id);
        const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t?.seconds !== undefined && t?.seconds !== null ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : undefined);
        const started = ms(e.startTime);
        const closed = ms(e.closeTime);
        return {
          batchId: id,
          clientService: sa.get(RteClientService) ?? parsed?.clientService ?? '',
          clientJobId: sa.get(RteClientJobId) ?? parsed?.clientJobId ?? '',
          status: (sa.get(RteBatchStatus) as BatchStatusName | undefined) ?? 'PENDING',
          ...(sa.get(RtePriority) ? { priority: sa.get(RtePriority)! } : {}),
          ...(sa.get(RteStrategy) ? { strategy: sa.get(RteStrategy)! } : {}),
          ...(started !== undefined ? { startedAtMs: started } : {}),
          ...(closed !== undefined && closed > 0 ? { closedAtMs: closed } : {}),
        };
      });
      const next = r.nextPageToken && r.nextPageToken.length > 0 ? r.nextPageToken : undefined;
      return { items, ...(next ? { nextPageToken: next } : {}) };
    },
  };
}

/** Options of a batch whose memo predates them: what SubmitBatch resolves for a request that sets none. */
const DEFAULT_VIEW_OPTIONS: BatchStatusView['options'] = validateSubmitBatch(
  create(SubmitBatchRequestSchema, { clientJobId: 'defaults', memberSelector: { case: 'memberIds', value: { memberIds: ['m'] } } }),
).options;

// ---- the service ----------------------------------------------------------------------------------------------

export interface BatchServiceDeps {
  temporal: BatchTemporalPort;
  /** Where submitted member ids are staged (PostgreSQL in production). */
  lists: Pick<MemberListStore, 'write'>;
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
  watch?: { pollIntervalMs: number; keepaliveMs: number };
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
}

const ERRORS_PAGE_DEFAULT = 100;
const OUTCOME_READ_PAGE = 1000;
const ERRORS_PAGE_MAX = 1000;
const LIST_PAGE_DEFAULT = 50;
const LIST_PAGE_MAX = 200;

/** Stable JSON: object keys sorted, so equal values hash equally whatever order a client wrote maps in. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * The canonical hash of what a SubmitBatch asks for, stored with the batch: members (ids as a set, or the query),
 * and the resolved options (defaults applied, so spelling a default out is the same request). A resubmission with
 * the same client_job_id must hash the same to be answered with the existing batch.
 */
export function submitRequestHash(selector: { kind: 'ids'; memberIds: readonly string[] } | { kind: 'query'; query: unknown }, options: unknown): string {
  const members = selector.kind === 'ids' ? { ids: [...selector.memberIds].sort() } : { query: selector.query };
  return createHash('sha256').update(stableJson({ v: 1, members, options })).digest('hex');
}

function listRefFor(batchId: string, ids: readonly string[]): string {
  // Content-addressed per batch: a resubmission with the same ids rewrites the same rows (idempotent), one with
  // different ids never overwrites the list a running batch reads.
  const h = createHash('sha256');
  for (const id of ids) h.update(id).update('\n');
  return `${batchId}#${h.digest('hex').slice(0, 16)}`;
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

function requireBatchId(batchId: string): void {
  if (!parseBatchId(batchId)) throw new FieldError('batch_id', 'must be a batch id as returned by SubmitBatch (batch/<service>/<job>)');
}

/** A CACHE_ONLY batch makes no Stedi call: it reads the cache, ~1 s per 1,000 members at most. */
const CACHE_ONLY_MS_PER_MEMBER = 1;

function estimateMs(view: BatchStatusView, now: number, latencyMs: number): number {
  // A finished batch's estimate is when it finished: it never moves past finishedAt.
  if (view.finishedAtMs !== undefined) return view.finishedAtMs;
  if (view.estimatedCompletionMs !== undefined) return view.estimatedCompletionMs;
  const start = Math.max(now, view.scheduledStartMs ?? now);
  const o = view.options;
  if (o.cacheMode === 'CACHE_ONLY') return start + Math.max(1_000, view.counters.total * CACHE_ONLY_MS_PER_MEMBER);
  const realtime = view.path === 'REALTIME' || (view.path === undefined && o.strategy === 'REALTIME_ONLY');
  if (realtime) return start + Math.ceil(view.counters.total / Math.max(1, o.maxConcurrentRequests)) * latencyMs;
  // Stedi batch API: "15 minutes - 8 hours"; most batches finish within the hour.
  return start + Math.min(o.timeoutMs, 3_600_000);
}

function statusResponseFields(view: BatchStatusView, now: number, latencyMs: number) {
  // A batch waiting for its window has no running estimate yet: estimate from its scheduled start.
  // Finished: the estimate is the finish time (it must not keep moving); CACHE_ONLY is estimated as cache reads.
  const estimate =
    view.finishedAtMs !== undefined
      ? view.finishedAtMs
      : view.options.cacheMode === 'CACHE_ONLY' && view.estimatedCompletionMs === undefined
        ? estimateMs(view, now, latencyMs)
        : (view.estimatedCompletionMs ?? (view.status === 'PENDING' ? estimateMs(view, now, latencyMs) : undefined));
  return {
    batchId: view.batchId,
    status: STATUS_TO_PROTO[view.status],
    progress: progressToProto(view.counters, view.startedAtMs, now, estimate),
    clientServiceName: view.clientService,
    clientJobId: view.clientJobId,
    submittedAt: timestampFromMs(view.submittedAtMs),
    finishedAt: tsOrUndefined(view.finishedAtMs),
    resolvedOptions: optionsToProto(view.options, view.path as ExecutionPath | undefined),
    // A FAILED batch says why (the same code and message as the stream's, Kafka's and the webhook's FAILED event).
    ...(view.failure && isTerminalStatus(view.status) && view.status !== 'COMPLETED' ? { failureCode: view.failure.code, failureMessage: view.failure.message } : {}),
  };
}

/** The batch RPCs over Temporal (workflows, queries, updates, visibility) and the PostgreSQL stores. */
export function createBatchService(deps: BatchServiceDeps): ServiceImpl<typeof BatchEligibilityService> {
  const limits = deps.limits ?? DEFAULT_SUBMIT_LIMITS;
  const now = deps.now ?? Date.now;
  const watch = deps.watch ?? { pollIntervalMs: 1_000, keepaliveMs: 30_000 };
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

  return {
    async submitBatch(req, ctx) {
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
      const requestHash = submitRequestHash(v.selector.kind === 'ids' ? { kind: 'ids', memberIds: v.selector.memberIds } : { kind: 'query', query: queryJson }, v.options);
      const respond = (view: BatchStatusView) =>
        create(SubmitBatchResponseSchema, {
          batchId,
          totalMembers: view.counters.total,
          submittedAt: timestampFromMs(view.submittedAtMs),
          estimatedCompletion: timestampFromMs(estimateMs(view, now(), latencyMs)),
          resolvedOptions: optionsToProto(view.options, view.path as ExecutionPath | undefined),
        });

      // Idempotency first: a known job answers with its batch and does not count against the rate limit.
      if (await deps.temporal.exists(batchId)) {
        const stored = deps.temporal.requestHash ? await deps.temporal.requestHash(batchId) : undefined;
        if (stored !== undefined && stored !== requestHash) {
          throw new ConnectError(
            `client_job_id ${v.clientJobId} was already used for a different request (batch ${batchId}); resubmit the same request to get that batch, or use a new client_job_id`,
            Code.AlreadyExists,
          );
        }
        return respond(await deps.temporal.accepted(batchId));
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

      let selector: BatchWorkflowInput['selector'];
      if (v.selector.kind === 'ids') {
        const listRef = listRefFor(batchId, v.selector.memberIds);
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
      return respond(await deps.temporal.startAndAccept(input, deps.taskQueue));
    },

    async getBatchStatus(req, ctx) {
      // Every argument is checked before anything is read, so a bad one is invalid_argument whatever the batch.
      requireBatchId(req.batchId);
      const size = pageSize(req.errorsPageSize, ERRORS_PAGE_DEFAULT, ERRORS_PAGE_MAX, 'errors_page_size');
      const after = req.errorsPageToken ? tokens.decode<{ a: number }>('errors', req.batchId, req.errorsPageToken, 'errors_page_token').a : -1;
      if (!Number.isSafeInteger(after) || after < -1) throw new FieldError('errors_page_token', 'invalid page token');
      const view = await viewFor(ctx, req.batchId);
      const page = await deps.errors.page(req.batchId, after, size);
      const last = page.errors[page.errors.length - 1];
      return create(GetBatchStatusResponseSchema, {
        ...statusResponseFields(view, now(), latencyMs),
        errors: page.errors.map((e) => ({ memberId: e.memberId, errorCode: e.errorCode, errorMessage: e.errorMessage, occurredAt: timestampFromMs(e.occurredAtMs) })),
        nextErrorsPageToken: last && page.errors.length === size ? tokens.encode('errors', req.batchId, { a: last.memberIndex }) : '',
        totalErrors: Math.max(page.total, view.totalErrors),
        // Issue 12: a view read from durable state (the workflow could not be asked) says so.
        ...lastKnownFields(view),
      });
    },

    async listBatches(req, ctx) {
      const p = requirePrincipal(ctx.values);
      const isAdmin = p.scopes.has(Scope.Admin);
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
          return `'${n}'`;
        });
        clauses.push(`RteBatchStatus IN (${names.join(', ')})`);
      }
      if (req.submittedAfter) clauses.push(`StartTime >= '${timestampDate(req.submittedAfter).toISOString()}'`);
      if (req.submittedBefore) clauses.push(`StartTime < '${timestampDate(req.submittedBefore).toISOString()}'`);
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
      await viewFor(ctx, req.batchId);
      const view = await deps.temporal.cancel(req.batchId, req.reason);
      const c = view.counters;
      return create(CancelBatchResponseSchema, {
        batchId: req.batchId,
        status: STATUS_TO_PROTO[view.status],
        cancelledAt: tsOrUndefined(view.finishedAtMs ?? now()),
        completed: c.completed,
        failed: c.failed,
        cancelled: c.cancelled,
      });
    },

    async *watchBatchStatus(req, ctx) {
      let view = await viewFor(ctx, req.batchId);
      const wanted = new Set(req.eventTypes);
      const want = (t: BatchEventType) => wanted.size === 0 || wanted.has(t);
      const update = (t: BatchEventType, u: MessageInitShape<typeof BatchStatusUpdateSchema>['update']): BatchStatusUpdate =>
        create(BatchStatusUpdateSchema, { timestamp: timestampFromMs(now()), eventType: t, batchId: req.batchId, update: u, status: STATUS_TO_PROTO[view.status] ?? BatchStatus.PENDING });
      let sentStarted = false;
      let lastProgressKey = '';
      let lastSentAt = now();
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
              value: { totalMembers: view.counters.total, startedAt: tsOrUndefined(view.startedAtMs), resolvedOptions: optionsToProto(view.options, view.path as ExecutionPath | undefined) },
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
            yield update(BatchEventType.EVENT_TYPE_PROGRESS, { case: 'progress', value: progressToProto(c, view.startedAtMs, now(), view.estimatedCompletionMs) });
          }
        }
        if (memberUpdates && sentStarted) yield* memberCompletions(isTerminalStatus(view.status));
        if (isTerminalStatus(view.status)) {
          const finalProgress = progressToProto(c, view.startedAtMs, now());
          if (view.status === 'COMPLETED' || view.status === 'PARTIALLY_COMPLETED') {
            if (want(BatchEventType.EVENT_TYPE_COMPLETED)) {
              yield update(BatchEventType.EVENT_TYPE_COMPLETED, { case: 'completed', value: { status: STATUS_TO_PROTO[view.status], finalProgress, completedAt: tsOrUndefined(view.finishedAtMs) } });
            }
          } else if (want(BatchEventType.EVENT_TYPE_FAILED)) {
            yield update(BatchEventType.EVENT_TYPE_FAILED, {
              case: 'failed',
              value: {
                status: STATUS_TO_PROTO[view.status],
                errorCode: view.failure?.code ?? view.status,
                errorMessage: view.failure?.message ?? '',
                finalProgress,
                failedAt: tsOrUndefined(view.finishedAtMs),
              },
            });
          }
          return;
        }
        await sleepUnlessAborted(watch.pollIntervalMs, ctx.signal);
        if (ctx.signal.aborted) return;
        if (now() - lastSentAt >= watch.keepaliveMs) {
          // Keepalive (doc): an empty PROGRESS update, so proxies and load balancers keep the stream open.
          lastSentAt = now();
          yield update(BatchEventType.EVENT_TYPE_PROGRESS, { case: undefined });
        }
        const next = await deps.temporal.status(req.batchId);
        if (!next) throw new ConnectError(`batch ${req.batchId} not found`, Code.NotFound);
        view = next;
      }
    },
  };
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

// Exported for tests and docs.
export const _internal = { listRefFor, estimateMs };
