import { DefaultLogger, NativeConnection, Runtime, Worker, makeTelemetryFilterString, type LogLevel } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { createDirectoryPool } from '../directory/pool';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { createHealthServer } from '../lib/health-server';
import { ensureTopics } from '../lib/kafka-topics';
import { onShutdownSignal } from '../lib/shutdown';
import { createWorkerActivities } from './compose';
import { createPgMemberDirectory } from '../directory/pg-member-directory';
import { directoryClock } from '../directory/loader';
import { createKafkaEventPublisher } from '../activities/kafka';

/**
 * Worker composition root: config, connections, metrics, one worker on the main task queue, and a
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

  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
  const pg = createDirectoryPool({ connectionString: config.databaseUrl, schema: config.databaseSchema, max: 10 });
  const kafka = new Kafka({ clientId: config.kafka.clientId, brokers: config.kafka.brokers, logLevel: kafkaLogLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  const created = await ensureTopics(admin, { partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor });
  if (created.length > 0) logger.info({ topics: created }, 'created kafka topics');

  const connection = await NativeConnection.connect({ address: config.temporal.address });
  // Synthetic data: relative filters evaluated at the population's reference time (pinned clock), not wall time.
  const directory = createPgMemberDirectory(pg, { now: await directoryClock(pg) });
  const publisher = createKafkaEventPublisher(kafka);
  const { activities, slotPool } = createWorkerActivities({ config, logger, metrics, redis, pg, directory, publisher });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities,
    shutdownGraceTime: config.shutdownGraceMs,
    maxConcurrentActivityTaskExecutions: 200,
  });

  let accepting = true;
  const health = createHealthServer({
    registry: metrics.registry,
    isAccepting: () => accepting && worker.getState() === 'RUNNING',
    checks: {
      temporal: async () => {
        await connection.workflowService.getSystemInfo({});
      },
      redis: async () => {
        await redis.ping();
      },
      postgres: async () => {
        await pg.query('select 1');
      },
      kafka: async () => {
        await admin.describeCluster();
      },
    },
  });
  health.listen(config.workerMetrics.port, config.workerMetrics.host);

  onShutdownSignal(logger, config.shutdownGraceMs + 5_000, async () => {
    accepting = false;
    worker.shutdown(); // stops polling; run() resolves after in-flight tasks finish or the grace time passes
    await runPromise;
    await slotPool.close();
    await Promise.allSettled([publisher.close(), connection.close(), admin.disconnect()]);
    await Promise.allSettled([pg.end(), redis.quit()]);
    health.close();
  });

  logger.info({ taskQueue: config.temporal.taskQueue, metricsPort: config.workerMetrics.port }, 'worker started');
  const runPromise = worker.run();
  await runPromise;
}

main().catch((err: unknown) => {
  createLogger('rte-worker').fatal({ err }, 'worker failed');
  process.exit(1);
});
