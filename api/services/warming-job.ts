import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { WorkflowFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Logger } from 'pino';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import {
  GetWarmingJobResponseSchema,
  WarmingJobCountsSchema,
  type GetWarmingJobRequest,
  type GetWarmingJobResponse,
} from '../../gen/rte/v1/warming_pb';
import type { WarmJobDurableState, WarmJobReader } from '../../activities/warming/ports';
import { FieldError } from '../../lib/errors';
import { within } from '../../lib/within';
import { boundedTemporalCall } from '../../lib/temporal/bounded-wait';
import { WARMING_PRIORITY_PROTO, WARMING_STRATEGY_PROTO } from '../../lib/warming/proto-enums';
import { warmingJobReason } from '../../lib/warming/reasons';
import type { WarmOutcome, WarmingPriority, WarmingStrategyName } from '../../lib/warming/types';
import { CACHE_WARMING_WORKFLOW_TYPE, warmingStatusQuery, type WarmingStatusName, type WarmingStatusView } from '../../workflows/warming.defs';
import { RteBatchProgress, RteBatchStatus, RtePriority, RteStrategy, RteWarmingSource } from '../../workflows/search-attributes';
import { requirePrincipal, Scope } from '../auth';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../interceptors';

/**
 * GetWarmingJob: one warming job's state for the client that asked for it (and operators).
 *
 * Sources: the job's workflow (live status, why it ended or waits, who paused it; `warmingStatus` query while open,
 * its result once finished) and the job's durable record in PostgreSQL (cache_warming_jobs + cache_warms: outcome
 * counts, failure reasons, and everything else when the workflow cannot be asked). Both are read at once, each
 * bounded (2.5 s), so the answer comes within ~3 s: live; or last-known from visibility + PostgreSQL (no worker
 * answering the query); or last-known from PostgreSQL alone (Temporal unreachable, or the workflow past retention);
 * or `unavailable` with retry-after when neither can say whether the job exists. Never zeros for counts that could
 * not be read: `counts` is then unset.
 *
 * Visibility: a WarmCache job belongs to the service that asked for it (memo / record `requestedBy`); platform jobs
 * (member-cron, schedules) to every holder of rte:warming:read, as GetWarmingStats. rte:admin sees all. Another
 * service's job and an unknown id answer the same NOT_FOUND.
 */

/** warming/<source>/<key> (WarmCache, member-cron intake) or warming/<schedule>-<time> (a schedule's run). */
const JOB_ID_RE = /^warming\/[A-Za-z0-9._:-]{1,120}(\/[A-Za-z0-9._:-]{1,120})?$/;

export { warmingJobReason };

export function validateWarmingJobId(jobId: string): string {
  if (jobId === '') throw new FieldError('job_id', 'is required (the warming_job_id WarmCache answered)');
  if (jobId.length > 250 || !JOB_ID_RE.test(jobId)) {
    throw new FieldError('job_id', 'is not a warming job id (expected "warming/<source>/<key>" as WarmCache answers it, or a scheduled run "warming/<schedule>-<time>", time as 2026-12-03T04:00:00Z)');
  }
  // A scheduled run's id ends in its scheduled time as Temporal writes it, RFC 3339 in whole seconds. A client that
  // builds it with toISOString() writes ".000Z": the same run (probe p18 contract F12), not a not_found.
  return jobId.replace(/^(warming\/[^/]+-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.0+Z$/, '$1Z');
}

/** A WarmCache job (key `api-…`): owned by its caller; a platform job has no owner. */
function isApiJob(jobId: string): boolean {
  return jobId.split('/')[2]?.startsWith('api-') === true;
}

export interface GetWarmingJobDeps {
  client: Pick<Client, 'withDeadline' | 'workflow'>;
  jobs: WarmJobReader;
  /** Budget of each source (Temporal describe + query/result; PostgreSQL). Default 2.5 s. */
  budgetMs?: number;
  now?: () => number;
  logger?: Pick<Logger, 'warn'>;
}

export type GetWarmingJobHandler = (req: GetWarmingJobRequest, ctx: HandlerContext) => Promise<GetWarmingJobResponse>;

const STATUS_NAMES: ReadonlySet<string> = new Set(['PENDING', 'RUNNING', 'WAITING', 'PAUSED', 'COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED', 'CANCELLED']);


function isNotFound(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e.name === 'WorkflowNotFoundError' || (e as { code?: unknown }).code === 5) return true;
  }
  return false;
}

/** What Temporal said about the job. */
export type TemporalRead =
  | { kind: 'notFound' }
  | { kind: 'unreachable'; cause: unknown }
  /** The workflow answered: its query while open, its result once finished. */
  | { kind: 'live'; owner?: string; view: WarmingStatusView }
  /** Closed without its own result (terminated, timed out, failed at the Temporal level). */
  | { kind: 'ended'; owner?: string; status: 'FAILED' | 'CANCELLED'; reason: string; closedAtMs?: number; startedAtMs: number; source?: string; priority?: string; strategy?: string }
  /** Visibility only (no worker answered the query in time). */
  | { kind: 'visibility'; owner?: string; shown?: string; progress?: string; startedAtMs: number; cause: unknown };

function searchAttrs(desc: Pick<WorkflowExecutionDescription, 'typedSearchAttributes'>): { source?: string; priority?: string; strategy?: string } {
  const sa = desc.typedSearchAttributes;
  const source = sa.get(RteWarmingSource);
  const priority = sa.get(RtePriority);
  const strategy = sa.get(RteStrategy);
  return { ...(source ? { source } : {}), ...(priority ? { priority } : {}), ...(strategy ? { strategy } : {}) };
}

function ownerOf(desc: Pick<WorkflowExecutionDescription, 'memo'>): string | undefined {
  const by = desc.memo?.['requestedBy'];
  return typeof by === 'string' && by !== '' ? by : undefined;
}

/** Reads the job from Temporal within `budgetMs` (describe, then the query or result). Exported for tests. */
export async function readWarmingJobFromTemporal(client: GetWarmingJobDeps['client'], jobId: string, budgetMs: number, now: () => number): Promise<TemporalRead> {
  const h = client.workflow.getHandle(jobId);
  const deadline = now() + budgetMs;
  let desc: WorkflowExecutionDescription;
  try {
    desc = await boundedTemporalCall(client, budgetMs, () => h.describe(), now);
  } catch (err) {
    return isNotFound(err) ? { kind: 'notFound' } : { kind: 'unreachable', cause: err };
  }
  // A workflow of another type under a warming-like id is not a warming job.
  if (desc.type !== CACHE_WARMING_WORKFLOW_TYPE) return { kind: 'notFound' };
  const owner = ownerOf(desc);
  const base = owner ? { owner } : {};
  const left = () => Math.max(250, deadline - now());
  try {
    if (desc.status.name === 'RUNNING' || desc.status.name === 'CONTINUED_AS_NEW') {
      const view = await boundedTemporalCall(client, left(), () => h.query(warmingStatusQuery), now);
      return { kind: 'live', ...base, view };
    }
    if (desc.status.name === 'COMPLETED') {
      const view = (await boundedTemporalCall(client, left(), () => h.result(), now)) as WarmingStatusView;
      return { kind: 'live', ...base, view };
    }
    // Terminated by an operator, timed out, failed or cancelled at the Temporal level: the workflow never wrote its
    // own terminal status (its record may still say RUNNING). Say how it ended.
    let why = desc.status.name.toLowerCase().replace('_', ' ');
    try {
      await boundedTemporalCall(client, left(), () => h.result(), now);
    } catch (err) {
      const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
      if (cause?.message) why = `${why}: ${cause.message.slice(0, 300)}`;
    }
    return {
      kind: 'ended',
      ...base,
      status: desc.status.name === 'CANCELLED' ? 'CANCELLED' : 'FAILED',
      reason: `the warming workflow was ${desc.status.name === 'TERMINATED' ? `terminated in Temporal (${why})` : why}`,
      ...(desc.closeTime ? { closedAtMs: desc.closeTime.getTime() } : {}),
      startedAtMs: desc.startTime.getTime(),
      ...searchAttrs(desc),
    };
  } catch (err) {
    const sa = desc.typedSearchAttributes;
    const shown = sa.get(RteBatchStatus);
    const progress = sa.get(RteBatchProgress);
    return { kind: 'visibility', ...base, ...(shown ? { shown } : {}), ...(progress ? { progress } : {}), startedAtMs: desc.startTime.getTime(), cause: err };
  }
}

function countsMessage(c: Record<WarmOutcome, number>) {
  return create(WarmingJobCountsSchema, {
    warmed: c.warmed,
    alreadyFresh: c.skipped_fresh,
    skippedCached: c.skipped_cached,
    failed: c.failed,
    cancelled: c.cancelled,
    pending: c.pending,
  });
}

/** The record's status words (WAITING = held or resolving; RUNNING covers WAITING / PAUSED) in the API's words. */
function durableStatus(s: WarmJobDurableState['status']): WarmingStatusName {
  return s === 'WAITING' ? 'PENDING' : s;
}

interface Shape {
  jobId: string;
  status: WarmingStatusName;
  reason: string;
  source: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  operations: string[];
  members: number;
  membersSkipped: number;
  counts?: Record<WarmOutcome, number>;
  failureReasons: Array<{ reason: string; count: number }>;
  createdAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  waitingUntilMs?: number;
  pausedBy?: string;
  asOfMs?: number;
}

function toResponse(s: Shape): GetWarmingJobResponse {
  return create(GetWarmingJobResponseSchema, {
    jobId: s.jobId,
    status: BatchStatus[s.status],
    reason: s.reason,
    source: s.source,
    priority: WARMING_PRIORITY_PROTO[s.priority],
    strategy: WARMING_STRATEGY_PROTO[s.strategy],
    operations: s.operations,
    members: s.members,
    membersSkipped: s.membersSkipped,
    ...(s.counts ? { counts: countsMessage(s.counts) } : {}),
    failureReasons: s.failureReasons,
    createdAt: timestampFromMs(s.createdAtMs),
    ...(s.startedAtMs !== undefined ? { startedAt: timestampFromMs(s.startedAtMs) } : {}),
    ...(s.finishedAtMs !== undefined ? { finishedAt: timestampFromMs(s.finishedAtMs) } : {}),
    ...(s.waitingUntilMs !== undefined ? { waitingUntil: timestampFromMs(s.waitingUntilMs) } : {}),
    ...(s.pausedBy ? { pausedBy: s.pausedBy } : {}),
    ...(s.asOfMs !== undefined ? { lastKnown: true, asOf: timestampFromMs(s.asOfMs) } : {}),
  });
}

/** The live answer: the workflow's view; counts and failure reasons from the records when they could be read. */
export function fromLiveView(view: WarmingStatusView, pg: WarmJobDurableState | undefined): Shape {
  const counts = pg?.counts ?? view.counters.outcomes;
  const explicit = view.failure ? `${view.failure.code}: ${view.failure.message}` : view.cancel ? `cancelled: ${view.cancel.reason}` : undefined;
  const waitingUntilMs = view.status === 'PENDING' ? (view.waitingUntilMs ?? (view.notBeforeMs !== undefined && !view.startedAtMs ? view.notBeforeMs : undefined)) : view.waitingUntilMs;
  const pendingHeld = view.status === 'PENDING' && waitingUntilMs !== undefined && view.phase === 'WAITING';
  return {
    jobId: view.jobId,
    status: view.status,
    reason: warmingJobReason({
      status: view.status,
      ...(explicit ? { explicit } : {}),
      counts,
      ...(pg?.failureReasons[0] ? { topReason: pg.failureReasons[0] } : {}),
      ...(view.pausedBy ? { pausedBy: view.pausedBy } : {}),
      ...(view.status === 'WAITING' || pendingHeld ? (waitingUntilMs !== undefined ? { waitingUntilMs } : {}) : {}),
      ...(view.status === 'WAITING' && view.window ? { window: view.window } : {}),
      ...(view.status === 'WAITING' && view.deferredByLoad ? { deferredByLoad: true } : {}),
      resolving: view.phase === 'RESOLVING',
    }),
    source: view.source,
    priority: view.priority,
    strategy: view.strategy,
    operations: view.operations,
    members: view.counters.members,
    membersSkipped: view.counters.membersSkipped,
    counts,
    failureReasons: pg?.failureReasons ?? [],
    createdAtMs: view.acceptedAtMs,
    ...(view.startedAtMs !== undefined ? { startedAtMs: view.startedAtMs } : {}),
    ...(view.finishedAtMs !== undefined ? { finishedAtMs: view.finishedAtMs } : {}),
    ...((view.status === 'WAITING' || pendingHeld) && waitingUntilMs !== undefined ? { waitingUntilMs } : {}),
    ...(view.status === 'PAUSED' && view.pausedBy ? { pausedBy: view.pausedBy } : {}),
  };
}

/** From the durable record alone (Temporal unreachable, or the workflow past retention): last-known. */
export function fromDurable(pg: WarmJobDurableState, override?: { status: WarmingStatusName; reason?: string; finishedAtMs?: number; pausedBy?: string; asOfMs?: number }): Shape {
  const status = override?.status ?? durableStatus(pg.status);
  const explicit = override?.reason ?? pg.reason;
  return {
    jobId: pg.jobId,
    status,
    reason: warmingJobReason({
      status,
      ...(explicit ? { explicit } : {}),
      counts: pg.counts,
      ...(pg.failureReasons[0] ? { topReason: pg.failureReasons[0] } : {}),
      ...(override?.pausedBy ? { pausedBy: override.pausedBy } : {}),
    }),
    source: pg.source,
    priority: pg.priority,
    strategy: pg.strategy,
    operations: pg.operations ?? [],
    members: pg.members ?? 0,
    membersSkipped: pg.membersSkipped,
    counts: pg.counts,
    failureReasons: pg.failureReasons,
    createdAtMs: pg.createdAtMs,
    ...(pg.startedAtMs !== undefined ? { startedAtMs: pg.startedAtMs } : {}),
    ...((override?.finishedAtMs ?? pg.finishedAtMs) !== undefined ? { finishedAtMs: (override?.finishedAtMs ?? pg.finishedAtMs)! } : {}),
    ...(status === 'PAUSED' && override?.pausedBy ? { pausedBy: override.pausedBy } : {}),
    ...(override && override.asOfMs === undefined ? {} : { asOfMs: override?.asOfMs ?? pg.updatedAtMs }),
  };
}

function unavailable(jobId: string, what: string, cause: unknown): ConnectError {
  return new ConnectError(
    `warming job ${jobId}: ${what}; retry after ${UNAVAILABLE_RETRY_AFTER_SECONDS} s`,
    Code.Unavailable,
    { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
    undefined,
    cause,
  );
}

export function createGetWarmingJobHandler(deps: GetWarmingJobDeps): GetWarmingJobHandler {
  const now = deps.now ?? Date.now;
  const budgetMs = deps.budgetMs ?? 2_500;
  return async (req, ctx) => {
    const p = requirePrincipal(ctx.values);
    const jobId = validateWarmingJobId(req.jobId);
    const [t, pgRead] = await Promise.all([
      readWarmingJobFromTemporal(deps.client, jobId, budgetMs, now),
      within(budgetMs, deps.jobs.read(jobId)).then(
        (state) => ({ ok: true as const, state }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
    ]);
    const pg = pgRead.ok ? pgRead.state : undefined;
    const notFound = () => new ConnectError(`warming job ${jobId} not found`, Code.NotFound);
    if (!pgRead.ok) deps.logger?.warn({ jobId, err: pgRead.err }, 'GetWarmingJob: warm records not read');

    // Who may see it: the WarmCache caller (memo, else record), or anyone with the scope for a platform job.
    const owner = (t.kind === 'live' || t.kind === 'ended' || t.kind === 'visibility' ? t.owner : undefined) ?? pg?.requestedBy;
    const visible = p.scopes.has(Scope.Admin) || (owner !== undefined ? owner === p.service : !isApiJob(jobId));

    if (t.kind === 'notFound' || t.kind === 'unreachable') {
      // Temporal does not know it (past retention) or cannot be asked: the durable record answers, last-known.
      if (pg) {
        if (!visible) throw notFound();
        if (t.kind === 'unreachable') deps.logger?.warn({ jobId, err: t.cause }, 'GetWarmingJob served last-known: Temporal could not be asked');
        return toResponse(fromDurable(pg));
      }
      if (t.kind === 'notFound' && pgRead.ok) throw notFound();
      throw unavailable(
        jobId,
        t.kind === 'notFound' ? 'not in Temporal, and its durable record could not be read' : 'Temporal could not be asked and the job has no readable durable record',
        t.kind === 'unreachable' ? t.cause : (pgRead as { err?: unknown }).err,
      );
    }
    if (!visible) throw notFound();
    if (t.kind === 'live') return toResponse(fromLiveView(t.view, pg));
    if (t.kind === 'ended') {
      if (pg) return toResponse(fromDurable(pg, { status: t.status, reason: t.reason, ...(t.closedAtMs !== undefined ? { finishedAtMs: t.closedAtMs } : {}) }));
      // Ended before it wrote its record (terminated at once): what Temporal holds (the start's search attributes).
      if (!pgRead.ok || !t.priority || !(t.priority in WARMING_PRIORITY_PROTO) || !t.strategy || !(t.strategy in WARMING_STRATEGY_PROTO)) {
        throw unavailable(jobId, `${t.reason}, and its durable record could not be read`, pgRead.ok ? undefined : pgRead.err);
      }
      return toResponse({
        jobId,
        status: t.status,
        reason: t.reason,
        source: t.source ?? '',
        priority: t.priority as WarmingPriority,
        strategy: t.strategy as WarmingStrategyName,
        operations: [],
        members: 0,
        membersSkipped: 0,
        failureReasons: [],
        createdAtMs: t.startedAtMs,
        ...(t.closedAtMs !== undefined ? { finishedAtMs: t.closedAtMs } : {}),
      });
    }
    // Visibility only: the status operators see (RteBatchStatus: PAUSED / WAITING included), the rest from the record.
    const shown = t.shown && STATUS_NAMES.has(t.shown) ? (t.shown as WarmingStatusName) : undefined;
    const pausedBy = shown === 'PAUSED' ? /^paused by (.+?) · /.exec(t.progress ?? '')?.[1] : undefined;
    if (pg) {
      deps.logger?.warn({ jobId, err: t.cause }, 'GetWarmingJob served last-known: the workflow did not answer its query');
      return toResponse(fromDurable(pg, { status: shown ?? durableStatus(pg.status), ...(pausedBy ? { pausedBy } : {}), asOfMs: pg.updatedAtMs }));
    }
    throw unavailable(jobId, 'its workflow did not answer in time and its durable record could not be read', t.cause);
  };
}
