import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ErrorType } from '../../lib/errors';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecordSource } from '../../lib/member-record';
import type { EligibilityCache, EligibilityCacheEntry } from '../cache';
import type { EligibilityRefreshInput, EligibilityRefreshResult, RefreshSource } from '../../workflows/eligibility-refresh.defs';
import type { BatchOutcomeStore } from '../batch/ports';
import { memberFailureText, PAYER_ERROR } from '../../workflows/batch.defs';
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
  cache: Pick<EligibilityCache, 'get' | 'put'>;
  provider: StediProviderConfig;
  memberHashSecret: string;
  logger: Logger;
  metrics?: StediCallMetrics;
  /** Where batch members' outcomes go (WatchBatchStatus MEMBER_COMPLETED); absent: not recorded. */
  batchOutcomes?: Pick<BatchOutcomeStore, 'record'>;
  /** Where warming jobs' real-time warms are recorded (cache_warms); absent: not recorded. */
  warms?: Pick<WarmRecordStore, 'complete'>;
  now?: () => number;
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

  async function callStedi(input: EligibilityRefreshInput, memberHash: string): Promise<EligibilityVerdict> {
    const found = await deps.members.getMemberRecords([input.memberId]);
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
          throw err;
        }
      },
      { signal: ctx.cancellationSignal },
    );
  }

  return {
    /**
     * Waits for a fair share of the global real-time slots, makes one Stedi check, writes the normalized
     * result to the cache. Payer verdicts (active, inactive, "do not resubmit" AAA errors) are cached;
     * transient failures are thrown for Temporal to retry with backoff.
     */
    async refreshEligibility(input: EligibilityRefreshInput): Promise<EligibilityRefreshResult> {
      const memberHash = hashMemberId(deps.memberHashSecret, input.memberId);
      const log = deps.logger.child({ memberHash, operation: input.operation, requester: input.requester.kind });
      const ctx = Context.current();
      const startedAt = now();
      // Heartbeat while we queue for a slot and while Stedi answers (up to 90 s), so a dead worker is noticed.
      const beat = setInterval(() => ctx.heartbeat(), 5_000);
      try {
        if (input.satisfiedByFetchAfter !== undefined) {
          const current = await deps.cache.get(input.memberId, input.operation);
          if (current && current.fetchedAt >= input.satisfiedByFetchAfter) {
            log.debug('answered by a refresh that finished after the request; no Stedi call');
            return resultOf(current);
          }
        }
        let verdict: EligibilityVerdict;
        try {
          verdict = await callStedi(input, memberHash);
        } catch (err) {
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'eligibility refresh attempt failed');
          throw err;
        }
        const { summary, classification: c } = verdict;
        const result: 'success' | 'error' = verdict.coverageAnswer ? 'success' : 'error';
        const fetchedAt = now();
        const put = await deps.cache.put({
          memberId: input.memberId,
          operation: input.operation,
          summary,
          outcome: result,
          source: input.source,
          ...(summary.stediCheckId ? { stediCheckId: summary.stediCheckId } : {}),
          fetchedAt,
        });
        // A kept entry (newer answer, or a fresh success that an error must not replace) is what callers see.
        log.info({ outcome: result, status: summary.status, aaaCodes: c.aaaCodes, written: put.written }, 'eligibility refreshed');
        if (input.batchMember && deps.batchOutcomes) {
          await deps.batchOutcomes.record(input.batchMember.batchId, [
            {
              memberIndex: input.batchMember.index,
              memberId: input.memberId,
              success: put.entry.outcome === 'success',
              durationMs: now() - startedAt,
              ...(put.entry.outcome === 'error' ? { errorMessage: memberFailureText(PAYER_ERROR.code, PAYER_ERROR.message) } : {}),
            },
          ]);
        }
        if (input.requester.kind === 'warming' && deps.warms) {
          // The exact fetchedAt of the entry this warm wrote; a kept newer entry / kept fresh success says why not.
          await deps.warms.complete(input.requester.jobId, [
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
          ]);
        }
        return resultOf(put.entry);
      } finally {
        clearInterval(beat);
      }
    },
  };
}

export type EligibilityActivities = ReturnType<typeof createEligibilityActivities>;
