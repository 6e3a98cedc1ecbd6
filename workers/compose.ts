import path from 'node:path';
import { withNonRetryableFieldErrors } from '../activities/field-errors';
import { create } from '@bufbuild/protobuf';
import type { RedisClient } from '../lib/redis-client';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { MemberQuerySchema } from '../gen/rte/v1/member_query_pb';
import { createBatchActivities } from '../activities/batch/activities';
import { createPromBatchMetrics } from '../activities/batch/metrics';
import type { BatchMemberDirectory } from '../activities/batch/ports';
import { createPgBatchErrorStore, createPgBatchOutcomeStore, createPgMemberListStore } from '../activities/batch/pg-stores';
import { createConfiguredEligibilityCache } from '../activities/cache';
import { createEligibilityActivities, hedgeLosersSettled, type EligibilityActivityDeps } from '../activities/eligibility/activities';
import { createRealtimeChunkActivities } from '../activities/eligibility/realtime-chunk';
import { createRedisHedgeBudget } from '../activities/eligibility/hedge-budget';
import { DEFAULT_HEDGE_CONFIG } from '../activities/eligibility/hedge-policy';
import { createPgBatchProgressReader } from '../activities/batch/pg-progress-reader';
import { RedisTokenBucket, type EventPublisher } from '../activities/kafka';
import { createMemberCronActivities, createMemberCronMetrics, memberCronScheduleNames, PgMemberCronSources, RedisEmissionLedger } from '../activities/member-cron';
import { RedisPredictionOutcomeStore } from '../activities/prediction-accuracy';
import { createRedisSlotPool, type SlotPool } from '../activities/slot-pool';
import { createHttpStediGateway } from '../activities/stedi/gateway';
import { meterStediBatchCalls, stediBatchCallRecorder } from '../activities/stedi/metered-gateway';
import { createStaticWebhookSecretStore, createWebhookActivities } from '../activities/webhooks/activities';
import { PgFeatureFlagProvider } from '../directory/feature-flags';
import type { MemberDirectory } from '../directory/member-directory';
import { createPgMemberPredictionStore } from '../directory/member-predictions';
import type { AppConfig } from '../lib/config';
import { hashMemberId } from '../lib/member-hash';
import type { Metrics } from '../lib/metrics';
import { RuleBasedActivityPredictor } from '../lib/prediction';
import type { Kafka } from 'kafkajs';
import type { WarmingIntake } from '../lib/warming/types';
import { createMemberCronConsumer, createMemberCronConsumerMetrics, type MemberCronConsumer } from '../activities/warming/member-cron-consumer';
import { createWarmingActivities } from '../activities/warming/activities';
import { createPgWarmJobReader } from '../activities/warming/pg-warm-job-reader';
import { createPromWarmingMetrics } from '../activities/warming/metrics';
import { createPgWarmRecordStore } from '../activities/warming/pg-warm-store';
import { createTemporalChildRunReader } from '../activities/warming/temporal-child-runs';
import { Context } from '@temporalio/activity';
import { createTerminalSweepActivities, createTerminalSweepMetrics } from '../activities/batch/terminal-sweep';
import { createTemporalEndedBatches } from './ended-batches';
// The WarmingIntake factory (member-cron consumer → cache-warming jobs): createWarmingIntake(client, lists, { taskQueue }).
export { createWarmingIntake } from '../lib/temporal/warming-jobs';
import { createWarmingIntake as createWarmingIntakeAdapter, warmingTuningFromConfig } from '../lib/temporal/warming-jobs';
import type { Client } from '@temporalio/client';

export interface WorkerDeps {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  redis: RedisClient;
  pg: Pool;
  /** DATABASE_READ_URL's pool: the member-cron sources' and flags' read-only queries (default `pg`). */
  readPg?: Pool;
  directory: MemberDirectory;
  publisher: EventPublisher;
}

/** The batch workflow's view of the directory: bounded pages of ids for a query. */
export function batchDirectoryOver(directory: MemberDirectory): BatchMemberDirectory {
  return {
    getMemberRecords: (ids) => directory.getMemberRecords(ids),
    async queryMemberIds(query, cursor, limit) {
      const page = await directory.queryMembers(create(MemberQuerySchema, { ...query, cursor: cursor ?? '', limit }));
      return { memberIds: page.members.map((m) => m.memberId), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
    },
  };
}

/** Builds every activity the worker registers from already-open connections. */
export function createWorkerActivities(deps: WorkerDeps): {
  activities: Record<string, (...args: never[]) => unknown>;
  slotPool: SlotPool;
  /** Waits (at most `timeoutMs`) for hedge losers still at Stedi; call before `slotPool.close()`. Resolves with those left. */
  hedgeLosersSettled: (timeoutMs: number) => Promise<number>;
} {
  const { config, logger, metrics } = deps;
  let slotsInUseSeen = 0;
  const slotPool = createRedisSlotPool({
    redis: deps.redis,
    keyPrefix: config.redisKeyPrefix,
    limit: config.slots.total,
    reservedInteractive: config.slots.reservedInteractive,
    leaseTtlMs: config.slots.leaseMs,
    logger,
    metrics: {
      onAcquire: (queue, kind, waitMs) => {
        metrics.slotWait.observe({ queue: queue.split(':')[0] ?? queue }, waitMs / 1000);
        if (kind === 'batch') metrics.stediConcurrencyDuringBatch.observe(Math.max(1, slotsInUseSeen));
      },
      slotsInUse: (inUse) => {
        slotsInUseSeen = inUse.total;
        metrics.slotsInUse.set(inUse.total);
      },
      onThrottled: (_queue, _kind, effectiveLimit) => {
        metrics.slotPoolFaults.inc({ event: 'stedi_429' });
        metrics.slotPoolEffectiveLimit.set(effectiveLimit);
      },
      onLeaseReRegistered: () => metrics.slotPoolFaults.inc({ event: 'lease_reregistered' }),
      onStateLoss: () => metrics.slotPoolFaults.inc({ event: 'state_loss' }),
    },
  });
  const cache = createConfiguredEligibilityCache(deps.redis, config, logger);
  // Sockets per Stedi host: at most the slot limit of real-time calls are at Stedi at once, plus batch submits and polls.
  // Batch API calls are counted in stedi_requests_total here; real-time calls by the eligibility activity (onStediCall).
  const stedi = meterStediBatchCalls(
    createHttpStediGateway({
      baseUrl: config.stedi.baseUrl,
      managerBaseUrl: config.stedi.batchBaseUrl,
      apiKey: config.stedi.apiKey,
      timeoutMs: config.stedi.timeoutMs,
      maxSockets: config.slots.total + 16,
    }),
    stediBatchCallRecorder(metrics),
  );
  const provider = { npi: config.stedi.providerNpi, organizationName: config.stedi.providerOrganizationName };

  const batchMetrics = createPromBatchMetrics(metrics.registry);
  const batchOutcomes = createPgBatchOutcomeStore(deps.pg);
  const hashMember = (id: string) => hashMemberId(config.cache.keySecret, id);
  const warms = createPgWarmRecordStore(deps.pg, hashMember, createPromWarmingMetrics(metrics.registry));
  const memberLists = createPgMemberListStore(deps.pg);
  const slotLoad = {
    load: async () => {
      const s = await slotPool.stats();
      return { limit: s.limit, inUse: s.interactiveInUse + s.batchInUse };
    },
  };
  const eligibilityDeps: EligibilityActivityDeps = {
    members: deps.directory,
    stedi,
    slots: slotPool,
    cache,
    provider,
    memberHashSecret: config.cache.keySecret,
    logger,
    metrics: {
      onStediCall: (api, outcome, seconds, source) => {
        metrics.stediRequests.inc({ api, outcome });
        metrics.stediDuration.observe({ api }, seconds);
        if (source === 'batch') batchMetrics.onStediRequests('realtime', 1);
      },
    },
    batchOutcomes,
    warms,
    lists: memberLists,
    // Hedging of batches' last-wave stragglers (STEDI_HEDGE, docs/performance.md).
    hedge: {
      config: { ...DEFAULT_HEDGE_CONFIG, ...config.hedge },
      budget: createRedisHedgeBudget(deps.redis, config.redisKeyPrefix),
      batches: createPgBatchProgressReader(deps.pg),
      metrics: { onHedge: (event) => metrics.stediHedges.inc({ event }) },
    },
  };
  const eligibility = createEligibilityActivities(eligibilityDeps);
  // Real-time batch members in chunks (issue 14): the same refreshEligibility per member, many per activity.
  const realtimeChunks = createRealtimeChunkActivities({ eligibility: eligibilityDeps, lists: memberLists, logger });

  const batch = createBatchActivities({
    lists: createPgMemberListStore(deps.pg),
    errors: createPgBatchErrorStore(deps.pg),
    outcomes: batchOutcomes,
    outcomeRetentionMs: config.batch.outcomeRetentionMs,
    directory: batchDirectoryOver(deps.directory),
    cache,
    stedi,
    load: {
      load: async () => {
        const s = await slotPool.stats();
        return { limit: s.limit, inUse: s.interactiveInUse + s.batchInUse };
      },
    },
    events: deps.publisher,
    provider,
    logger,
    metrics: batchMetrics,
    warms,
  });
  const warming = createWarmingActivities({
    lists: memberLists,
    errors: createPgBatchErrorStore(deps.pg),
    cache,
    warms,
    events: deps.publisher,
    hash: hashMember,
    load: slotLoad,
    directory: deps.directory,
    jobs: createPgWarmJobReader(deps.pg),
    // The worker's own client, through the activity context: no connection of our own.
    childRuns: createTemporalChildRunReader(() => Context.current().client),
    logger,
  });
  // The terminal sweep (batches ended at the Temporal level get their FAILED event): the worker's own client.
  const terminalSweep = createTerminalSweepActivities({
    batches: createTemporalEndedBatches(() => Context.current().client),
    logger,
    metrics: createTerminalSweepMetrics(metrics.registry),
  });
  const webhooks = createWebhookActivities({
    secrets: createStaticWebhookSecretStore(config.webhooks.secrets),
    policy: { allowedHosts: config.webhooks.allowedHosts, allowHttp: config.webhooks.allowHttp },
    logger,
    metrics: batchMetrics,
  });

  // Read-only directory queries (DATABASE_READ_URL when set); the prediction upserts below stay on the writer.
  const cronSources = new PgMemberCronSources(deps.readPg ?? deps.pg);
  const memberCron = createMemberCronActivities({
    directory: deps.directory,
    members: cronSources,
    activity: cronSources,
    flags: new PgFeatureFlagProvider(deps.readPg ?? deps.pg),
    predictor: new RuleBasedActivityPredictor(),
    publisher: deps.publisher,
    rateLimiter: new RedisTokenBucket(deps.redis, {
      ratePerSecond: config.memberCron.emitRatePerSecond,
      key: `${config.redisKeyPrefix}{member-cron-emit}:bucket`,
    }),
    ledger: new RedisEmissionLedger(deps.redis, {
      keyPrefix: `${config.redisKeyPrefix}member-cron:emitted:`,
      doneTtlSeconds: config.memberCron.dedupeTtlSeconds,
    }),
    hashMemberId: (id) => hashMemberId(config.cache.keySecret, id),
    lists: memberLists,
    logger,
    // Dead-letter series of the file's schedules start at 0 (probe p16 #7). From source: ../schedules; built: ../../schedules.
    metrics: createMemberCronMetrics(metrics.registry, {
      knownSchedules: memberCronScheduleNames([path.resolve(__dirname, '../schedules/member-cron-schedules.yaml'), path.resolve(__dirname, '../../schedules/member-cron-schedules.yaml')]),
    }),
    snapshotFlagKeys: config.memberCron.snapshotFlagKeys,
    // High-confidence predictions for rte_cache_warming_prediction_accuracy (exposed by the API).
    // The directory's latest prediction per member (issue 9: one probability, from the predictor).
    predictions: createPgMemberPredictionStore(deps.pg),
    predictionOutcomes: new RedisPredictionOutcomeStore(deps.redis, {
      keyPrefix: config.redisKeyPrefix,
      retentionAfterHorizonMs: config.predictionAccuracy.lookbackMs + 24 * 3_600_000,
    }),
  });

  // FieldErrors (bad queries/inputs) are non-retryable InvalidArgumentError failures in every activity.
  return {
    activities: withNonRetryableFieldErrors({ ...eligibility, ...realtimeChunks, ...batch, ...terminalSweep, ...webhooks, ...memberCron, ...warming }),
    slotPool,
    hedgeLosersSettled: (timeoutMs) => hedgeLosersSettled(eligibilityDeps.hedge, timeoutMs),
  };
}

/**
 * The member-cron consumer (issue 9) for the worker process: routes member-cron predictions into warming jobs
 * through `intake` (warm-core's WarmingIntake adapter). Not started here: the caller starts and stops it.
 */
export function createWorkerMemberCronConsumer(deps: WorkerDeps & { kafka: Kafka; intake: WarmingIntake }): MemberCronConsumer {
  const c = deps.config.memberCronConsumer;
  return createMemberCronConsumer({
    kafka: deps.kafka,
    groupId: c.groupId,
    topic: c.topic,
    dlqTopic: c.dlqTopic,
    publisher: deps.publisher,
    intake: deps.intake,
    routing: { leadScale: c.leadScale, ...(c.skipBelow !== undefined ? { skipBelow: c.skipBelow } : {}) },
    maxGroupSize: c.maxGroupSize,
    maxDelayMs: c.maxDelayMs,
    shutdownFlushMs: Math.max(1_000, Math.floor(deps.config.shutdownGraceMs / 3)),
    logger: deps.logger,
    metrics: createMemberCronConsumerMetrics(deps.metrics.registry),
  });
}

/**
 * The WarmingIntake the worker's member-cron consumer feeds: ids staged in PostgreSQL, the warming workflow started
 * (or joined, for a re-delivered group) through a Temporal client with the platform's data converter.
 */
export function workerWarmingIntake(deps: WorkerDeps & { temporal: Client }): WarmingIntake {
  return createWarmingIntakeAdapter(deps.temporal, createPgMemberListStore(deps.pg), { taskQueue: deps.config.temporal.taskQueue, tuning: warmingTuningFromConfig(deps.config) });
}
