import { NativeConnection, Worker } from '@temporalio/worker';
import { createPgMemberListStore } from '../../activities/batch/pg-stores';
import { RedisTokenBucket } from '../../activities/kafka/rate-limiter';
import { createMemberCronActivities } from '../../activities/member-cron/activities';
import { RedisEmissionLedger } from '../../activities/member-cron/emission-ledger';
import { PgMemberCronSources } from '../../activities/member-cron/pg-member-sources';
import { PgFeatureFlagProvider } from '../../directory/feature-flags';
import { createPgMemberPredictionStore } from '../../directory/member-predictions';
import { PgMemberDirectory } from '../../directory/pg-member-directory';
import { TEST_REFERENCE_TIME } from '../../directory/test-support';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import { RuleBasedActivityPredictor } from '../../lib/prediction/rule-based';
import { temporalDataConverter } from '../../lib/temporal/connect';
import type { TestPlatform } from './platform';
import { workflowBundle } from './temporal';

type MemberCronDeps = Parameters<typeof createMemberCronActivities>[0];

export interface MemberCronTestWorker {
  /** Shuts the worker down and closes its connection. */
  stop(): Promise<void>;
}

/**
 * The member-cron side exactly as the worker composes it (workers/compose.ts), with the real sources, on a test
 * platform's PostgreSQL schema and Redis prefix, its own task queue and its own Kafka topic (used by
 * warming-member-cron.int and bench/synthetic-day-live.ts). Predictions are made for the synthetic population's
 * reference time (as the worker pins it) and their windows shifted to the run's scheduled time.
 */
export async function startMemberCronWorker(
  p: TestPlatform,
  o: { taskQueue: string; topic: string; dlqTopic: string; publisher: MemberCronDeps['publisher']; clock?: () => number },
): Promise<MemberCronTestWorker> {
  const pool = p.directory.pool;
  const sources = new PgMemberCronSources(pool);
  const flags = new PgFeatureFlagProvider(pool);
  const connection = await NativeConnection.connect({ address: p.config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: p.config.temporal.namespace,
    taskQueue: o.taskQueue,
    dataConverter: temporalDataConverter(p.config),
    workflowBundle: await workflowBundle(),
    activities: createMemberCronActivities({
      directory: new PgMemberDirectory(pool, { now: () => TEST_REFERENCE_TIME, flags }),
      members: sources,
      activity: sources,
      // Member-cron pages are stored by reference (issue 13), in the platform's own PostgreSQL schema.
      lists: createPgMemberListStore(pool),
      flags,
      predictor: new RuleBasedActivityPredictor(),
      publisher: o.publisher,
      rateLimiter: new RedisTokenBucket(p.redis, { ratePerSecond: 5000, key: `${p.config.redisKeyPrefix}{member-cron-emit}:bucket` }),
      ledger: new RedisEmissionLedger(p.redis, { keyPrefix: `${p.config.redisKeyPrefix}member-cron:emitted:`, doneTtlSeconds: 3600 }),
      hashMemberId: (m) => hashMemberId(p.config.cache.keySecret, m),
      logger: silentLogger(),
      predictionTime: () => TEST_REFERENCE_TIME,
      ...(o.clock ? { clock: o.clock } : {}),
      predictions: createPgMemberPredictionStore(pool),
      topic: o.topic,
      dlqTopic: o.dlqTopic,
    }),
  });
  const run = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await run.catch(() => undefined);
      await connection.close();
    },
  };
}
