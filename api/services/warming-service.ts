import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import { WarmCacheRequest_Priority, WarmCacheResponseSchema, WarmingStrategy, type CacheWarmingService, type WarmCacheRequest, type WarmCacheResponse } from '../../gen/rte/v1/warming_pb';
import type { MemberListStore } from '../../activities/batch/ports';
import { startCacheWarmingJob } from '../../lib/temporal/warming-jobs';
import type { SubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';
import { FieldError } from '../../lib/errors';
import { resolveOperations } from '../../lib/warming/decide';
import { cacheOperationOf, KNOWN_OPERATIONS } from '../../lib/operations';
import { estimateWarmCompletionMs } from '../../lib/warming/estimate';
import { hourWindowSlot, JITTER_MS } from '../../lib/batch/windows';
import type { WarmingPriority, WarmingStrategyName } from '../../lib/warming/types';
import { warmingAcceptedUpdate, warmingMemberListRef, warmingWorkflowId, type CacheWarmingWorkflowInput, type WarmingStatusName, type WarmingStatusView, type WarmingTuning } from '../../workflows/warming.defs';
import { requirePrincipal, Scope, type Principal } from '../auth';
import { readWarmingJobFromTemporal, warmingJobReason } from './warming-job';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../interceptors';
import { untilAcceptBy, waitRanOut } from '../../lib/temporal/bounded-wait';

const notYet = (method: string) => new ConnectError(`${method} is not implemented yet (cache warming is not built yet)`, Code.Unimplemented);

export const WARM_CACHE_MAX_MEMBERS = 1_000;
const MEMBER_ID_MAX_LENGTH = 128;
const SOURCE_RE = /^[A-Za-z0-9._:-]{1,100}$/;
/** Optional request header: same caller + same key = same warming job (the proto has no request id field). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,200}$/;

const PRIORITY_FROM_PROTO: Record<number, WarmingPriority> = {
  [WarmCacheRequest_Priority.URGENT]: 'URGENT',
  [WarmCacheRequest_Priority.PRELOAD]: 'PRELOAD',
  [WarmCacheRequest_Priority.BACKGROUND]: 'BACKGROUND',
};
const STRATEGY_FROM_PROTO: Record<number, WarmingStrategyName> = {
  [WarmingStrategy.INTELLIGENT]: 'INTELLIGENT',
  [WarmingStrategy.FORCE]: 'FORCE',
  [WarmingStrategy.FILL_ONLY]: 'FILL_ONLY',
};

export interface ValidWarmCache {
  memberIds: string[];
  operations: string[];
  strategy: WarmingStrategyName;
  priority: WarmingPriority;
  source: string;
}

/** Every bad input refused with its field, before any side effect. */
export function validateWarmCache(req: Pick<WarmCacheRequest, 'memberIds' | 'operations' | 'strategy' | 'priority' | 'source'>): ValidWarmCache {
  if (req.memberIds.length === 0) throw new FieldError('member_ids', 'must contain at least one member id');
  if (req.memberIds.length > WARM_CACHE_MAX_MEMBERS) throw new FieldError('member_ids', `at most ${WARM_CACHE_MAX_MEMBERS} member ids per request (got ${req.memberIds.length})`);
  const seen = new Map<string, number>();
  req.memberIds.forEach((id, i) => {
    if (id.trim() === '') throw new FieldError(`member_ids[${i}]`, 'must not be blank');
    if (id.length > MEMBER_ID_MAX_LENGTH) throw new FieldError(`member_ids[${i}]`, `must be at most ${MEMBER_ID_MAX_LENGTH} characters`);
    // As SubmitBatch: an id with a space or a control character is no directory id (before, " m_1" was "queued" and
    // failed MemberNotFound, and a NUL reached PostgreSQL as an internal error).
    if (/[\s\p{Cc}\p{Cf}]/u.test(id)) throw new FieldError(`member_ids[${i}]`, 'must not contain whitespace, control or invisible characters (e.g. a zero-width space)');
    const prev = seen.get(id);
    if (prev !== undefined) throw new FieldError(`member_ids[${i}]`, `duplicate of member_ids[${prev}]`);
    seen.set(id, i);
  });
  const ops = new Map<string, number>();
  req.operations.forEach((op, i) => {
    // The operations CheckEligibility accepts; two that read the same cache entry warm it once (resolveOperations).
    if (cacheOperationOf(op) === undefined) throw new FieldError(`operations[${i}]`, `unknown operation "${op.slice(0, 50)}" (known: ${KNOWN_OPERATIONS.join(', ')})`);
    if (ops.has(op)) throw new FieldError(`operations[${i}]`, `duplicate of operations[${ops.get(op)}]`);
    ops.set(op, i);
  });
  const strategy = STRATEGY_FROM_PROTO[req.strategy];
  if (!strategy) throw new FieldError('strategy', `unknown enum value ${req.strategy}`);
  const priority = PRIORITY_FROM_PROTO[req.priority];
  if (!priority) throw new FieldError('priority', `unknown enum value ${req.priority}`);
  const source = req.source === '' ? 'manual-trigger' : req.source;
  if (!SOURCE_RE.test(source)) throw new FieldError('source', 'must be 1–100 characters of A–Z a–z 0–9 . _ : -');
  return { memberIds: [...req.memberIds], operations: resolveOperations(req.operations), strategy, priority, source };
}

/**
 * The canonical hash of what a WarmCache asks for (ids as a set, operations as a set, strategy, priority, source),
 * stored in the job's memo: a repeat with the same idempotency-key must hash the same to be answered with that job.
 */
export function warmCacheRequestHash(v: ValidWarmCache): string {
  const canonical = JSON.stringify({ v: 1, ids: [...v.memberIds].sort(), operations: [...v.operations].sort(), strategy: v.strategy, priority: v.priority, source: v.source });
  return createHash('sha256').update(canonical).digest('hex');
}

/** The request hash in a job's memo; undefined for a job started without one (before this check, or not by WarmCache). */
async function storedRequestHash(client: Client, jobId: string): Promise<{ exists: boolean; hash?: string }> {
  try {
    const memo = (await client.workflow.getHandle(jobId).describe()).memo;
    const h = memo?.['requestHash'];
    return typeof h === 'string' ? { exists: true, hash: h } : { exists: true };
  } catch {
    return { exists: false };
  }
}

function reusedKeyError(jobId: string): ConnectError {
  return new ConnectError(
    `${IDEMPOTENCY_KEY_HEADER} was already used for a different WarmCache request (job ${jobId}); repeat the same request to get that job, or use a new key`,
    Code.AlreadyExists,
  );
}

/**
 * Sources the platform's own jobs carry: `member-cron-<schedule>` (the member-cron consumer) and `schedule-<name>`
 * (warming schedules). Their warms feed the prediction-accuracy gauge and GetWarmingStats per source, so a WarmCache
 * under one of them would pass a client's manual warms off as the platform's predictions: rte:admin only.
 */
export const RESERVED_SOURCE_PREFIXES: readonly string[] = ['member-cron-', 'schedule-'];

export function checkWarmCacheSource(source: string, p: Principal): void {
  const reserved = RESERVED_SOURCE_PREFIXES.find((x) => source.startsWith(x));
  if (reserved && !p.scopes.has(Scope.Admin)) {
    throw new ConnectError(
      `source: "${source}" is reserved for the platform's own warming jobs (prefix "${reserved}"); choose another source, or call with ${Scope.Admin}`,
      Code.PermissionDenied,
    );
  }
}

export interface WarmCacheDeps {
  temporal: Client;
  taskQueue: string;
  lists: Pick<MemberListStore, 'write' | 'delete'>;
  /** Per caller service, like SubmitBatch's (use its own key prefix). */
  rateLimiter: SubmitRateLimiter;
  logger: Logger;
  tuning?: Partial<WarmingTuning>;
  /** Stedi batch turnaround for estimates (ms). */
  batchLatencyMs?: number;
  now?: () => number;
}

const ENDED: ReadonlySet<WarmingStatusName> = new Set(['COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'CANCELLED']);

/** A job that ended at the Temporal level (terminated, timed out, failed) without its own final view. */
interface EndedWithoutView {
  kind: 'ended';
  status: 'FAILED' | 'CANCELLED';
  reason: string;
  closedAtMs?: number;
}

/**
 * A job that exists but did not answer by WarmCache's bound (no worker took its workflow task, or its bulk cache read
 * is still queued): nothing about its members is decided yet.
 */
interface NotYetDecided {
  kind: 'undecided';
  status: WarmingStatusName;
}

/**
 * How long WarmCache waits for its job's own answer (the warmingAccepted update, after the job's one bulk cache read:
 * normally well under a second), from the call's arrival. With a backlogged task queue that answer can take minutes
 * (probe p15: 26–155 s). After the bound, WARM_LOOKUP_MS more to read the job's state: ≤ 11.5 s in all.
 */
export const WARM_ACCEPT_WAIT_MS = 10_000;
export const WARM_LOOKUP_MS = 1_000;
const STATUS_NAMES: ReadonlySet<string> = new Set(['PENDING', 'RUNNING', 'WAITING', 'PAUSED', 'COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'CANCELLED']);
/** WarmCacheResponse.reason of a job not yet decided by the answer's bound. */
export const UNDECIDED_REASON = 'accepted · not yet taken up by a worker (the platform is busy): members_skipped and the estimate are not decided yet; follow the job with GetWarmingJob';

async function acceptedView(client: Client, jobId: string, now: () => number, acceptBy?: number): Promise<WarmingStatusView | EndedWithoutView | NotYetDecided> {
  const h = client.workflow.getHandle(jobId);
  try {
    return await untilAcceptBy(client, acceptBy, () => h.executeUpdate(warmingAcceptedUpdate));
  } catch (err) {
    if (acceptBy !== undefined && waitRanOut(err)) {
      // The job's state as Temporal has it (its query, else visibility), bounded too. A job that ran out its wait has
      // been started (WarmCache starts it first, or found it by its idempotency-key), so "not found" or "unreachable"
      // is an outage: retry with the same key reaches the same job.
      const t = await readWarmingJobFromTemporal(client, jobId, WARM_LOOKUP_MS, now);
      if (t.kind === 'live') return t.view.firstPlanned || ENDED.has(t.view.status) ? t.view : { kind: 'undecided', status: t.view.status };
      if (t.kind === 'ended') return { kind: 'ended', status: t.status, reason: t.reason, ...(t.closedAtMs !== undefined ? { closedAtMs: t.closedAtMs } : {}) };
      if (t.kind === 'visibility') return { kind: 'undecided', status: t.shown && STATUS_NAMES.has(t.shown) && !ENDED.has(t.shown as WarmingStatusName) ? (t.shown as WarmingStatusName) : 'PENDING' };
      throw new ConnectError(
        `warming job ${jobId} did not answer within ${WARM_ACCEPT_WAIT_MS / 1000} s and its state could not be read (the platform is busy); retry after ${UNAVAILABLE_RETRY_AFTER_SECONDS} s with the same ${IDEMPOTENCY_KEY_HEADER} to reach the same job`,
        Code.Unavailable,
        { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
        undefined,
        err,
      );
    }
    // A finished job (an idempotent repeat after it ended) answers from its result, or from how Temporal ended it.
    const d = await h.describe().catch(() => undefined);
    if (d && d.status.name === 'COMPLETED') return (await h.result()) as WarmingStatusView;
    if (d && d.status.name !== 'RUNNING' && d.status.name !== 'CONTINUED_AS_NEW') {
      const t = await readWarmingJobFromTemporal(client, jobId, 5_000, now);
      if (t.kind === 'ended') return { kind: 'ended', status: t.status, reason: t.reason, ...(t.closedAtMs !== undefined ? { closedAtMs: t.closedAtMs } : {}) };
      if (t.kind === 'live') return t.view;
    }
    if (err instanceof WorkflowNotFoundError) throw new ConnectError(`warming job ${jobId} not found`, Code.NotFound);
    throw err;
  }
}

/**
 * The WarmCache answer from the job's view (pure). A job at work: what it queued and when it should finish. A job that
 * already ended (an idempotent repeat after it finished, failed or was cancelled): nothing is queued, the completion
 * is when it ended (never an estimate in the past), and status and reason say how it ended.
 */
export function warmCacheAnswer(
  jobId: string,
  view: WarmingStatusView | EndedWithoutView | NotYetDecided,
  estimate: (v: WarmingStatusView) => number,
  nowMs: number,
  undecided?: { members: number; estimateMs: number },
): Pick<WarmCacheResponse, 'warmingJobId' | 'membersQueued' | 'membersSkipped' | 'status' | 'reason'> & { estimatedCompletionMs: number } {
  if ('kind' in view && view.kind === 'undecided') {
    // Every member the request named is queued (none is known to be cached yet), with the upper estimate given.
    return { warmingJobId: jobId, membersQueued: undecided?.members ?? 0, membersSkipped: 0, status: BatchStatus[view.status], reason: UNDECIDED_REASON, estimatedCompletionMs: undecided?.estimateMs ?? nowMs };
  }
  if ('kind' in view) {
    return { warmingJobId: jobId, membersQueued: 0, membersSkipped: 0, status: BatchStatus[view.status], reason: view.reason, estimatedCompletionMs: view.closedAtMs ?? nowMs };
  }
  const c = view.counters;
  if (ENDED.has(view.status)) {
    const explicit = view.failure ? `${view.failure.code}: ${view.failure.message}` : view.cancel ? `cancelled: ${view.cancel.reason}` : undefined;
    return {
      warmingJobId: jobId,
      membersQueued: 0,
      membersSkipped: c.membersSkipped,
      status: BatchStatus[view.status],
      reason: warmingJobReason({ status: view.status, ...(explicit ? { explicit } : {}), counts: c.outcomes }),
      estimatedCompletionMs: view.finishedAtMs ?? nowMs,
    };
  }
  return {
    warmingJobId: jobId,
    membersQueued: Math.max(0, c.members - c.membersSkipped),
    membersSkipped: c.membersSkipped,
    status: BatchStatus[view.status],
    reason: '',
    estimatedCompletionMs: estimate(view),
  };
}

/**
 * The estimate of a job not yet decided (pure): as if no member were cached, every member × operation fetched on the
 * path its priority and strategy take for a miss (FORCE or URGENT INTELLIGENT: real time; otherwise the batch API),
 * with one free real-time slot. An upper estimate: the job's own, in GetWarmingJob, is usually sooner.
 */
export function undecidedEstimateMs(v: Pick<ValidWarmCache, 'memberIds' | 'operations' | 'priority' | 'strategy'>, nowMs: number, batchLatencyMs?: number): number {
  const entries = v.memberIds.length * Math.max(1, v.operations.length);
  const realtime = v.strategy === 'FORCE' || (v.strategy === 'INTELLIGENT' && v.priority === 'URGENT');
  return estimateWarmCompletionMs({
    nowMs,
    priority: v.priority,
    realtime: realtime ? entries : 0,
    batchApi: realtime ? 0 : entries,
    freeSlots: 1,
    // BACKGROUND batch work submits in each member's own LOW_UTILIZATION window, and the members' zones are not read
    // yet: the latest end of that window over the US zones, so the estimate stays an upper one.
    ...(!realtime && v.priority === 'BACKGROUND' ? { batchApiStartsAtMs: latestLowUtilizationEndMs(nowMs) } : {}),
    ...(batchLatencyMs !== undefined ? { batchLatencyMs } : {}),
  });
}

/** US time zones members live in (directory/catalog.ts's states, territories aside). */
const US_TIME_ZONES = ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Phoenix', 'America/Los_Angeles', 'America/Anchorage', 'Pacific/Honolulu'];

/** The latest a member's LOW_UTILIZATION start can fall, over US_TIME_ZONES, as seen at `nowMs` (spread + jitter). */
export function latestLowUtilizationEndMs(nowMs: number): number {
  return Math.max(
    ...US_TIME_ZONES.map((z) => {
      const slot = hourWindowSlot('LOW_UTILIZATION', nowMs, z);
      return slot.startMs + slot.spreadMs + JITTER_MS;
    }),
  );
}

/**
 * WarmCache: validates, applies the caller's rate limit (idempotent repeats are free), stages the ids in
 * PostgreSQL, starts (or joins) cacheWarmingWorkflow and answers once the job decided its members (the workflow's
 * warmingAccepted update, after its one bulk cache read): members_skipped is the job's own count.
 *
 * Unknown member ids are accepted like any other: a cache miss for them goes to Stedi, which fails with
 * MemberNotFoundError before any Stedi call; the warm is recorded `failed` with that reason (members_failed).
 */
export function createWarmCacheHandler(deps: WarmCacheDeps): ServiceImpl<typeof CacheWarmingService>['warmCache'] {
  const now = deps.now ?? Date.now;
  return async (req: WarmCacheRequest, ctx: HandlerContext) => {
    // Wall-clock on purpose, not deps.now: the answer's bound becomes a gRPC deadline, which is wall-clock.
    const arrivedAt = Date.now();
    const p = requirePrincipal(ctx.values);
    const v = validateWarmCache(req);
    checkWarmCacheSource(v.source, p);
    const key = ctx.requestHeader.get(IDEMPOTENCY_KEY_HEADER);
    if (key !== null && !IDEMPOTENCY_KEY_RE.test(key)) throw new FieldError(IDEMPOTENCY_KEY_HEADER, 'must be 1–200 visible ASCII characters');
    const jobKey = key ? `api-${createHash('sha256').update(`${p.service}\n${key}`).digest('hex').slice(0, 32)}` : `api-${randomUUID()}`;
    const jobId = warmingWorkflowId(v.source, jobKey);

    const requestHash = warmCacheRequestHash(v);
    let existing = false;
    if (key) {
      const stored = await storedRequestHash(deps.temporal, jobId);
      existing = stored.exists;
      // A reused key with a different request is refused, not answered with the other request's job (as SubmitBatch's
      // client_job_id): the caller would otherwise be told its members were queued when they were not.
      if (stored.hash !== undefined && stored.hash !== requestHash) {
        throw reusedKeyError(jobId);
      }
    }
    if (!existing) {
      // With a key, the unit is named by the job: concurrent repeats of one request (all still finding no job)
      // spend one unit between them, as sequential repeats spend none.
      const rate = await deps.rateLimiter.take(p.service, now(), key ? jobId : undefined);
      if (!rate.allowed) {
        const retryAfterS = Math.max(1, Math.ceil((rate.resetAtMs - now()) / 1000));
        const err = new ConnectError(`caller ${p.service} reached ${rate.limit} WarmCache requests per window; retry after ${retryAfterS} s`, Code.ResourceExhausted);
        err.metadata.set('retry-after', String(retryAfterS));
        throw err;
      }
      // With a key, the ids are staged under a ref of this request's own hash: two concurrent first calls with the
      // same key and different requests both pass the check above, and one list per request keeps the second from
      // overwriting the ids of the job the first one started.
      const listRef = key ? `${warmingMemberListRef(jobId)}:${requestHash.slice(0, 16)}` : warmingMemberListRef(jobId);
      await deps.lists.write(listRef, 0, v.memberIds);
      const input: CacheWarmingWorkflowInput = {
        jobId,
        source: v.source,
        priority: v.priority,
        strategy: v.strategy,
        operations: v.operations,
        selector: { kind: 'list', listRef, total: v.memberIds.length },
        acceptedAtMs: now(),
        requestedBy: p.service,
        ...(deps.tuning ? { tuning: deps.tuning } : {}),
      };
      await startCacheWarmingJob(deps.temporal, input, { taskQueue: deps.taskQueue, requestHash });
      if (key) {
        // The start joins (USE_EXISTING) a job a concurrent call with the same key started a moment earlier: answer
        // it only if that call asked for the same thing.
        const started = await storedRequestHash(deps.temporal, jobId);
        if (started.hash !== undefined && started.hash !== requestHash) {
          await deps.lists.delete(listRef).catch((err: unknown) => deps.logger.warn({ err, jobId }, 'WarmCache: dropping a refused request\'s staged ids failed'));
          throw reusedKeyError(jobId);
        }
      }
    }
    const view = await acceptedView(deps.temporal, jobId, now, arrivedAt + WARM_ACCEPT_WAIT_MS);
    const answer = warmCacheAnswer(
      jobId,
      view,
      (v) =>
        estimateWarmCompletionMs({
          nowMs: now(),
          priority: v.priority,
          realtime: v.counters.realtime,
          batchApi: v.counters.batchApi,
          ...(v.freeSlots !== undefined ? { freeSlots: v.freeSlots } : {}),
          ...(v.realtimeDeferredUntilMs !== undefined ? { realtimeDeferredUntilMs: v.realtimeDeferredUntilMs } : {}),
          ...(v.batchApiStartsAtMs !== undefined ? { batchApiStartsAtMs: v.batchApiStartsAtMs } : {}),
          ...(deps.batchLatencyMs !== undefined ? { batchLatencyMs: deps.batchLatencyMs } : {}),
        }),
      now(),
      { members: v.memberIds.length, estimateMs: undecidedEstimateMs(v, now(), deps.batchLatencyMs) },
    );
    const c = 'kind' in view ? undefined : view.counters;
    deps.logger.info(
      {
        caller: p.service,
        jobId,
        source: v.source,
        priority: v.priority,
        strategy: v.strategy,
        members: c?.members,
        queued: answer.membersQueued,
        skipped: answer.membersSkipped,
        realtime: c?.realtime,
        batchApi: c?.batchApi,
        repeat: existing,
        status: BatchStatus[answer.status],
      },
      'WarmCache accepted',
    );
    const { estimatedCompletionMs, ...fields } = answer;
    return create(WarmCacheResponseSchema, { ...fields, estimatedCompletion: timestampFromMs(estimatedCompletionMs) });
  };
}

/** WarmCache when its deps are given (else `unimplemented`); ScheduleWarming / GetWarmingStats / GetWarmingJob are provided separately. */
export function createWarmingService(warm?: WarmCacheDeps): ServiceImpl<typeof CacheWarmingService> {
  const warmCache = warm ? createWarmCacheHandler(warm) : undefined;
  return {
    warmCache(req, ctx) {
      if (!warmCache) throw notYet('WarmCache');
      return warmCache(req, ctx);
    },
    scheduleWarming() {
      throw notYet('ScheduleWarming');
    },
    getWarmingStats() {
      throw notYet('GetWarmingStats');
    },
    getWarmingJob() {
      throw notYet('GetWarmingJob');
    },
  };
}
