import { create, fromJson, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { FeatureFlagProvider } from '../../directory/feature-flags';
import type { MemberDirectory } from '../../directory/member-directory';
import type { MemberPredictionRow, MemberPredictionStore } from '../../directory/member-predictions';
import { ActivityPredictionSchema, MemberContextSchema, MemberCronEventSchema } from '../../gen/rte/v1/events_pb';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { ErrorType, FieldError } from '../../lib/errors';
import { Topics } from '../../lib/kafka-topics';
import type { Logger } from '../../lib/logger';
import { isHighConfidencePrediction, PREDICTION_HORIZON_MS } from '../../lib/prediction/high-confidence';
import type { ActivityPredictor } from '../../lib/prediction/types';
import type { MemberCronCounts, MemberCronShardInput, MemberQueryJson } from '../../workflows/member-cron.defs';
import type { MemberListStore } from '../batch/ports';
import type { EmissionRateLimiter } from '../kafka/rate-limiter';
import type { EventPublisher, OutgoingEvent } from '../kafka/types';
import type { PredictionRecorder, RecordedPrediction } from '../prediction-accuracy/ports';
import { memberCronEventId } from './event-id';
import type { MemberCronMetrics } from './metrics';
import type { EmissionLedger, MemberActivitySource, MemberContextSource, MemberSnapshot } from './ports';

export const MEMBER_CRON_EVENT_SCHEMA = 'rte.v1.MemberCronEvent';
/** Flag (LaunchDarkly-shaped) consulted at run start: context kind `schedule`, key = schedule name. */
export const SCHEDULE_ENABLED_FLAG = 'member-cron-schedule-enabled';
/**
 * Per-sponsor override: context kind `sponsor` (key sponsor id, all schedules) and `sponsor-schedule`
 * (key `<sponsor>/<schedule>`). `false` for either excludes the sponsor's members from the run.
 */
export const SCHEDULE_OVERRIDE_FLAG = 'member-cron-schedule-override';

export interface MemberCronActivityDeps {
  directory: Pick<MemberDirectory, 'queryMembers'>;
  members: MemberContextSource;
  activity: MemberActivitySource;
  flags: FeatureFlagProvider;
  predictor: ActivityPredictor;
  publisher: EventPublisher;
  rateLimiter: EmissionRateLimiter;
  ledger: EmissionLedger;
  /** Keyed member hash (lib/member-hash.ts, closed over the secret). */
  hashMemberId: (memberId: string) => string;
  logger: Logger;
  clock?: () => number;
  /** Flags snapshotted into MemberContext.feature_flags, evaluated for the member's sponsor. */
  snapshotFlagKeys?: readonly string[];
  /** Days of lifecycle events the predictor looks at (default 90). */
  historyDays?: number;
  /**
   * The instant predictions are made for; default the scheduled time. Local synthetic populations pin
   * it to the population's reference time so the 90-day history lines up.
   */
  predictionTime?: (scheduledTime: Date) => Date;
  /** Events per publish call (and per rate-limiter acquire). Default 100. */
  publishChunkSize?: number;
  topic?: string;
  dlqTopic?: string;
  metrics?: MemberCronMetrics;
  /**
   * Online accuracy loop: high-confidence predictions of first-time emissions are recorded here after the
   * broker acknowledged them. Best effort: a failure is logged and counted, never fails the shard.
   */
  predictionOutcomes?: PredictionRecorder;
  /**
   * The directory's latest prediction per member (member_predictions, read by MemberQuery's probability filter and
   * sort). Written for the claimed members of a page before anything is published; see memberCronEmitShard.
   */
  predictions?: MemberPredictionStore;
  /**
   * Stored pages (the batch member-list table): since patch member-cron-page-refs-v1 a page's ids and the directory
   * cursor it is fetched from live here, and workflows pass references (see memberCronPageRef).
   */
  lists: MemberListStore;
}

export interface FetchPageInput {
  memberQuery: MemberQueryJson;
  cursor: string;
  pageSize: number;
}
export interface FetchPageResult {
  memberIds: string[];
  /** '' when this was the last page. */
  nextCursor: string;
}

/** A page fetched into the page store (member-cron-page-refs-v1): only references and counts cross history. */
export interface FetchPageRefInput {
  memberQuery: MemberQueryJson;
  pageSize: number;
  /** Where this page's ids go. */
  pageRef: string;
  /** The next page's ref: the cursor it is fetched from is stored at `<nextPageRef>#cursor`. */
  nextPageRef: string;
  /** Continue from the cursor stored at `<pageRef>#cursor` (written by the previous page's fetch). */
  cursorStored?: boolean;
  /** Continue from this cursor (carried over from a run before the patch). Neither: the first page. */
  cursor?: string;
}
export interface FetchPageRefResult {
  /** Ids stored at `pageRef` (first write wins, so a retried fetch reports what is stored). */
  count: number;
  /** Another page follows (its cursor is stored at `<nextPageRef>#cursor`). */
  more: boolean;
}

const cursorRef = (pageRef: string) => `${pageRef}#cursor`;

export interface EmitShardInput extends MemberCronShardInput {
  /** From this attempt on, events that still cannot be published go to the dead-letter topic. */
  deadLetterAfterAttempts: number;
}

interface ShardHeartbeat {
  emitted: number;
  deadLettered: number;
}

/** Heartbeat details are progress for operators only; counts come from the ledger (see memberCronEmitShard). */
function activityInfo(): { attempt: number; token: string; heartbeat: (d: ShardHeartbeat) => void } {
  try {
    const ctx = Context.current();
    return {
      attempt: ctx.info.attempt,
      // Stable across retries of this activity in this run, different for a rerun (new run id).
      token: `${ctx.info.workflowExecution?.runId ?? "standalone"}/${ctx.info.activityId}`,
      heartbeat: (d) => ctx.heartbeat(d),
    };
  } catch {
    return { attempt: 1, token: `local-${Math.random()}`, heartbeat: () => undefined };
  }
}

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function createMemberCronActivities(deps: MemberCronActivityDeps) {
  const clock = deps.clock ?? Date.now;
  const topic = deps.topic ?? Topics.memberCronEvents;
  const dlqTopic = deps.dlqTopic ?? Topics.memberCronEventsDlq;
  const chunkSize = deps.publishChunkSize ?? 100;
  const historyDays = deps.historyDays ?? 90;

  async function sponsorIncluded(scheduleName: string, sponsorIds: Iterable<string>): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    for (const s of sponsorIds) {
      const all = await deps.flags.variation(SCHEDULE_OVERRIDE_FLAG, { kind: 'sponsor', key: s }, true);
      const one = all && (await deps.flags.variation(SCHEDULE_OVERRIDE_FLAG, { kind: 'sponsor-schedule', key: `${s}/${scheduleName}` }, true));
      out.set(s, all && one);
    }
    return out;
  }

  async function flagSnapshot(sponsorIds: Iterable<string>): Promise<Map<string, Record<string, boolean>>> {
    const out = new Map<string, Record<string, boolean>>();
    for (const s of sponsorIds) {
      const flags: Record<string, boolean> = {};
      for (const key of deps.snapshotFlagKeys ?? []) flags[key] = await deps.flags.variation(key, { kind: 'sponsor', key: s }, false);
      out.set(s, flags);
    }
    return out;
  }

  function pageStore(): MemberListStore {
    return deps.lists;
  }

  async function fetchPage(memberQuery: MemberQueryJson, cursor: string, pageSize: number): Promise<FetchPageResult> {
    let query;
    try {
      query = fromJson(MemberQuerySchema, memberQuery as never);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`member_query: ${errMessage(err)}`, ErrorType.InvalidArgument);
    }
    query.cursor = cursor;
    query.limit = pageSize;
    try {
      const page = await deps.directory.queryMembers(query);
      return { memberIds: page.members.map((m) => m.memberId), nextCursor: page.nextCursor ?? '' };
    } catch (err) {
      if (err instanceof FieldError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.InvalidArgument);
      throw err;
    }
  }

  return {
    /** Schedule enablement (feature flag), consulted at the start of every run. */
    async memberCronIsEnabled(input: { scheduleName: string }): Promise<boolean> {
      return deps.flags.variation(SCHEDULE_ENABLED_FLAG, { kind: 'schedule', key: input.scheduleName }, true);
    },

    /**
     * One bounded page of matching members. Old runs: the ids plus the cursor of the next page. Since
     * member-cron-page-refs-v1 (input with `pageRef`): ids and next cursor are stored, and only a count returns.
     */
    async memberCronFetchPage<I extends FetchPageInput | FetchPageRefInput>(input: I): Promise<I extends FetchPageRefInput ? FetchPageRefResult : FetchPageResult> {
      type R = I extends FetchPageRefInput ? FetchPageRefResult : FetchPageResult;
      if (!('pageRef' in input)) return (await fetchPage(input.memberQuery, input.cursor, input.pageSize)) as R;
      const lists = pageStore();
      let cursor = input.cursor ?? '';
      if (input.cursorStored) {
        const [stored] = await lists.read(cursorRef(input.pageRef), 0, 1);
        if (stored === undefined) throw ApplicationFailure.nonRetryable(`member cron page ${input.pageRef}: its stored cursor is gone`, ErrorType.InvalidArgument);
        cursor = stored;
      }
      const page = await fetchPage(input.memberQuery, cursor, input.pageSize);
      await lists.write(input.pageRef, 0, page.memberIds);
      // The directory never returns an empty page with a next cursor; if it did, the run would end here.
      if (page.nextCursor !== '' && page.memberIds.length > 0) await lists.write(cursorRef(input.nextPageRef), 0, [page.nextCursor]);
      // Read back: a retried attempt reports what the first one stored (writes keep the first id at each index).
      const [count, next] = await Promise.all([lists.read(input.pageRef, 0, input.pageSize), lists.read(cursorRef(input.nextPageRef), 0, 1)]);
      return { count: count.length, more: next.length > 0 } as R;
    },

    /** Drops a finished shard's stored page and the cursor it was fetched from. */
    async memberCronReleasePage(input: { pageRef: string }): Promise<void> {
      const lists = pageStore();
      await lists.delete(input.pageRef);
      await lists.delete(cursorRef(input.pageRef));
    },
    /**
     * Predicts and emits one MemberCronEvent per member of the page, at most once per schedule tick:
     * claim markers (SET NX) → rate limit → publish (acks=all) → mark done. Events that still fail on
     * the dead-letter attempt go to the DLQ with the reason.
     */
    async memberCronEmitShard(input: EmitShardInput): Promise<MemberCronCounts> {
      const info = activityInfo();
      const scheduled = new Date(input.scheduledTime);
      const now = (deps.predictionTime ?? ((d: Date) => d))(scheduled);
      const frameShiftMs = scheduled.getTime() - now.getTime();
      // Shards since member-cron-page-refs-v1 name their stored page; older ones carry the ids.
      let memberIds: string[];
      if (input.memberIds) memberIds = input.memberIds;
      else if (input.pageRef !== undefined) {
        memberIds = await pageStore().read(input.pageRef, 0, input.count ?? 0);
        if (memberIds.length !== (input.count ?? 0)) {
          throw ApplicationFailure.nonRetryable(`member cron page ${input.pageRef} has ${memberIds.length} of ${input.count ?? 0} ids`, ErrorType.BatchMemberListIncomplete);
        }
      } else throw ApplicationFailure.nonRetryable('shard input has neither memberIds nor pageRef', ErrorType.InvalidArgument);
      const counts: MemberCronCounts = { scanned: memberIds.length, matched: 0, emitted: 0, duplicates: 0, skipped: 0, deadLettered: 0 };

      const snapshots = await deps.members.getMemberSnapshots(memberIds);
      const sponsors = new Set([...snapshots.values()].map((m) => m.sponsorId));
      const included = await sponsorIncluded(input.scheduleName, sponsors);
      const due: MemberSnapshot[] = [];
      for (const id of memberIds) {
        const m = snapshots.get(id);
        if (!m || !included.get(m.sponsorId)) counts.skipped++;
        else due.push(m);
      }
      counts.matched = due.length;

      const memberHashes = due.map((m) => deps.hashMemberId(m.memberId));
      const eventIds = memberHashes.map((h) => memberCronEventId(input.scheduleName, input.scheduledTime, h));
      const claims = await deps.ledger.claim(eventIds, info.token);
      const claimed: { member: MemberSnapshot; eventId: string; memberHash: string }[] = [];
      let busy = 0;
      let done = 0;
      let emittedEarlier = 0;
      let deadLetteredEarlier = 0;
      claims.forEach((c, i) => {
        const member = due[i];
        const eventId = eventIds[i];
        const memberHash = memberHashes[i];
        if (!member || !eventId || !memberHash) return;
        if (c === 'claimed') claimed.push({ member, eventId, memberHash });
        else if (c === 'emitted-by-token') emittedEarlier++;
        else if (c === 'dead-lettered-by-token') deadLetteredEarlier++;
        else if (c === 'done') done++;
        else busy++;
      });
      // Events an earlier attempt of this activity emitted or dead-lettered carry its token in the ledger.
      // That, not the heartbeat details, is the count to trust: the SDK throttles heartbeats, so after a
      // crash the recorded details can lag behind (or, for a crash right after the final heartbeat, match)
      // what was written - adding them to a recount would count twice.
      counts.emitted = emittedEarlier;
      counts.deadLettered = deadLetteredEarlier;
      counts.duplicates = done;

      // High-confidence predictions by event id, recorded once their event is acknowledged. Only events
      // claimed here can be recorded: the ledger hands each event to exactly one successful emission.
      const highConfidence = new Map<string, RecordedPrediction>();
      const run = { runKey: `${input.scheduleName}@${input.scheduledTime}`, predictedAt: scheduled.getTime(), horizonEnd: scheduled.getTime() + PREDICTION_HORIZON_MS };
      const recordPredictions = async (emittedIds: readonly string[]): Promise<void> => {
        if (!deps.predictionOutcomes) return;
        const preds = emittedIds.flatMap((id) => highConfidence.get(id) ?? []);
        if (preds.length === 0) return;
        try {
          const added = await deps.predictionOutcomes.recordPredictions(run, preds, clock());
          deps.metrics?.predictionsRecorded.inc({ schedule: input.scheduleName }, added);
        } catch (err) {
          deps.metrics?.predictionRecordFailures.inc({ schedule: input.scheduleName }, preds.length);
          deps.logger.warn({ err, schedule: input.scheduleName, page: input.page, predictions: preds.length }, 'member cron: high-confidence predictions not recorded (accuracy metric undercounts)');
        }
      };

      const snapshotsBySponsor = await flagSnapshot(new Set(claimed.map((c) => c.member.sponsorId)));
      const history = await deps.activity.getRecentEvents(
        claimed.map((c) => c.member.memberId),
        new Date(now.getTime() - historyDays * 86_400_000),
        now,
      );

      const ready: OutgoingEvent[] = [];
      const dead: { event: OutgoingEvent; reason: string }[] = [];
      const predictionRows: MemberPredictionRow[] = [];
      for (const { member, eventId, memberHash } of claimed) {
        try {
          const prediction = deps.predictor.predict({
            now: now.getTime(),
            timeZone: member.timeZone,
            events: history.get(member.memberId) ?? [],
            nextAppointmentAt: member.nextAppointmentAt?.getTime() ?? null,
            historyDays,
          });
          deps.metrics?.predictedProbability.observe({ model_version: prediction.modelVersion }, prediction.appUsageProbability);
          if (isHighConfidencePrediction(prediction)) highConfidence.set(eventId, { memberHash, probability: prediction.appUsageProbability });
          predictionRows.push({
            memberId: member.memberId,
            appUsageProbability: prediction.appUsageProbability,
            confidence: prediction.confidence,
            windowStartMs: prediction.predictedWindow ? prediction.predictedWindow.startMs + frameShiftMs : null,
            windowEndMs: prediction.predictedWindow ? prediction.predictedWindow.endMs + frameShiftMs : null,
            modelVersion: prediction.modelVersion,
            computedAtMs: scheduled.getTime(),
          });
          const event = create(MemberCronEventSchema, {
            memberId: member.memberId,
            accountId: member.memberId,
            scheduleName: input.scheduleName,
            cronExpression: input.cronExpression,
            emittedAt: timestampFromMs(clock()),
            context: create(MemberContextSchema, {
              sponsorId: member.sponsorId,
              populationIds: member.populationIds,
              featureFlags: snapshotsBySponsor.get(member.sponsorId) ?? {},
              hasRteEnabled: member.rteEnabled,
              ...(member.lastEligibilityCheckAt ? { lastEligibilityCheck: timestampFromMs(member.lastEligibilityCheckAt.getTime()) } : {}),
              predictedActivity: create(ActivityPredictionSchema, {
                appUsageProbability: prediction.appUsageProbability,
                predictedOperations: prediction.predictedOperations,
                confidence: prediction.confidence,
                modelVersion: prediction.modelVersion,
                // The model's frame is `now` (pinned for synthetic populations); the event's is the scheduled time.
                ...(prediction.predictedWindow
                  ? {
                      predictedWindowStart: timestampFromMs(prediction.predictedWindow.startMs + frameShiftMs),
                      predictedWindowEnd: timestampFromMs(prediction.predictedWindow.endMs + frameShiftMs),
                    }
                  : {}),
              }),
            }),
          });
          ready.push({
            topic,
            key: member.memberId,
            value: toBinary(MemberCronEventSchema, event),
            eventId,
            schema: MEMBER_CRON_EVENT_SCHEMA,
            headers: { 'schedule-name': input.scheduleName, 'scheduled-time': input.scheduledTime },
          });
        } catch (err) {
          // Building the event is deterministic: retrying cannot help, dead-letter right away.
          dead.push({
            event: { topic: dlqTopic, key: member.memberId, value: new Uint8Array(), eventId, schema: MEMBER_CRON_EVENT_SCHEMA },
            reason: `build failed: ${errMessage(err)}`,
          });
        }
      }

      const lastAttempt = info.attempt >= input.deadLetterAfterAttempts;

      // The directory's copy of these predictions, before anything is published: a failure releases the claims and
      // fails the attempt (nothing emitted, the retry predicts and writes again; the upsert is idempotent and never
      // lets an older tick overwrite a newer one). On the dead-letter attempt it no longer blocks emission: logged
      // and counted, the next tick writes them.
      if (deps.predictions && predictionRows.length > 0) {
        try {
          await deps.predictions.upsert(predictionRows);
        } catch (err) {
          if (!lastAttempt) {
            await deps.ledger.release(claimed.map((c) => c.eventId), info.token).catch(() => undefined);
            throw err;
          }
          deps.logger.warn({ err, schedule: input.scheduleName, page: input.page, predictions: predictionRows.length }, 'member cron: predictions not written to the directory');
        }
      }
      const progress = (): ShardHeartbeat => ({ emitted: counts.emitted, deadLettered: counts.deadLettered });
      for (let i = 0; i < ready.length; i += chunkSize) {
        const chunk = ready.slice(i, i + chunkSize);
        await deps.rateLimiter.acquire(chunk.length);
        try {
          await deps.publisher.publish(chunk);
          await deps.ledger.markDone(chunk.map((e) => e.eventId), info.token);
          counts.emitted += chunk.length;
          deps.metrics?.eventsEmitted.inc({ schedule: input.scheduleName }, chunk.length);
          deps.metrics?.emitLag.observe({ schedule: input.scheduleName }, Math.max(0, (clock() - scheduled.getTime()) / 1000));
          await recordPredictions(chunk.map((e) => e.eventId));
        } catch (err) {
          if (!lastAttempt) {
            await deps.ledger.release(ready.slice(i).map((e) => e.eventId), info.token).catch(() => undefined);
            info.heartbeat(progress());
            throw err;
          }
          // Dead-letter attempt: isolate the events that really cannot be written.
          const emittedSingly: string[] = [];
          for (const e of chunk) {
            try {
              await deps.publisher.publish([e]);
              await deps.ledger.markDone([e.eventId], info.token);
              counts.emitted++;
              emittedSingly.push(e.eventId);
              deps.metrics?.eventsEmitted.inc({ schedule: input.scheduleName });
            } catch (single) {
              dead.push({ event: { ...e, topic: dlqTopic }, reason: `publish failed after ${info.attempt} attempts: ${errMessage(single)}` });
            }
          }
          await recordPredictions(emittedSingly);
        }
        info.heartbeat(progress());
      }

      if (dead.length > 0) {
        await deps.publisher.publish(
          dead.map(({ event, reason }) => ({
            ...event,
            topic: dlqTopic,
            headers: { ...(event.headers ?? {}), 'dlq-reason': reason.slice(0, 1000), 'dlq-source-topic': topic, 'dlq-attempts': String(info.attempt) },
          })),
        );
        // Marked with this attempt's token, not done: a retry of this activity (say the worker dies before
        // completing) counts them once and does not re-send them; a later rerun of the tick (another token)
        // may claim and emit them once the cause is fixed. A crash before this mark re-sends the DLQ
        // messages (same event id, at least once) but still counts them once.
        await deps.ledger.markDeadLettered(dead.map((d) => d.event.eventId), info.token);
        counts.deadLettered += dead.length;
        for (const d of dead) deps.metrics?.eventsDeadLettered.inc({ schedule: input.scheduleName, reason: d.reason.startsWith('build') ? 'build' : 'publish' });
        deps.logger.warn({ schedule: input.scheduleName, page: input.page, deadLettered: dead.length }, 'member cron events dead-lettered');
        info.heartbeat(progress());
      }
      deps.metrics?.eventsDuplicate.inc({ schedule: input.scheduleName }, counts.duplicates);

      if (busy > 0) {
        // Another run of the same tick holds these leases; retry after it finished (or its lease lapsed).
        throw ApplicationFailure.retryable(`${busy} member(s) of this page are being emitted by another run of the same tick`, ErrorType.MemberCronEmissionBusy);
      }
      return counts;
    },
  };
}

export type MemberCronActivities = ReturnType<typeof createMemberCronActivities>;
