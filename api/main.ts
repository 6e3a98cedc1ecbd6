import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';
import { createDirectoryPool } from '../directory/pool';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { onShutdownSignal } from '../lib/shutdown';
import { createTokenVerifier } from './auth';
import { createApiServer } from './server';
import { createRoutes } from './routes';

/** API composition root: config, connections, services, one port for all protocols, graceful drain. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('rte-api', config.logLevel);
  const metrics = createMetrics('api');

  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const pg = createDirectoryPool({ connectionString: config.databaseUrl, schema: config.databaseSchema, max: 4 });
  const kafka = new Kafka({ clientId: `${config.kafka.clientId}-api`, brokers: config.kafka.brokers, logLevel: kafkaLogLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();

  const api = createApiServer({
    logger,
    metrics,
    verifyToken: createTokenVerifier(config.auth),
    corsAllowedOrigins: config.api.corsAllowedOrigins,
    routes: createRoutes({ config, logger, metrics, temporal, redis, pg }),
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
      worker: async () => {
        const tq = await connection.workflowService.describeTaskQueue({
          namespace: config.temporal.namespace,
          taskQueue: { name: config.temporal.taskQueue },
        });
        if ((tq.pollers ?? []).length === 0) throw new Error(`no worker polling task queue ${config.temporal.taskQueue}`);
      },
    },
  });
  const port = await api.server.listen(config.api.port, config.api.host);
  logger.info({ port, host: config.api.host }, 'api listening (Connect, gRPC, gRPC-Web)');

  onShutdownSignal(logger, config.shutdownGraceMs + 5_000, async () => {
    api.stopAccepting();
    await api.server.close(config.shutdownGraceMs);
    await Promise.allSettled([connection.close(), redis.quit(), pg.end(), admin.disconnect()]);
  });
}

main().catch((err: unknown) => {
  createLogger('rte-api').fatal({ err }, 'api failed to start');
  process.exit(1);
});
