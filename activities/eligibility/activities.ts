import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ErrorType } from '../../lib/errors';
import { isInfrastructureError, withInfraRetry } from '../../lib/infra-retry';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecordSource } from '../../lib/member-record';
import type { CachePutResult, EligibilityCache, EligibilityCacheEntry } from '../cache';
import type { EligibilityRefreshInput, EligibilityRefreshResult, RefreshActivityInput, RefreshSource } from '../../workflows/eligibility-refresh.defs';
import type { BatchOutcomeStore, MemberListStore } from '../batch/ports';
import { memberFailureText, PAYER_ERROR } from '../../lib/batch/member-failure';
import type { StediGateway } from '../stedi/gateway';
import { checkEligibilityToVerdict, type EligibilityVerdict } from '../stedi/eligibility';
import { buildEligibilityRequest, type StediProviderConfig } from '../stedi/request-builder';
import type { SlotPool, SlotRequest } from '../slot-pool';
import type { WarmRecordStore } from '../warming/ports';

export interface StediCallMetrics {
  /** One real-time Stedi call; `source` says who it was for (interactive refresh, warming, a batch). */
  onStediCall(api: 'realtime', outcome: string, seconds: number, source: RefreshSource): void;
}

export interface EligibilityActivityDeps {
  members: MemberRecordSource;
  stedi: StediGateway;
  slots: SlotPool;
  cache: Pick<EligibilityCache, 'get' | 'put' | 'putMany'>;
  provider: StediProviderConfig;
  memberHashSecret: string;
  logger: Logger;
  metrics?: StediCallMetrics;
  /** Where batch members' outcomes go (WatchBatchStatus MEMBER_COMPLETED); absent: not recorded. */
  batchOutcomes?: Pick<BatchOutcomeStore, 'record'>;
  /** Batch member lists: a batch member's refresh names its list and index instead of the id (patch batch-member-refs-v1). */
  lists?: Pick<MemberListStore, 'read'>;
  /** Where warming jobs' real-time warms are recorded (cache_warms); absent: not recorded. */
  warms?: Pick<WarmRecordStore, 'complete'>;
  now?: () => number;
  /** Waits (Retry-After, infrastructure backoff); injected by tests. Must reject when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Time an attempt keeps for its last Stedi call (Stedi's own ~90 s limit) and the cache write after it. */
const FINAL_CALL_RESERVE_MS = 100_000;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function isThrottled(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.type === ErrorType.StediThrottled;
}

/**
 * What leaves the activity: ApplicationFailures as they are; an infrastructure fault that outlived the in-activity
 * retries as a retryable InfrastructureUnavailable; anything else as PlatformInternalError (retryable). A library's
 * class name (ioredis' MaxRetriesPerRequestError, ...) never becomes an error type callers see.
 */
function platformFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'CancelledFailure')) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isInfrastructureError(err)) {
    return ApplicationFailure.create({ type: ErrorType.InfrastructureUnavailable, message: `infrastructure unavailable: ${message}`.slice(0, 500), nonRetryable: false });
  }
  return ApplicationFailure.create({ type: ErrorType.Internal, message: `internal error: ${message}`.slice(0, 500), nonRetryable: false });
}

function slotRequestFor(input: EligibilityRefreshInput): SlotRequest {
  const r = input.requester;
  if (r.kind === 'interactive') return { kind: 'interactive' };
  if (r.kind === 'warming') return { kind: 'warming', priority: r.priority };
  return { kind: 'batch', clientService: r.clientService, priority: r.priority };
}

/** Aborts when any of the given signals aborts. */
function anySignal(signals: AbortSignal[]): AbortSignal {
  return AbortSignal.any(signals);
}

function resultOf(entry: EligibilityCacheEntry): EligibilityRefreshResult {
  return {
    outcome: entry.outcome,
    fetchedAt: entry.fetchedAt,
    expiresAt: entry.expiresAt,
    ...(entry.stediCheckId ? { stediCheckId: entry.stediCheckId } : {}),
  };
}

export function createEligibilityActivities(deps: EligibilityActivityDeps) {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? abortableSleep;

  /** This attempt's time budget: infrastructure retries and 429 waits stop where the last call must start. */
  function attemptDeadline(): number {
    const info = Context.current().info;
    return info.currentAttemptScheduledTimestampMs + info.startToCloseTimeoutMs - FINAL_CALL_RESERVE_MS;
  }

  function infra<T>(what: string, log: Logger, fn: () => Promise<T>): Promise<T> {
    const ctx = Context.current();
    return withInfraRetry(fn, {
      deadlineMs: attemptDeadline(),
      signal: ctx.cancellationSignal,
      sleep: (ms, signal) => sleep(ms, signal ?? ctx.cancellationSignal),
      onRetry: (err, attempt, delayMs) => {
        ctx.heartbeat();
        log.warn({ err: err instanceof Error ? err.message : String(err), attempt, delayMs: Math.round(delayMs) }, `${what}: infrastructure unavailable, retrying`);
      },
    });
  }

  /**
   * One Stedi call under a slot. A 429 never reached the payer, so it spends no attempt: the slot pool learns
   * the account is shared (lower effective limit), the slot is released, and after Retry-After the member
   * queues for a slot again, for as long as this attempt's budget allows.
   */
  async function callStediUntilAdmitted(input: EligibilityRefreshInput, memberHash: string, log: Logger): Promise<EligibilityVerdict> {
    const ctx = Context.current();
    for (let throttled = 0; ; throttled++) {
      try {
        return await infra('slot pool', log, () => callStedi(input, memberHash, log));
      } catch (err) {
        if (!isThrottled(err)) throw err;
        const wait = (err.nextRetryDelay !== undefined && err.nextRetryDelay !== null ? Number(err.nextRetryDelay) : 1_000) * (1 + Math.random() / 2);
        if (now() + wait > attemptDeadline()) throw err;
        ctx.heartbeat();
        log.info({ throttled: throttled + 1, waitMs: Math.round(wait) }, 'Stedi 429: slot returned, queueing again after Retry-After');
        await sleep(wait, ctx.cancellationSignal);
      }
    }
  }

  async function callStedi(input: EligibilityRefreshInput, memberHash: string, log: Logger): Promise<EligibilityVerdict> {
    const found = await infra('member directory', log, () => deps.members.getMemberRecords([input.memberId]));
    const member = found.get(input.memberId);
    if (!member) {
      throw ApplicationFailure.create({ type: ErrorType.MemberNotFound, message: `member ${memberHash} is not in the directory`, nonRetryable: true });
    }
    const ctx = Context.current();
    const request = buildEligibilityRequest({
      member: input.payerId ? { ...member, payerId: input.payerId } : member,
      provider: input.providerNpi ? { ...deps.provider, npi: input.providerNpi } : deps.provider,
      serviceTypeCodes: input.serviceTypeCodes,
      // Same seed on every retry of this refresh, so Stedi sees the same control number.
      controlNumberSeed: `${ctx.info.workflowExecution?.workflowId ?? memberHash}:${input.operation}`,
    });
    return deps.slots.withSlot(
      slotRequestFor(input),
      async (lease) => {
        const started = now();
        try {
          const verdict = await checkEligibilityToVerdict(deps.stedi, request, { signal: anySignal([lease.signal, ctx.cancellationSignal]) });
          deps.metrics?.onStediCall('realtime', verdict.classification.kind, (now() - started) / 1000, input.source);
          return verdict;
        } catch (err) {
          const kind = err instanceof ApplicationFailure && err.type ? err.type : 'exception';
          deps.metrics?.onStediCall('realtime', kind, (now() - started) / 1000, input.source);
          if (isThrottled(err)) await deps.slots.reportThrottled?.(lease);
          throw err;
        }
      },
      // A retry (the member's earlier attempt already had its turn at the pool, and usually reached Stedi) waits
      // ahead of its queue's first-time callers: a finite batch's retries take the next free slot instead of
      // queueing behind its look-ahead and ending last (issue 14, finite-batch tail).
      { signal: ctx.cancellationSignal, ...(ctx.info.attempt > 1 ? { ahead: true } : {}) },
    );
  }

  /** The input with its member id: given (interactive, older batches) or read from the batch's list by index. */
  async function resolveMember(given: RefreshActivityInput): Promise<EligibilityRefreshInput> {
    if (typeof given.memberId === 'string' && given.memberId !== '') return { ...given, memberId: given.memberId };
    const ref = given.batchMember;
    if (!ref?.listRef || !deps.lists) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidArgument, message: 'refresh input has neither memberId nor batchMember.listRef', nonRetryable: true });
    }
    const lists = deps.lists;
    const listRef = ref.listRef;
    const [memberId] = await infra('member list', deps.logger, () => lists.read(listRef, ref.index, 1));
    if (!memberId) {
      throw ApplicationFailure.create({ type: ErrorType.BatchMemberListIncomplete, message: `member list has no id at ${ref.index}`, nonRetryable: true });
    }
    return { ...given, memberId, batchMember: { batchId: ref.batchId, index: ref.index } };
  }

  return {
    /**
     * Waits for a fair share of the global real-time slots, makes one Stedi check, writes the normalized
     * result to the cache. Payer verdicts (active, inactive, "do not resubmit" AAA errors, and payer
     * connectivity "retry later" AAA 42/79/80 answers, with the error TTL) are cached; transient failures
     * (429, HTTP 5xx, network) are thrown for Temporal to retry with backoff.
     */
    async refreshEligibility(given: RefreshActivityInput): Promise<EligibilityRefreshResult> {
      const input = await resolveMember(given);
      const memberHash = hashMemberId(deps.memberHashSecret, input.memberId);
      const log = deps.logger.child({ memberHash, operation: input.operation, requester: input.requester.kind });
      const ctx = Context.current();
      const startedAt = now();
      // Heartbeat while we queue for a slot and while Stedi answers (up to 90 s), so a dead worker is noticed.
      const beat = setInterval(() => ctx.heartbeat(), 5_000);
      const recordBatchOutcome = async (entry: EligibilityCacheEntry): Promise<void> => {
        if (!input.batchMember || !deps.batchOutcomes) return;
        const outcomes = deps.batchOutcomes;
        const batchMember = input.batchMember;
        await infra('batch outcome store', log, () =>
          outcomes.record(batchMember.batchId, [
            {
              memberIndex: batchMember.index,
              memberId: input.memberId,
              success: entry.outcome === 'success',
              durationMs: now() - startedAt,
              ...(entry.outcome === 'error' ? { errorMessage: memberFailureText(PAYER_ERROR.code, PAYER_ERROR.message) } : {}),
            },
          ]),
        );
      };
      const recordWarm = async (put: CachePutResult): Promise<void> => {
        if (input.requester.kind !== 'warming' || !deps.warms) return;
        const warms = deps.warms;
        const jobId = input.requester.jobId;
        // The exact fetchedAt of the entry this warm wrote; a kept newer entry / kept fresh success says why not.
        await infra('warm record store', log, () =>
          warms.complete(jobId, [
            put.written
              ? {
                  memberId: input.memberId,
                  operation: input.operation,
                  fetchedAt: put.entry.fetchedAt,
                  outcome: put.entry.outcome === 'success' ? 'warmed' : 'failed',
                  ...(put.entry.outcome === 'error' ? { reason: memberFailureText(PAYER_ERROR.code, PAYER_ERROR.message) } : {}),
                }
              : put.reason === 'newer-entry'
                ? { memberId: input.memberId, operation: input.operation, fetchedAt: null, outcome: 'skipped_fresh', reason: 'a newer entry was written meanwhile' }
                : { memberId: input.memberId, operation: input.operation, fetchedAt: null, outcome: 'failed', reason: memberFailureText(PAYER_ERROR.code, 'payer error not cached over a fresh success') },
          ]),
        );
      };
      try {
        if (input.satisfiedByFetchAfter !== undefined) {
          const current = await infra('cache', log, () => deps.cache.get(input.memberId, input.operation));
          if (current && current.fetchedAt >= input.satisfiedByFetchAfter) {
            log.debug('answered by a refresh that finished after the request; no Stedi call');
            return { ...resultOf(current), stediCalls: 0 };
          }
        }
        // A retried attempt (worker crash, Temporal outage, a failed write after the call) reuses the answer an
        // earlier attempt of this same activity already stored, instead of calling Stedi again.
        if (ctx.info.attempt > 1) {
          const stored = await infra('cache', log, () => deps.cache.get(input.memberId, input.operation));
          if (stored && stored.fetchedAt >= ctx.info.scheduledTimestampMs) {
            log.info({ attempt: ctx.info.attempt, stediCheckId: stored.stediCheckId }, 'earlier attempt already stored the answer; no Stedi call');
            await recordBatchOutcome(stored);
            await recordWarm({ written: true, entry: stored });
            // The call did reach Stedi, in the earlier attempt of this same activity that could not report it.
            return { ...resultOf(stored), stediCalls: 1 };
          }
        }
        let verdict: EligibilityVerdict;
        try {
          verdict = await callStediUntilAdmitted(input, memberHash, log);
        } catch (err) {
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'eligibility refresh attempt failed');
          throw platformFailure(err);
        }
        const { summary, classification: c } = verdict;
        const result: 'success' | 'error' = verdict.coverageAnswer ? 'success' : 'error';
        const fetchedAt = now();
        const put = await infra('cache', log, () => deps.cache.put({
          memberId: input.memberId,
          operation: input.operation,
          summary,
          outcome: result,
          source: input.source,
          ...(summary.stediCheckId ? { stediCheckId: summary.stediCheckId } : {}),
          fetchedAt,
        }));
        // A kept entry (newer answer, or a fresh success that an error must not replace) is what callers see.
        // A payer connectivity answer (AAA 42/79/80) is cached like any payer error (error TTL, 5 min by default) and
        // not retried here: the next request inside the TTL is answered from the cache instead of 5 more Stedi calls.
        log.info({ outcome: result, status: summary.status, aaaCodes: c.aaaCodes, retryLater: verdict.retryLater, written: put.written }, 'eligibility refreshed');
        await recordBatchOutcome(put.entry);
        await recordWarm(put);
        return { ...resultOf(put.entry), stediCalls: 1 };
      } catch (err) {
        throw platformFailure(err);
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type EligibilityActivities = ReturnType<typeof createEligibilityActivities>;
