import type { ConnectRouter } from '@connectrpc/connect';
import type { Client } from '@temporalio/client';
import type { RedisClient } from '../lib/redis-client';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { BatchEligibilityService } from '../gen/rte/v1/batch_pb';
import { CacheWarmingService } from '../gen/rte/v1/warming_pb';
import { createConfiguredEligibilityCache } from '../activities/cache';
import { createPredictionUsageObserver, RedisPredictionOutcomeStore, registerPredictionAccuracyMetrics } from '../activities/prediction-accuracy';
import type { AppConfig } from '../lib/config';
import type { Metrics } from '../lib/metrics';
import { createTemporalRefresher } from './eligibility-refresher';
import { createEligibilityService } from './services/eligibility-service';
import { createBatchService, createTemporalBatchPort } from './services/batch-service';
import { withStatusFallback } from './services/batch-status-fallback';
import { createPgBatchProgressReader } from '../activities/batch/pg-progress-reader';
import { createPgBatchErrorStore, createPgBatchOutcomeStore, createPgMemberListStore } from '../activities/batch/pg-stores';
import { createRedisSubmitRateLimiter } from '../lib/batch/submit-rate-limiter';
import { DEFAULT_SUBMIT_LIMITS } from '../lib/batch/submit-validation';
import { createWarmingService } from './services/warming-service';
import { createGetWarmingStatsHandler, createScheduleWarmingHandler } from './services/warming-admin';
import { createGetWarmingJobHandler } from './services/warming-job';
import { createPgWarmJobReader } from '../activities/warming/pg-warm-job-reader';
import { createPgWarmingStatsReader, createPgWarmUsageStore, createWarmUsageRecorder } from '../activities/warming-usage';
import { createTemporalWarmingScheduleStore } from '../schedules/warming';
import { warmingTuningFromConfig } from '../lib/temporal/warming-jobs';
import { createPgMemberDirectory } from '../directory/pg-member-directory';
import { hasWebhookSecret } from '../activities/webhooks/activities';
import type { TokenVerifier } from './auth';
import { createGraphqlHandler, MAX_MEMBERS_PAGE } from './graphql/handler';
import { realtimeChunkTuning } from '../workflows/batch.defs';
import { errorChainText } from './interceptors';

export interface RouteDeps {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  temporal: Client;
  redis: RedisClient;
  pg: Pool;
  /** DATABASE_READ_URL's pool: the member directory's read-only queries (default `pg`). */
  readPg?: Pool;
}

/** The Connect routes, plus the GraphQL handler factory built over the same services (issue 16; api/server.ts mounts it). */
export type ApiRoutes = ((router: ConnectRouter) => void) & {
  graphql: (verifyToken: TokenVerifier) => ReturnType<typeof createGraphqlHandler>;
  /** Drain, after the server stopped taking requests and before Redis/PostgreSQL close: writes the buffered usage. Never rejects. */
  close: () => Promise<void>;
};

/** One implementation per proto service. The API reads the cache; it never writes it or calls Stedi. */
export function createRoutes(deps: RouteDeps): ApiRoutes {
  const { config } = deps;
  // Issue 14: hot entries parsed once (frozen, shared); the eligibility service memoizes their response parts;
  // concurrent reads share one MGET.
  const cache = createConfiguredEligibilityCache(deps.redis, config, deps.logger, { parsedEntryMemo: 2_000, groupReads: true });
  // Online prediction accuracy: interactive checks record usage; /metrics computes the ratio from Redis
  // at scrape time, so every API replica reports the same global value (aggregate with max()).
  const predictionOutcomes = new RedisPredictionOutcomeStore(deps.redis, { keyPrefix: config.redisKeyPrefix });
  // Warm records (cache_warms): the accuracy gauge also reports real warms per warm source.
  const warmRecords = createPgWarmingStatsReader(deps.pg);
  registerPredictionAccuracyMetrics(deps.metrics.registry, { store: predictionOutcomes, lookbackMs: config.predictionAccuracy.lookbackMs, logger: deps.logger, warms: warmRecords });
  const warmUsage = createWarmUsageRecorder({ store: createPgWarmUsageStore(deps.pg), registry: deps.metrics.registry, logger: deps.logger });
  // Issue 14: the usage observations of reads made within 10 ms (up to 128) go to Redis as one script call (flushed
  // on drain): at 12,000 reads/s ~100 calls/s instead of ~500 with 2 ms, each script call costing Redis ~2.5 µs per
  // observation, so one call blocks it for ≤ ~0.3 ms.
  const predictionUsage = createPredictionUsageObserver({ store: predictionOutcomes, registry: deps.metrics.registry, logger: deps.logger, coalesce: { maxBatch: 128, maxDelayMs: 10 } });
  const eligibility = createEligibilityService({
    cache,
    refresher: createTemporalRefresher(deps.temporal, config.temporal.interactiveTaskQueue, config.cache.keySecret),
    memberHashSecret: config.cache.keySecret,
    metrics: deps.metrics,
    logger: deps.logger,
    refreshWaitMs: config.api.refreshWaitMs,
    predictionUsage,
    nonInteractiveCallers: new Set(config.predictionAccuracy.excludedCallers),
    warmUsage,
  });
  // The member directory reads only (DATABASE_READ_URL, a replica, when set).
  const queryChecker = createPgMemberDirectory(deps.readPg ?? deps.pg);
  const batch = createBatchService({
    // Issue 12: GetBatchStatus answers within 5 s: live, or last-known from visibility + PostgreSQL, or unavailable.
    temporal: withStatusFallback(createTemporalBatchPort(deps.temporal), {
      client: deps.temporal,
      progress: createPgBatchProgressReader(deps.pg),
      onFallback: (batchId, source, cause) =>
        deps.logger.warn({ batchId, source, cause: errorChainText(cause) }, 'batch status served last-known: the workflow could not be asked'),
    }),
    lists: createPgMemberListStore(deps.pg),
    errors: createPgBatchErrorStore(deps.pg),
    outcomes: createPgBatchOutcomeStore(deps.pg),
    rateLimiter: createRedisSubmitRateLimiter(
      deps.redis,
      { limit: config.batch.submitRateLimit, windowMs: config.batch.submitRateWindowMs },
      config.redisKeyPrefix,
    ),
    taskQueue: config.temporal.taskQueue,
    tuning: { pollBackoff: { initialMs: config.batch.pollInitialMs, maxMs: config.batch.pollMaxMs, multiplier: 2 }, ...realtimeChunkTuning(config.batch.realtimeChunkMembers) },
    limits: { ...DEFAULT_SUBMIT_LIMITS, webhook: { allowedHosts: config.webhooks.allowedHosts, allowHttp: config.webhooks.allowHttp } },
    // Issue 10: member queries compiled before acceptance; page tokens signed with a server secret.
    checkMemberQuery: (q) => queryChecker.checkQuery(q),
    pageTokenSecret: config.cache.keySecret,
    canSignWebhooks: (svc) => hasWebhookSecret(config.webhooks.secrets, svc),
    logger: deps.logger,
  });
  const routes = (router: ConnectRouter): void => {
    router.service(EligibilityService, eligibility);
    router.service(BatchEligibilityService, batch);
    router.service(CacheWarmingService, {
      ...createWarmingService({
        temporal: deps.temporal,
        taskQueue: config.temporal.taskQueue,
        lists: createPgMemberListStore(deps.pg),
        rateLimiter: createRedisSubmitRateLimiter(deps.redis, { limit: config.warmCache.rateLimit, windowMs: config.warmCache.rateWindowMs }, `${config.redisKeyPrefix}warm-cache:`),
        logger: deps.logger,
        batchLatencyMs: config.warmCache.batchLatencyMs,
        tuning: warmingTuningFromConfig(config),
      }),
      scheduleWarming: createScheduleWarmingHandler({
        schedules: createTemporalWarmingScheduleStore(deps.temporal),
        taskQueue: config.temporal.taskQueue,
        tuning: warmingTuningFromConfig(config),
        logger: deps.logger,
        checkMemberQuery: (q) => queryChecker.checkQuery(q),
      }),
      getWarmingStats: createGetWarmingStatsHandler({ records: warmRecords }),
      getWarmingJob: createGetWarmingJobHandler({ client: deps.temporal, jobs: createPgWarmJobReader(deps.pg), logger: deps.logger }),
    });
  };
  // GraphQL (issue 16): `coverage` calls the same CheckEligibility implementation; bulk `members { coverage }` reads a
  // page's entries with one MGET (maxKeysPerRead = the largest page) and selects members like SubmitBatch's member_query.
  const graphqlCache = createConfiguredEligibilityCache(deps.redis, config, deps.logger, { maxKeysPerRead: MAX_MEMBERS_PAGE });
  const graphql = (verifyToken: TokenVerifier) =>
    createGraphqlHandler({ eligibility, cache: graphqlCache, directory: queryChecker, verifyToken, logger: deps.logger, metrics: deps.metrics, profile: config.profile });
  const close = async (): Promise<void> => {
    await Promise.all([predictionUsage.close(), warmUsage.close()]);
  };
  return Object.assign(routes, { graphql, close });
}
