import { createClient, type Client as RpcClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import { createTokenVerifier } from '../../api/auth';
import { createRoutes } from '../../api/routes';
import { createApiServer, type ApiServer } from '../../api/server';
import { loadConfig, type AppConfig } from '../../lib/config';
import { mintDevToken } from '../../lib/dev-token';
import { createLogger, silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaEventPublisher } from '../../activities/kafka';
import { ensureTopics } from '../../lib/kafka-topics';
import { createPgMemberDirectory } from '../../directory/pg-member-directory';
import { createTestDirectory, TEST_DATABASE_URL, type TestDirectory } from '../../directory/test-support';
import { createMetrics, type Metrics } from '../../lib/metrics';
import { createStediSim, type StediSim, type StediSimOptions } from '../../stedi-sim/server';
import { createWorkerActivities } from '../../workers/compose';
import type { SlotPool } from '../../activities/slot-pool';
import { workflowBundle } from './temporal';
import { connectTemporalClient, temporalDataConverter } from '../../lib/temporal/connect';
import { DEFAULT_BOUNDED_CALLS } from '../../lib/temporal/bounded-calls';
import { API_PG_CONNECTION_TIMEOUT_MS, createApiRedisClient } from '../../api/outage-bounds';
import { createDirectoryPool } from '../../directory/pool';

/**
 * The real platform in one test process: the Stedi simulator on a random port, a worker on a unique task
 * queue, and the API (real Connect server on a random port) — all against the dev stack's Temporal and
 * Redis, with a random Redis key prefix so tests never see each other's cache or slots.
 */
export interface TestPlatform {
  config: AppConfig;
  /** The platform's member directory: a private PostgreSQL schema with a seeded population. */
  directory: TestDirectory;
  /** Every member of the seeded population, as the Stedi request builder sees them. */
  members: MemberRecord[];
  sim: StediSim;
  apiUrl: string;
  redis: Redis;
  temporal: Client;
  token(scopes: string[], service?: string): Promise<string>;
  eligibilityClient(protocol?: 'connect' | 'grpc'): RpcClient<typeof EligibilityService>;
  /** Starts one more worker process-equivalent (own connections and slot pool) on the same task queue. */
  addWorker(): Promise<TestWorker>;
  /** Workers started so far (the first one starts with the platform unless `workers: 0`). */
  workers: TestWorker[];
  close(): Promise<void>;
}

export interface TestWorker {
  worker: Worker;
  /** This worker's metrics registry (what its /metrics page would serve). */
  metrics: Metrics;
  interactiveWorker: Worker;
  slotPool: SlotPool;
  stop(): Promise<void>;
}

export async function startTestPlatform(
  opts: {
    population?: number;
    seed?: number;
    sim?: StediSimOptions;
    env?: Record<string, string>;
    workers?: number;
    /** Build the API's clients like api/main.ts (bounded Temporal calls, Redis/PostgreSQL timeouts): issue 12's fault tests. */
    boundedApi?: boolean;
    /** PostgreSQL of the directory and the batch stores (default: the stack's, TEST_DATABASE_URL). */
    databaseUrl?: string;
    /** Stands in for some of the workers' real activities (e.g. a slowed one); the rest stay real. */
    wrapActivities?: (real: Record<string, (...args: never[]) => Promise<unknown>>) => Record<string, (...args: never[]) => Promise<unknown>>;
  } = {},
): Promise<TestPlatform> {
  const dir = await createTestDirectory({ seed: opts.seed ?? 7, population: opts.population ?? 400, ...(opts.databaseUrl ? { connectionString: opts.databaseUrl } : {}) });
  const directory = createPgMemberDirectory(dir.pool);
  const ids = (await dir.pool.query<{ member_id: string }>('select member_id from members order by member_id')).rows.map((r) => r.member_id);
  const members = [...(await directory.getMemberRecords(ids)).values()];
  const sim = createStediSim({ timeScale: 0.01, ...opts.sim });
  const { url: simUrl } = await sim.start(0, '127.0.0.1');
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    STEDI_BASE_URL: simUrl,
    REDIS_KEY_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
    TEMPORAL_TASK_QUEUE: `tq-e2e-${randomUUID().slice(0, 8)}`,
    // Its own member-hash secret: refresh workflow ids are `eligibility/<member hash>/<op>` on the shared namespace, so
    // platforms sharing a secret (two at once, or a refresh left running by an earlier test file) would join each
    // other's refreshes, which run on another platform's task queue and write another platform's Redis keys.
    CACHE_KEY_SECRET: `test-member-hash-${randomUUID()}`,
    API_PORT: '0',
    ...opts.env,
  });
  // TEST_PLATFORM_LOG_LEVEL=warn (or error, info) shows the in-process API's and worker's logs when a test or bench
  // needs them (e.g. the cause of an `internal` answer); silent by default.
  const platformLogLevel = process.env['TEST_PLATFORM_LOG_LEVEL'];
  const logger = platformLogLevel ? createLogger('test-platform', platformLogLevel) : silentLogger();
  const redis = new Redis(config.redisUrl);
  const { connection, client: temporal } = await connectTemporalClient(config);
  const kafka = new Kafka({ clientId: 'rte-test', brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor });
  await admin.disconnect();
  const publisher = createKafkaEventPublisher(kafka);

  const workers: TestWorker[] = [];
  const addWorker = async (): Promise<TestWorker> => {
    const workerRedis = new Redis(config.redisUrl);
    const native = await NativeConnection.connect({ address: config.temporal.address });
    const workerMetrics = createMetrics('test-worker');
    const { activities, slotPool } = createWorkerActivities({
      config,
      logger,
      metrics: workerMetrics,
      redis: workerRedis,
      pg: dir.pool,
      directory,
      publisher,
    });
    const acts = opts.wrapActivities ? { ...activities, ...opts.wrapActivities(activities as unknown as Record<string, (...args: never[]) => Promise<unknown>>) } : activities;
    const common = { connection: native, namespace: config.temporal.namespace, dataConverter: temporalDataConverter(config), workflowBundle: await workflowBundle(), activities: acts };
    const worker = await Worker.create({ ...common, taskQueue: config.temporal.taskQueue, maxConcurrentActivityTaskExecutions: config.worker.activitySlots });
    // As workers/main.ts: interactive refreshes on their own queue and slots.
    const interactiveWorker = await Worker.create({
      ...common,
      taskQueue: config.temporal.interactiveTaskQueue,
      maxConcurrentActivityTaskExecutions: config.worker.interactiveActivitySlots,
    });
    const running = Promise.all([worker.run(), interactiveWorker.run()]);
    const tw: TestWorker = {
      worker,
      metrics: workerMetrics,
      interactiveWorker,
      slotPool,
      stop: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        if (interactiveWorker.getState() === 'RUNNING') interactiveWorker.shutdown();
        await running.catch(() => undefined);
        await slotPool.close();
        await native.close();
        workerRedis.disconnect();
      },
    };
    workers.push(tw);
    return tw;
  };
  for (let i = 0; i < (opts.workers ?? 1); i++) await addWorker();

  const metrics = createMetrics('test-api');
  const bounded = opts.boundedApi ? await connectTemporalClient(config, { bounded: DEFAULT_BOUNDED_CALLS }) : undefined;
  const apiTemporal = bounded?.client ?? temporal;
  const apiRedis = opts.boundedApi ? createApiRedisClient(config) : redis;
  const apiPg = opts.boundedApi
    ? createDirectoryPool({ connectionString: opts.databaseUrl ?? TEST_DATABASE_URL, schema: dir.schema, max: 4, connectionTimeoutMillis: API_PG_CONNECTION_TIMEOUT_MS })
    : dir.pool;
  const routes = createRoutes({ config, logger, metrics, temporal: apiTemporal, redis: apiRedis, pg: apiPg });
  const api: ApiServer = createApiServer({
    logger,
    metrics,
    verifyToken: createTokenVerifier(config.auth),
    routes,
    graphql: routes.graphql,
    checks: { redis: async () => void (await redis.ping()) },
    // As api/main.ts: browser origins from CORS_ALLOWED_ORIGINS.
    corsAllowedOrigins: config.api.corsAllowedOrigins,
  });
  const port = await api.server.listen(0, '127.0.0.1');
  const apiUrl = `http://127.0.0.1:${port}`;

  const transports: Record<'connect' | 'grpc', Transport> = {
    connect: createConnectTransport({ baseUrl: apiUrl, httpVersion: '1.1' }),
    grpc: createGrpcTransport({ baseUrl: apiUrl }),
  };
  return {
    config,
    directory: dir,
    members,
    sim,
    apiUrl,
    redis,
    temporal,
    token: (scopes, service = 'test-client') => mintDevToken({ service, scopes, secret: config.auth.mode === 'dev-hs256' ? config.auth.devSecret : '' }),
    eligibilityClient: (protocol = 'connect') => createClient(EligibilityService, transports[protocol]),
    addWorker,
    workers,
    close: async () => {
      await api.server.close(1_000);
      await routes.close();
      if (bounded) {
        apiRedis.disconnect();
        await Promise.allSettled([bounded.connection.close(), apiPg.end()]);
      }
      await Promise.all(workers.map((w) => w.stop()));
      await terminateLeftovers(temporal, [config.temporal.taskQueue, config.temporal.interactiveTaskQueue]);
      const keys = await redis.keys(`${config.redisKeyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await connection.close();
      await publisher.close();
      await sim.stop();
      await dir.drop();
    },
  };
}

/**
 * Terminates the workflows a closed platform leaves running on its own task queues (a batch a test leaves running on
 * purpose, a warming job stopped mid-way): no worker will ever poll those queues again, and on the stack's shared
 * namespace they would stay Running for good, set off RteBatchStuck after 8 h and answer `unavailable` forever
 * (probe p16 #5: five such workflows from rtectl.int). Best effort, bounded: visibility may not list a start made a
 * moment ago.
 */
async function terminateLeftovers(client: Client, taskQueues: readonly string[]): Promise<void> {
  const query = `ExecutionStatus = 'Running' AND TaskQueue IN (${taskQueues.map((q) => `'${q}'`).join(', ')})`;
  const ids: string[] = [];
  try {
    for await (const w of client.workflow.list({ query, pageSize: 200 })) {
      ids.push(w.workflowId);
      if (ids.length >= 1_000) break;
    }
  } catch {
    return;
  }
  await Promise.allSettled(ids.map((id) => client.workflow.getHandle(id).terminate('test platform closed: no worker polls its task queue any more')));
}
