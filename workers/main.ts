import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import { createRedisClient } from '../lib/redis-client';
import { startWorkerLiveness, workerLivenessKey } from '../lib/worker-liveness';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { createDirectoryPools } from '../directory/pool';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { createHealthServer } from '../lib/health-server';
import { ensureTopics } from '../lib/kafka-topics';
import { onShutdownSignal } from '../lib/shutdown';
import { createWorkerActivities, createWorkerMemberCronConsumer, workerWarmingIntake } from './compose';
import { createPgMemberDirectory } from '../directory/pg-member-directory';
import { directoryClock } from '../directory/loader';
import { createKafkaEventPublisher } from '../activities/kafka';
import { createConsumerLagReader } from '../activities/kafka/consumer-lag';
import { registerConsumerLagGauge, registerSlotPoolGauges } from '../lib/ops-gauges';
import { connectTemporalClient, temporalDataConverter } from '../lib/temporal/connect';
import { workflowCodeOption } from './workflow-bundle';

/**
 * Worker composition root: config, connections, metrics, one worker on the main task queue (batches, warming,
 * member cron), a second on the interactive queue (CheckEligibility refreshes, own slots: never behind a batch), and a
 * graceful drain on SIGTERM (stop polling, let in-flight activities finish, then close connections).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('rte-worker', config.logLevel);
  const metrics = createMetrics('worker');

  // Temporal SDK metrics go to their own Prometheus endpoint (the Rust core serves it); ours are on /metrics.
  // The SDK's own log lines follow LOG_LEVEL (its levels stop at ERROR; pino's fatal/silent map onto it).
  const sdkLevel: LogLevel = ({ trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN' } as const)[config.logLevel as 'info'] ?? 'ERROR';
  Runtime.install({
    logger: new DefaultLogger(sdkLevel),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
      metrics: { prometheus: { bindAddress: `${config.workerMetrics.host}:${config.workerMetrics.sdkPort}` } },
    },
    shutdownSignals: [],
  });

  // A single Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES), docs/scaling.md.
  const redis = createRedisClient(config, { maxRetriesPerRequest: 3, lazyConnect: false });
  // DATABASE_READ_URL (a replica): the directory's and the member-cron sources' read-only queries; writes stay on pg.
  const pools = createDirectoryPools(config, { max: 10 });
  const { pg, readPg } = pools;
  const kafka = new Kafka({ clientId: config.kafka.clientId, brokers: config.kafka.brokers, logLevel: kafkaLogLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  const created = await ensureTopics(admin, { partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor });
  if (created.length > 0) logger.info({ topics: created }, 'created kafka topics');

  const connection = await NativeConnection.connect({ address: config.temporal.address });
  // Synthetic data: relative filters evaluated at the population's reference time (pinned clock), not wall time.
  const directory = createPgMemberDirectory(readPg, { now: await directoryClock(readPg) });
  const publisher = createKafkaEventPublisher(kafka);
  const { activities, slotPool, hedgeLosersSettled } = createWorkerActivities({ config, logger, metrics, redis, pg, readPg, directory, publisher });
  const dataConverter = temporalDataConverter(config);
  const workflowCode = await workflowCodeOption();
  const common = { connection, namespace: config.temporal.namespace, dataConverter, activities, shutdownGraceTime: config.shutdownGraceMs };
  const worker = await Worker.create({
    ...common,
    taskQueue: config.temporal.taskQueue,
    ...workflowCode,
    maxConcurrentActivityTaskExecutions: config.worker.activitySlots,
  });
  const interactiveWorker = await Worker.create({
    ...common,
    taskQueue: config.temporal.interactiveTaskQueue,
    ...workflowCode,
    maxConcurrentActivityTaskExecutions: config.worker.interactiveActivitySlots,
  });

  // Global views for dashboards and alerts (same value on every replica; aggregate with max()).
  registerSlotPoolGauges(metrics.registry, () => slotPool.stats());
  registerConsumerLagGauge(metrics.registry, createConsumerLagReader(admin, config.kafkaLagGroups));

  // The member-cron consumer (issue 9): MemberCronEvents → warming jobs, behind MEMBER_CRON_CONSUMER_ENABLED.
  const deps = { config, logger, metrics, redis, pg, readPg, directory, publisher };
  const temporalClient = config.memberCronConsumer.enabled ? await connectTemporalClient(config) : undefined;
  const memberCronConsumer = temporalClient
    ? createWorkerMemberCronConsumer({ ...deps, kafka, intake: workerWarmingIntake({ ...deps, temporal: temporalClient.client }) })
    : undefined;
  if (memberCronConsumer) {
    await memberCronConsumer.start();
    logger.info({ groupId: config.memberCronConsumer.groupId, topic: config.memberCronConsumer.topic }, 'member-cron consumer started');
  } else {
    logger.info('member-cron consumer disabled (MEMBER_CRON_CONSUMER_ENABLED=false)');
  }

  let accepting = true;
  const health = createHealthServer({
    registry: metrics.registry,
    isAccepting: () => accepting && worker.getState() === 'RUNNING' && interactiveWorker.getState() === 'RUNNING',
    checks: {
      temporal: async () => {
        await connection.workflowService.getSystemInfo({});
      },
      redis: async () => {
        await redis.ping();
      },
      postgres: async () => {
        await pg.query('select 1');
        if (readPg !== pg) await readPg.query('select 1');
      },
      kafka: async () => {
        await admin.describeCluster();
      },
    },
  });
  health.listen(config.workerMetrics.port, config.workerMetrics.host);
  // Beats into Redis while polling, so the API's /readyz notices a killed worker within seconds.
  const liveness = startWorkerLiveness(redis, {
    key: workerLivenessKey(config.redisKeyPrefix, config.temporal.taskQueue),
    isRunning: () => accepting && worker.getState() === 'RUNNING',
  });

  onShutdownSignal(logger, config.shutdownGraceMs + 5_000, async () => {
    accepting = false;
    const graceEndsAt = Date.now() + config.shutdownGraceMs;
    // No new Stedi call starts here from now on (probe p17 #1): a member waiting for a slot goes back to its batch
    // (a chunk returns it as not started) or fails retryably (WorkerShuttingDown) for another worker; calls already at
    // Stedi keep their slots and finish within the grace.
    slotPool.drain?.();
    // Out of the API's live-worker count at once (probe p17 #5: /readyz showed this worker ready while it drained).
    await liveness.stop();
    // Stop fetching and hand open groups to the intake while its workflows can still be started.
    await memberCronConsumer?.stop().catch((err: unknown) => logger.warn({ err }, 'member-cron consumer stop failed'));
    worker.shutdown(); // stops polling; run() resolves after in-flight tasks finish or the grace time passes
    interactiveWorker.shutdown();
    await runPromise;
    // Hedge losers still at Stedi keep their slots until answered (docs/performance.md), within the grace period.
    const losers = await hedgeLosersSettled(graceEndsAt - Date.now());
    if (losers > 0) logger.warn({ losers }, 'shutdown: hedge losers still at Stedi; their slots are released now');
    await slotPool.close();
    await Promise.allSettled([publisher.close(), connection.close(), admin.disconnect(), ...(temporalClient ? [temporalClient.connection.close()] : [])]);
    await Promise.allSettled([pools.close(), redis.quit()]);
    health.close();
  });

  logger.info(
    { taskQueue: config.temporal.taskQueue, interactiveTaskQueue: config.temporal.interactiveTaskQueue, metricsPort: config.workerMetrics.port },
    'worker started',
  );
  const runPromise = Promise.all([worker.run(), interactiveWorker.run()]);
  await runPromise;
}

main().catch((err: unknown) => {
  createLogger('rte-worker').fatal({ err }, 'worker failed');
  process.exit(1);
});
