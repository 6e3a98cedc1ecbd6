import { create, toBinary } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ApplicationFailure } from '@temporalio/activity';
import type { Logger } from 'pino';
import { CacheWarmingEvent_EventType, CacheWarmingEventSchema } from '../../gen/rte/v1/events_pb';
import { EventHeaders } from '../../lib/kafka-topics';
import { anyWindowLoadBand, pageDueMs, scheduleMember } from '../../lib/batch/windows';
import type { MemberRecordSource } from '../../lib/member-record';
import { decideWarm } from '../../lib/warming/decide';
import { WARMING_PRIORITY_PROTO, WARMING_STRATEGY_PROTO } from '../../lib/warming/proto-enums';
import { warmingJobReason } from '../../lib/warming/reasons';
import type { WarmOutcome, WarmPath, WarmingPriority, WarmingStrategyName } from '../../lib/warming/types';
import type { BatchErrorStore, MemberListStore, StediLoadSource } from '../batch/ports';
import type { EligibilityCache } from '../cache';
import type { EventPublisher } from '../kafka/types';
import { decisionKey, type ChildRunReader, type WarmDecisionRow, type WarmJobReader, type WarmJobRecord, type WarmRecordStore } from './ports';

export interface WarmingActivityDeps {
  lists: MemberListStore;
  errors: Pick<BatchErrorStore, 'page'>;
  cache: Pick<EligibilityCache, 'getMany'>;
  warms: WarmRecordStore;
  events: EventPublisher;
  /** hashMemberId with the cache key secret (the hash cache_warms stores). */
  hash: (memberId: string) => string;
  /** Real-time slot utilisation (estimates only). */
  load?: StediLoadSource;
  /** Members' time zones, for when the slot-load rule defers non-URGENT real-time warms (estimates only). */
  directory?: MemberRecordSource;
  /** The job's durable record (counts, failure reasons): a FAILED event without its own message says why from it. */
  jobs?: WarmJobReader;
  /** A terminated child's own history (the operator's reason), for its warms' failure reason. */
  childRuns?: ChildRunReader;
  logger: Logger;
  now?: () => number;
}

export interface PlanWarmingPageInput {
  jobId: string;
  source: string;
  priority: WarmingPriority;
  strategy: WarmingStrategyName;
  operations: string[];
  listRef: string;
  page: number;
  start: number;
  count: number;
  acceptedAtMs: number;
  notBeforeMs?: number;
  horizonUntilMs?: number;
}

export interface WarmGroup {
  operation: string;
  path: 'realtime' | 'batch_api';
  /** Staged ids of this group (read by the child batch, which drops the list when it finishes). */
  listRef: string;
  count: number;
}

export interface PlanWarmingPageResult {
  members: number;
  /** Members every requested operation of which was skipped (fresh / already cached). */
  membersSkipped: number;
  entries: { skippedFresh: number; skippedCached: number; realtime: number; batchApi: number };
  groups: WarmGroup[];
  /** Free real-time slots now (for WarmCache's estimate), when the load source is wired. */
  freeSlots?: number;
  /**
   * Non-URGENT real-time warms under slot load (utilisation ≥ 0.3): their child batch (window ANY, priority NORMAL /
   * LOW) is deferred by the ANY window's load rule. This is when its last member is planned to start by that rule
   * (the same rule, time zones and seed as the child), as the load stands now; absent when they start at once.
   */
  realtimeDeferredUntilMs?: number;
  /**
   * BACKGROUND batch-API warms: their child batch waits for the LOW_UTILIZATION window in its members' own time zones.
   * This is when the latest of those children submits to Stedi (the same planning and seed as the child).
   */
  batchApiStartsAtMs?: number;
}

export interface FinalizeWarmPageInput {
  jobId: string;
  listRef: string;
  start: number;
  count: number;
  operations: string[];
  /** `terminated`: the child was terminated in Temporal (its failure is then only Temporal's "Terminated"). */
  children: Array<{ batchId: string; operation: string; path: 'realtime' | 'batch_api'; status: string; failure?: string; terminated?: boolean }>;
}

/** What the parent sees of a terminated child (TerminatedFailure's message), from runs that did not flag it. */
const BARE_TERMINATED = 'Terminated';
/** A cancelled child batch's failure as workflows/warming.ts passes it (`<code>: <message>`, code CANCELLED). */
const CHILD_CANCELLED_PREFIX = 'CANCELLED: ';

export interface WarmingEventInput {
  topic: string;
  eventId: string;
  eventType: 'QUEUED' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  jobId: string;
  source: string;
  scheduleName?: string;
  strategy: WarmingStrategyName;
  priority: WarmingPriority;
  operations: string[];
  membersRequested: number;
  membersWarmed: number;
  membersSkipped: number;
  membersFailed: number;
  /** CANCELLED: member × operation warms the cancel left undone. */
  membersCancelled?: number;
  durationMs?: number;
  errorMessage?: string;
  occurredAtMs: number;
}

const WARMING_EVENT_TYPE_PROTO: Record<WarmingEventInput['eventType'], CacheWarmingEvent_EventType> = {
  QUEUED: CacheWarmingEvent_EventType.QUEUED,
  COMPLETED: CacheWarmingEvent_EventType.COMPLETED,
  FAILED: CacheWarmingEvent_EventType.FAILED,
  CANCELLED: CacheWarmingEvent_EventType.CANCELLED,
};

export function warmGroupListRef(jobId: string, page: number, operation: string, path: WarmPath): string {
  return `${jobId}/p${page}/${operation}/${path}`;
}

export function createWarmingActivities(deps: WarmingActivityDeps) {
  const now = deps.now ?? Date.now;

  /**
   * When the child batches of `planned` start, by the same planning as their planMembers: each member in its own time
   * zone, seeded by its child batch's id (workflows/warming.ts names it `<job>/p<page>/<operation>/<path>`), at the
   * child's position in its group. Real-time groups (deferred by the ANY window's load rule): when their last member
   * starts. Batch-API groups: when their Stedi submission is due (pageDueMs; a group of at most a warming page fits in
   * one batch-API chunk). The latest over the groups. Without a directory the platform's default zone is assumed.
   */
  async function plannedChildStart(
    planned: WarmGroup[],
    groups: Map<string, { operation: string; path: 'realtime' | 'batch_api'; ids: string[] }>,
    window: 'ANY' | 'LOW_UTILIZATION',
    load: number,
    nowMs: number,
  ): Promise<number> {
    let latest = nowMs;
    for (const g of planned) {
      const ids = groups.get(`${g.operation}|${g.path}`)?.ids ?? [];
      if (ids.length === 0) continue;
      const records = deps.directory ? await deps.directory.getMemberRecords(ids).catch(() => new Map<string, { timeZone: string }>()) : new Map<string, { timeZone: string }>();
      const seed = g.listRef; // = the child batch's id (warmGroupListRef), the seed its planMembers uses
      const times = ids.map((id, k) => scheduleMember({ window, nowMs, timeZone: records.get(id)?.timeZone ?? null, seed, position: k, groupSize: ids.length, load }).atMs);
      latest = Math.max(latest, g.path === 'realtime' ? Math.max(...times) : pageDueMs(times, 'batch'));
    }
    return latest;
  }
  return {
    async warmingUpsertJob(job: WarmJobRecord): Promise<void> {
      await deps.warms.upsertJob(job);
    },

    /**
     * One page of a warming job: ONE bulk cache read (MGET) for every member × operation, the pure strategy
     * decision per pair, the decisions stored (first write wins, so a retry re-derives the same groups), and the
     * members to fetch staged as one id list per (operation, path) for the child batches.
     */
    async planWarmingPage(input: PlanWarmingPageInput): Promise<PlanWarmingPageResult> {
      const ids = await deps.lists.read(input.listRef, input.start, input.count);
      if (ids.length !== input.count) {
        throw ApplicationFailure.create({ type: 'WarmingMemberListIncomplete', message: `member list has ${ids.length} of ${input.count} ids at ${input.start}`, nonRetryable: true });
      }
      const pairs = ids.flatMap((memberId) => input.operations.map((operation) => ({ memberId, operation })));
      const entries = await deps.cache.getMany(pairs);
      const at = now();
      const rows: WarmDecisionRow[] = pairs.map((p, k) => {
        // INTELLIGENT judges freshness through the job's horizon (the predicted use), when it has one.
        const d = decideWarm(input.strategy, input.priority, entries[k] ?? null, at, input.horizonUntilMs);
        return d.action === 'skip'
          ? { ...p, path: 'none', outcome: d.outcome, reason: d.reason }
          : { ...p, path: d.path, outcome: 'pending', startedAtMs: at };
      });
      const { stored } = await deps.warms.decide(
        {
          jobId: input.jobId,
          source: input.source,
          priority: input.priority,
          acceptedAtMs: input.acceptedAtMs,
          ...(input.notBeforeMs !== undefined ? { notBeforeMs: input.notBeforeMs } : {}),
          ...(input.horizonUntilMs !== undefined ? { horizonUntilMs: input.horizonUntilMs } : {}),
        },
        rows,
      );
      const groups = new Map<string, { operation: string; path: 'realtime' | 'batch_api'; ids: string[] }>();
      const e = { skippedFresh: 0, skippedCached: 0, realtime: 0, batchApi: 0 };
      const skippedPerMember = new Map<string, number>();
      for (const p of pairs) {
        const s = stored.get(decisionKey(deps.hash(p.memberId), p.operation));
        if (!s) throw new Error('warm decision not stored');
        // Only pairs still to fetch (pending) go to a child; a retried plan skips pairs already settled.
        if (s.path === 'none') {
          if (s.outcome === 'skipped_fresh') e.skippedFresh++;
          else e.skippedCached++;
          skippedPerMember.set(p.memberId, (skippedPerMember.get(p.memberId) ?? 0) + 1);
          continue;
        }
        if (s.path === 'realtime') e.realtime++;
        else e.batchApi++;
        if (s.outcome !== 'pending') continue;
        const key = `${p.operation}|${s.path}`;
        const g = groups.get(key) ?? { operation: p.operation, path: s.path as 'realtime' | 'batch_api', ids: [] };
        g.ids.push(p.memberId);
        groups.set(key, g);
      }
      const out: WarmGroup[] = [];
      for (const g of groups.values()) {
        const listRef = warmGroupListRef(input.jobId, input.page, g.operation, g.path);
        await deps.lists.write(listRef, 0, g.ids);
        out.push({ operation: g.operation, path: g.path, listRef, count: g.ids.length });
      }
      const membersSkipped = [...skippedPerMember.values()].filter((n) => n === input.operations.length).length;
      let freeSlots: number | undefined;
      let realtimeDeferredUntilMs: number | undefined;
      if (deps.load && e.realtime > 0) {
        const l = await deps.load.load().catch(() => undefined);
        if (l) {
          freeSlots = Math.max(0, l.limit - l.inUse);
          // The child batch's own load figure (getStediLoad) and rule (batchPriorityFor: URGENT → HIGH ignores load).
          const load = Math.min(1, l.inUse / Math.max(1, l.limit));
          if (input.priority !== 'URGENT' && anyWindowLoadBand(load) > 0) {
            realtimeDeferredUntilMs = await plannedChildStart(out.filter((g) => g.path === 'realtime'), groups, 'ANY', load, at);
          }
        }
      }
      // BACKGROUND batch-API children wait for their members' LOW_UTILIZATION window (workflows/warming.ts childInput).
      const batchApi = out.filter((g) => g.path === 'batch_api');
      const batchApiStartsAtMs = input.priority === 'BACKGROUND' && batchApi.length > 0 ? await plannedChildStart(batchApi, groups, 'LOW_UTILIZATION', 0, at) : undefined;
      return {
        members: ids.length,
        membersSkipped,
        entries: e,
        groups: out,
        ...(freeSlots !== undefined ? { freeSlots } : {}),
        ...(realtimeDeferredUntilMs !== undefined ? { realtimeDeferredUntilMs } : {}),
        ...(batchApiStartsAtMs !== undefined ? { batchApiStartsAtMs } : {}),
      };
    },

    /**
     * After a page's children finished: every warm still pending gets its final outcome and reason (the child's
     * recorded member error, else cancelled when the child was cancelled, else failed). Returns the job's counts.
     */
    async finalizeWarmPage(input: FinalizeWarmPageInput): Promise<Record<WarmOutcome, number>> {
      const ids = await deps.lists.read(input.listRef, input.start, input.count);
      const settle: Parameters<WarmRecordStore['settlePending']>[1][number][] = [];
      for (const child of input.children) {
        let failure = child.failure;
        if (child.terminated === true || (child.status === 'FAILED' && failure === BARE_TERMINATED)) {
          // In the parent's words for a terminated job (GetWarmingJob), with the operator's reason from the child's run.
          const why = await deps.childRuns?.terminationReason(child.batchId).catch((err: unknown) => {
            deps.logger.warn({ err, batchId: child.batchId }, 'terminated child batch: its termination reason was not read');
            return undefined;
          });
          failure = `the child batch workflow was terminated in Temporal${why ? ` (terminated: ${why})` : ''}`;
        }
        // A cancelled child reports its failure code in capitals ("CANCELLED: <reason>"); warms the job settles itself
        // read "cancelled: <reason>". One spelling, so failure_reasons counts one cancel once (probe p15 #5).
        if (child.status === 'CANCELLED' && failure?.startsWith(CHILD_CANCELLED_PREFIX)) failure = `cancelled: ${failure.slice(CHILD_CANCELLED_PREFIX.length)}`;
        const reasons = new Map<string, string>();
        for (let after = -1; ; ) {
          const p = await deps.errors.page(child.batchId, after, 1000);
          for (const e of p.errors) reasons.set(e.memberId, `${e.errorCode}: ${e.errorMessage}`);
          if (p.errors.length < 1000) break;
          after = p.errors[p.errors.length - 1]!.memberIndex;
        }
        const cancelled = child.status === 'CANCELLED';
        for (const memberId of ids) {
          const why = reasons.get(memberId);
          settle.push(
            why
              ? { memberId, operation: child.operation, path: child.path, outcome: 'failed', reason: why.slice(0, 500) }
              : cancelled
                ? { memberId, operation: child.operation, path: child.path, outcome: 'cancelled', reason: failure ?? 'warming job cancelled' }
                : { memberId, operation: child.operation, path: child.path, outcome: 'failed', reason: failure ?? `no result recorded (child batch ${child.status})` },
          );
        }
      }
      await deps.warms.settlePending(input.jobId, settle);
      return deps.warms.counts(input.jobId);
    },

    /** Job cancelled or failed as a whole: every warm still pending is final now, with the reason. */
    async settleWarmingJob(input: { jobId: string; outcome: 'failed' | 'cancelled'; reason: string }): Promise<Record<WarmOutcome, number>> {
      await deps.warms.settleAllPending(input.jobId, input.outcome, input.reason);
      return deps.warms.counts(input.jobId);
    },

    async warmingCounts(input: { jobId: string }): Promise<Record<WarmOutcome, number>> {
      return deps.warms.counts(input.jobId);
    },

    async releaseWarmingList(input: { listRef: string }): Promise<void> {
      await deps.lists.delete(input.listRef);
      // A member_query job's directory cursors (resolveQueryPage keeps them next to the list).
      await deps.lists.delete(`${input.listRef}#cursor`);
    },

    /** CacheWarmingEvent (protobuf) on domain.rte.v1.cache_warming_events, keyed by job id. */
    async publishWarmingEvent(input: WarmingEventInput): Promise<void> {
      const type = WARMING_EVENT_TYPE_PROTO[input.eventType];
      // A job that failed because every warm failed has no failure of its own: say why as GetWarmingJob does
      // ("2 failed of 2 warms; most common: …"), from the job's warm records. Read here, not in the workflow, so
      // the workflow's history is unchanged (saved histories replay).
      let errorMessage = input.errorMessage ?? '';
      if (input.eventType === 'FAILED' && !errorMessage) {
        const job = await deps.jobs?.read(input.jobId).catch((err: unknown) => {
          deps.logger.warn({ err, jobId: input.jobId }, 'warming job record not read for the FAILED event; it says only that no warm succeeded');
          return undefined;
        });
        const top = job?.failureReasons[0];
        errorMessage = warmingJobReason({ status: 'FAILED', ...(job ? { counts: job.counts } : {}), ...(top ? { topReason: top } : {}) });
      }
      const msg = create(CacheWarmingEventSchema, {
        eventId: input.eventId,
        occurredAt: timestampFromMs(input.occurredAtMs),
        eventType: type,
        warmingJobId: input.jobId,
        source: input.source,
        scheduleName: input.scheduleName ?? '',
        strategy: WARMING_STRATEGY_PROTO[input.strategy],
        priority: WARMING_PRIORITY_PROTO[input.priority],
        membersRequested: input.membersRequested,
        membersWarmed: input.membersWarmed,
        membersSkipped: input.membersSkipped,
        membersFailed: input.membersFailed,
        membersCancelled: input.membersCancelled ?? 0,
        operations: input.operations,
        ...(input.durationMs !== undefined ? { duration: durationFromMs(Math.max(0, input.durationMs)) } : {}),
        errorMessage,
      });
      await deps.events.publish([
        {
          topic: input.topic,
          key: input.jobId,
          value: toBinary(CacheWarmingEventSchema, msg),
          eventId: input.eventId,
          schema: CacheWarmingEventSchema.typeName,
          headers: { [EventHeaders.eventId]: input.eventId, 'event-type': input.eventType },
        },
      ]);
      deps.logger.info({ jobId: input.jobId, eventType: input.eventType, source: input.source }, 'cache warming event published');
    },
  };
}

export type WarmingActivities = ReturnType<typeof createWarmingActivities>;
