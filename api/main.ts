import { liveWorkerCount, workerLivenessKey } from '../lib/worker-liveness';
import { createDirectoryPools } from '../directory/pool';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { onShutdownSignal } from '../lib/shutdown';
import { createTokenVerifier } from './auth';
import { createApiServer } from './server';
import { createRoutes } from './routes';
import { createBatchVisibilityReader } from './batch-visibility';
import { registerBatchVisibilityGauges } from '../lib/ops-gauges';
import { connectTemporalClient } from '../lib/temporal/connect';
import { DEFAULT_BOUNDED_CALLS } from '../lib/temporal/bounded-calls';
import { API_PG_CONNECTION_TIMEOUT_MS, createApiRedisClient } from './outage-bounds';
import { announceDraining, clusterMetricsText, startApiCluster } from './cluster';

/** API composition root: config, connections, services, one port for all protocols, graceful drain. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('rte-api', config.logLevel);
  const metrics = createMetrics('api');

  // Issue 12: every dependency call is bounded so an outage is answered `unavailable` within 5 s: Temporal calls
  // get deadlines and a small retry budget (lib/temporal/bounded-calls.ts), Redis commands a timeout, PostgreSQL a
  // connection timeout. GetBatchStatus then falls back to the last durable state (services/batch-status-fallback.ts).
  const { connection, client: temporal } = await connectTemporalClient(config, { bounded: DEFAULT_BOUNDED_CALLS });
  // A single Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES), docs/scaling.md.
  const redis = createApiRedisClient(config);
  // DATABASE_READ_URL (a replica): the member directory's read-only queries; every write stays on pg.
  const pools = createDirectoryPools(config, { max: 4, connectionTimeoutMillis: API_PG_CONNECTION_TIMEOUT_MS });
  const { pg, readPg } = pools;

  registerBatchVisibilityGauges(metrics.registry, createBatchVisibilityReader(temporal));

  // API_PROCESSES > 1: a scrape of any copy answers with the metrics of every copy (api/cluster.ts).
  const metricsText = clusterMetricsText(metrics.registry);
  const routes = createRoutes({ config, logger, metrics, temporal, redis, pg, readPg });
  const api = createApiServer({
    logger,
    metrics,
    verifyToken: createTokenVerifier(config.auth),
    corsAllowedOrigins: config.api.corsAllowedOrigins,
    routes,
    graphql: routes.graphql,
    ...(metricsText ? { metricsText } : {}),
    // Ready = cache reads work (Redis). Kafka is never used by the API. Temporal, PostgreSQL and the workers serve
    // live checks and batches: their absence is reported as degraded, so a worker outage does not drain every API
    // replica while cached answers can still be served.
    checks: {
      redis: async () => {
        await redis.ping();
      },
    },
    degradedChecks: {
      temporal: async () => {
        await connection.workflowService.getSystemInfo({});
      },
      postgres: async () => {
        await pg.query('select 1');
        if (readPg !== pg) await readPg.query('select 1');
      },
      worker: async () => {
        for (const name of [config.temporal.taskQueue, config.temporal.interactiveTaskQueue]) {
          const tq = await connection.workflowService.describeTaskQueue({ namespace: config.temporal.namespace, taskQueue: { name } });
          if ((tq.pollers ?? []).length === 0) throw new Error(`no worker polling task queue ${name}`);
        }
        // Temporal lists a dead worker's poller for up to a minute; the workers' Redis beat notices a kill in seconds.
        if ((await liveWorkerCount(redis, workerLivenessKey(config.redisKeyPrefix, config.temporal.taskQueue))) === 0) {
          throw new Error(`no live worker beat for task queue ${config.temporal.taskQueue}`);
        }
      },
    },
  });
  const port = await api.server.listen(config.api.port, config.api.host);
  logger.info({ port, host: config.api.host, pid: process.pid }, 'api listening (Connect, gRPC, gRPC-Web)');

  onShutdownSignal(logger, config.shutdownGraceMs + 5_000, async () => {
    // /readyz 503 and open streams ended at once; the listener stays open for the readiness window, then closes; done
    // as soon as no request is open (api/server.ts `drain`). Grace bounds the whole drain, the window included.
    await api.drain({ readinessDelayMs: config.api.shutdownReadinessDelayMs, graceMs: config.shutdownGraceMs });
    // Usage buffered by the last reads (prediction usage, warm usage) is written before Redis and PostgreSQL close.
    await routes.close();
    await Promise.allSettled([connection.close(), redis.quit(), pools.close()]);
  });
}

function start(): void {
  // API_PROCESSES > 1: this process supervises that many API processes on the same port (api/cluster.ts).
  const config = loadConfig();
  if (startApiCluster({ processes: config.api.processes, logger: createLogger('rte-api', config.logLevel), graceMs: config.shutdownGraceMs }) === 'primary') return;
  announceDraining();
  main().catch((err: unknown) => {
    createLogger('rte-api').fatal({ err }, 'api failed to start');
    process.exit(1);
  });
}

try {
  start();
} catch (err: unknown) {
  createLogger('rte-api').fatal({ err }, 'api failed to start');
  process.exit(1);
}
