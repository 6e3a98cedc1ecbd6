import { z } from 'zod';
import { parseWatchedGroups, type WatchedGroup } from './ops-gauges';
import { parseCodecKeys, type CodecKey } from './temporal/codec';
import { parseAllowlist } from './batch/webhook-target';

/**
 * The one typed, validated configuration loader. Only process entry points (workers/, api/, stedi-sim/,
 * scripts/) call it; everything else receives the values it needs. Defaults are the local dev stack's
 * (stack/env.sh); production sets every secret explicitly and `RTE_PROFILE=production` refuses dev defaults.
 */
const DEV_AUTH_SECRET = 'dev-secret-change-me';
const DEV_CACHE_KEY_SECRET = 'dev-cache-key-secret-change-me';
/** The local stack's Temporal payload key (documented in docs/temporal.md; production refuses it). */
/**
 * The local profile's webhook allowlist: loopback on ports 9800-9899 only, where local receivers listen
 * (test/helpers/webhook-receiver.ts binds there). Not every loopback port: the stack's Redis, Temporal, codec server
 * and API listen on loopback too (probe p18 F1).
 */
export const LOCAL_WEBHOOK_PORTS = [9800, 9899] as const;
export const LOCAL_WEBHOOK_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1'].map((h) => `${h}:${LOCAL_WEBHOOK_PORTS[0]}-${LOCAL_WEBHOOK_PORTS[1]}`);
export const DEV_CODEC_KEYS = 'dev1:cnRlLWRldi1jb2RlYy1rZXktbm90LWZvci1wcm9kISE=';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

const envSchema = z.object({
  RTE_PROFILE: z.enum(['local', 'production']).default('local'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),

  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('rte-main'),
  /** Interactive refreshes (CheckEligibility misses, bypasses, SWR): own queue and worker slots. Default `<TEMPORAL_TASK_QUEUE>-interactive`. */
  TEMPORAL_INTERACTIVE_TASK_QUEUE: z.string().min(1).optional(),
  /** Temporal payload encryption keys "k2:base64,k1:base64": the first encrypts, all decrypt (rotation). */
  TEMPORAL_CODEC_KEYS: z.string().min(1).default(DEV_CODEC_KEYS),
  CODEC_SERVER_HOST: z.string().default('127.0.0.1'),
  CODEC_SERVER_PORT: port.default(8091),
  /** Origins allowed to call the codec server from a browser (the Temporal Web UI). */
  /** jwt: Bearer token with rte:codec:decode (or rte:admin); none: only for a loopback listener in the local profile. */
  CODEC_SERVER_AUTH: z.enum(['jwt', 'none']).default('jwt'),
  CODEC_SERVER_CORS_ORIGINS: csv.default(['http://127.0.0.1:8233', 'http://localhost:8233']),
  /** Activity slots of the worker on the main queue (batches, warming, member cron). */
  WORKER_ACTIVITY_SLOTS: positiveInt.default(200),
  /** Activity slots of the interactive worker; sizing rule in docs/temporal.md. */
  WORKER_INTERACTIVE_ACTIVITY_SLOTS: positiveInt.default(60),

  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /**
   * Redis Cluster seed nodes "host:port,host:port" (docs/scaling.md). When set, every process builds an ioredis
   * Cluster client on these seeds instead of a single connection to REDIS_URL; REDIS_URL then only supplies the
   * username, password and TLS (rediss:) used for every node, and its host and port are ignored.
   */
  REDIS_CLUSTER_NODES: z.string().optional(),
  /** Prefix of every Redis key the platform writes (tests use a random one). */
  REDIS_KEY_PREFIX: z.string().regex(/^[a-z0-9:_-]*$/).default('rte:'),
  DATABASE_URL: z.string().min(1).default('postgres://rte:rte@127.0.0.1:5432/rte'),
  /** Read-only queries of the member directory and the member-cron sources (a streaming replica); default DATABASE_URL. */
  DATABASE_READ_URL: z.string().min(1).optional(),
  /** Schema of the platform's tables (search_path); default: the server's default (public). */
  DATABASE_SCHEMA: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/).optional(),
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().default('rte-platform'),
  KAFKA_TOPIC_PARTITIONS: positiveInt.default(6),
  KAFKA_REPLICATION_FACTOR: positiveInt.default(1),

  STEDI_BASE_URL: z.string().url().default('http://127.0.0.1:8090'),
  /** Stedi's manager API (batch eligibility), https://manager.us.stedi.com in production; default STEDI_BASE_URL (the simulator serves both). */
  STEDI_BATCH_BASE_URL: z.string().url().optional(),
  STEDI_API_KEY: z.string().min(1).default('test-local-key'),
  STEDI_TIMEOUT_MS: positiveInt.default(90_000),
  PROVIDER_NPI: z.string().regex(/^\d{10}$/, 'must be a 10-digit NPI').default('1999999984'),
  PROVIDER_ORGANIZATION_NAME: z.string().min(1).default('RTE Platform Provider Group'),

  STEDI_SLOTS: positiveInt.default(15),
  STEDI_SLOTS_RESERVED_INTERACTIVE: z.coerce.number().int().min(0).default(3),
  SLOT_LEASE_MS: positiveInt.default(30_000),
  /** Hedging of a finite batch's last-wave stragglers (activities/eligibility/hedge-policy.ts, docs/performance.md). */
  STEDI_HEDGE: z.enum(['on', 'off']).default('off'),
  STEDI_HEDGE_PERCENTILE: z.coerce.number().min(0.5).max(0.999).default(0.9),
  STEDI_HEDGE_MIN_MS: z.coerce.number().int().min(0).default(5_000),
  STEDI_HEDGE_MAX_FRACTION: z.coerce.number().min(0).max(0.5).default(0.1),
  STEDI_HEDGE_FREE_SLOTS_KEPT: z.coerce.number().int().min(0).default(2),

  CACHE_KEY_SECRET: z.string().min(16).default(DEV_CACHE_KEY_SECRET),
  CACHE_SUCCESS_TTL_SECONDS: positiveInt.default(22 * 3600),
  CACHE_ERROR_TTL_SECONDS: positiveInt.default(5 * 60),
  CACHE_RETENTION_SECONDS: positiveInt.default(7 * 24 * 3600),

  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port.default(8080),
  API_REFRESH_WAIT_MS: positiveInt.default(60_000),
  /** API processes sharing API_PORT through node:cluster (docs/scaling.md); 1 = a single process, no cluster. */
  API_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  /** Browser origins allowed to call the API (Connect, gRPC-Web) cross-origin, comma-separated; empty: none. */
  CORS_ALLOWED_ORIGINS: z.string().default(''),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  WORKER_METRICS_PORT: port.default(9464),
  /** Temporal SDK (Rust core) Prometheus endpoint of the worker; 0 picks a free port. */
  WORKER_SDK_METRICS_PORT: port.default(9465),
  SHUTDOWN_GRACE_MS: positiveInt.default(30_000),
  /**
   * API: after SIGTERM the listener stays open this long with /readyz answering 503 (draining), so load balancers and
   * probes see the drain before connections are refused; counted within SHUTDOWN_GRACE_MS. 0: close at once (tests).
   */
  SHUTDOWN_READINESS_DELAY_MS: z.coerce.number().int().min(0).default(3_000),

  BATCH_SUBMIT_RATE_LIMIT: positiveInt.default(10),
  /** Stedi batch-API polling backoff (design doc: 2 min doubling to 8 h). */
  BATCH_POLL_INITIAL_MS: positiveInt.default(2 * 60_000),
  BATCH_POLL_MAX_MS: positiveInt.default(8 * 3_600_000),
  /** Real-time batch members per chunk activity (issue 14; default 500); 0 = one activity per member. */
  // 0 = off; a chunk of one member would be the per-member path in disguise, so 1 is refused rather than ignored.
  BATCH_REALTIME_CHUNK_MEMBERS: z.coerce.number().int().min(0).max(5_000).refine((n) => n !== 1, '0 (off) or at least 2 members per chunk').default(500),
  BATCH_SUBMIT_RATE_WINDOW_SECONDS: positiveInt.default(3600),
  /** Per-member batch outcomes (WatchBatchStatus MEMBER_COMPLETED) are purged after this many days. */
  BATCH_OUTCOME_RETENTION_DAYS: positiveInt.default(7),
  /**
   * The terminal sweep's schedule interval (batches ended at the Temporal level get their FAILED event; docs/batch.md).
   * 0: this worker does not create or update the `batch-terminal-sweep` schedule. Temporal's minimum is 1 s.
   */
  BATCH_TERMINAL_SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  /** How far back a sweep looks for closed batches; at most the namespace's retention (dev server: 24 h). */
  BATCH_TERMINAL_SWEEP_LOOKBACK_HOURS: positiveInt.max(24 * 90).default(24),
  /**
   * Hosts (exact, or ".suffix", each optionally with ":port" or ":lo-hi") webhook callbacks may target; a non-public
   * address needs its port(s). Local default: loopback ports 9800-9899 only (LOCAL_WEBHOOK_ALLOWED_HOSTS).
   */
  WEBHOOK_ALLOWED_HOSTS: csv.superRefine((entries, ctx) => {
    try {
      parseAllowlist(entries);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  }).optional(),
  /** Per client service signing secrets: "svc=whsec_...;other=whsec_..." (Standard Webhooks); "*=whsec_..." for every other service. */
  WEBHOOK_SECRETS: z.string().default(''),
  /** WarmCache requests per caller service per window (like SubmitBatch's limit). */
  WARM_CACHE_RATE_LIMIT: positiveInt.default(60),
  WARM_CACHE_RATE_WINDOW_SECONDS: positiveInt.default(60),
  /** Stedi batch-API turnaround WarmCache's estimated_completion assumes for batch-API warms. */
  WARM_CACHE_BATCH_LATENCY_SECONDS: positiveInt.default(600),
  /** Members per warming page (one bulk cache read, one child batch per operation × path); ≤ 10,000. */
  WARMING_PAGE_SIZE: positiveInt.max(10_000).default(10_000),
  /** A warming job continues-as-new between pages once its history has this many events. */
  WARMING_CONTINUE_AS_NEW_AFTER_EVENTS: positiveInt.default(5_000),
  MEMBER_CRON_EMIT_RATE: positiveInt.default(1000),
  MEMBER_CRON_DEDUPE_TTL_SECONDS: positiveInt.default(8 * 24 * 3600),
  MEMBER_CRON_SNAPSHOT_FLAGS: csv.default([]),
  /** rte_cache_warming_prediction_accuracy scores member-cron ticks whose 24 h horizon closed this recently. */
  PREDICTION_ACCURACY_LOOKBACK_HOURS: positiveInt.default(7 * 24),
  /** Callers (JWT `sub`) whose CheckEligibility calls are never app usage (verification tools, benches). */
  PREDICTION_USAGE_EXCLUDED_CALLERS: csv.default([]),
  /** Consumer groups whose lag the worker reports as rte_kafka_consumer_group_lag: "group@topic,...". */
  KAFKA_LAG_GROUPS: z.string().default('rte-cache-warmer.member-cron-events@member-cron-events'),

  /** The member-cron consumer (cache warming feed) runs inside the worker process. */
  MEMBER_CRON_CONSUMER_ENABLED: z.enum(['true', 'false']).default('true'),
  MEMBER_CRON_CONSUMER_GROUP: z.string().min(1).default('rte-cache-warmer.member-cron-events'),
  MEMBER_CRON_CONSUMER_TOPIC: z.string().min(1).default('member-cron-events'),
  MEMBER_CRON_CONSUMER_DLQ_TOPIC: z.string().min(1).default('member-cron-events.rte-cache-warmer.dlq'),
  /** Offsets per group (most members in one warming job request). */
  MEMBER_CRON_CONSUMER_MAX_GROUP: positiveInt.default(1000),
  /** Longest a routed event waits in an open group. */
  MEMBER_CRON_CONSUMER_MAX_DELAY_MS: positiveInt.default(5000),
  /** Multiplies every warming lead interval measured from an event's emitted_at (tests: 1/3600 → an hour is a second). */
  WARMING_LEAD_SCALE: z.coerce.number().positive().max(1).default(1),
  /** The member-cron consumer warms members with predicted P at or above this (design doc 0.7; docs/synthetic-day.md). */
  WARMING_MIN_PROBABILITY: z.coerce.number().min(0).max(0.9).default(0.7),

  AUTH_MODE: z.enum(['dev-hs256', 'jwks']).default('dev-hs256'),
  /** Containers whose published ports are loopback-only (temporal-dev.yml) may run dev auth on 0.0.0.0. */
  AUTH_DEV_ALLOW_NON_LOOPBACK: z.enum(['true', 'false']).default('false'),
  AUTH_DEV_SECRET: z.string().min(8).default(DEV_AUTH_SECRET),
  AUTH_JWKS_URL: z.string().url().optional(),
  AUTH_ISSUER: z.string().optional(),
  AUTH_AUDIENCE: z.string().optional(),
});

export type RawEnv = z.infer<typeof envSchema>;

export interface AppConfig {
  profile: 'local' | 'production';
  logLevel: string;
  temporal: { address: string; namespace: string; taskQueue: string; interactiveTaskQueue: string };
  worker: { activitySlots: number; interactiveActivitySlots: number };
  codec: { keys: CodecKey[]; serverHost: string; serverPort: number; corsOrigins: string[]; serverAuth: 'jwt' | 'none' };
  redisUrl: string;
  redisKeyPrefix: string;
  /** REDIS_CLUSTER_NODES parsed; empty: a single Redis at redisUrl. */
  redisClusterNodes: RedisNode[];
  databaseUrl: string;
  /** DATABASE_READ_URL, or databaseUrl when unset: the member directory's and member-cron sources' read-only queries. */
  databaseReadUrl: string;
  databaseSchema: string | undefined;
  kafka: { brokers: string[]; clientId: string; partitions: number; replicationFactor: number };
  stedi: { baseUrl: string; batchBaseUrl: string; apiKey: string; timeoutMs: number; providerNpi: string; providerOrganizationName: string };
  slots: { total: number; reservedInteractive: number; leaseMs: number };
  hedge: { enabled: boolean; percentile: number; minMs: number; maxFraction: number; freeSlotsKept: number };
  cache: { keySecret: string; successTtlSeconds: number; errorTtlSeconds: number; retentionSeconds: number };
  api: { host: string; port: number; refreshWaitMs: number; corsAllowedOrigins: string[]; processes: number; shutdownReadinessDelayMs: number };
  workerMetrics: { host: string; port: number; sdkPort: number };
  shutdownGraceMs: number;
  batch: {
    submitRateLimit: number;
    submitRateWindowMs: number;
    pollInitialMs: number;
    pollMaxMs: number;
    outcomeRetentionMs: number;
    realtimeChunkMembers: number;
    /** The terminal sweep's schedule: interval (0: not managed by this worker) and lookback. */
    terminalSweep: { intervalMs: number; lookbackMs: number };
  };
  webhooks: { allowedHosts: string[]; allowHttp: boolean; secrets: Record<string, string[]> };
  memberCron: { emitRatePerSecond: number; dedupeTtlSeconds: number; snapshotFlagKeys: string[] };
  warmCache: { rateLimit: number; rateWindowMs: number; batchLatencyMs: number };
  /** Paging of cache-warming jobs, for every way a job starts (WarmCache, warming schedules, the member-cron intake). */
  warming: { pageSize: number; continueAsNewAfterEvents: number };
  predictionAccuracy: { lookbackMs: number; excludedCallers: string[] };
  kafkaLagGroups: WatchedGroup[];
  memberCronConsumer: { enabled: boolean; groupId: string; topic: string; dlqTopic: string; maxGroupSize: number; maxDelayMs: number; leadScale: number; skipBelow?: number };
  auth:
    | { mode: 'dev-hs256'; devSecret: string }
    | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };
}

/** True for hosts only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface RedisNode {
  host: string;
  port: number;
}

/** "host:port,host:port" (IPv6 as "[::1]:7000") → nodes; throws an Error saying which entry is wrong. */
export function parseRedisClusterNodes(value: string): RedisNode[] {
  const entries = value.split(',').map((x) => x.trim());
  if (entries.every((x) => x === '')) throw new Error('expected comma-separated host:port seeds, got an empty value');
  return entries.map((entry, i) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 1 && port <= 65535)) throw new Error(`entry ${i + 1} ${JSON.stringify(entry)} is not host:port (port 1-65535)`);
    const host = m[1]!;
    return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
  });
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.RTE_PROFILE === 'production') {
    if (e.AUTH_MODE !== 'jwks') problems.push('AUTH_MODE: production requires jwks');
    if (e.CACHE_KEY_SECRET === DEV_CACHE_KEY_SECRET) problems.push('CACHE_KEY_SECRET: production requires a real secret');
    // Stedi's batch API lives on the manager host, not the real-time host.
    if (!e.STEDI_BATCH_BASE_URL) problems.push('STEDI_BATCH_BASE_URL: production requires the Stedi manager API base URL (https://manager.us.stedi.com)');
  }
  let codecKeys: CodecKey[] = [];
  try {
    codecKeys = parseCodecKeys(e.TEMPORAL_CODEC_KEYS);
  } catch (err) {
    problems.push(`TEMPORAL_CODEC_KEYS: ${(err as Error).message}`);
  }
  if (e.RTE_PROFILE === 'production') {
    const dev = parseCodecKeys(DEV_CODEC_KEYS)[0]?.key;
    if (codecKeys.some((k) => dev && k.key.equals(dev))) problems.push('TEMPORAL_CODEC_KEYS: production refuses the dev key');
  }
  if (e.CODEC_SERVER_AUTH === 'none' && (e.RTE_PROFILE === 'production' || !isLoopbackHost(e.CODEC_SERVER_HOST))) {
    problems.push('CODEC_SERVER_AUTH: "none" is allowed only for a loopback CODEC_SERVER_HOST in the local profile');
  }
  if ((e.TEMPORAL_INTERACTIVE_TASK_QUEUE ?? `${e.TEMPORAL_TASK_QUEUE}-interactive`) === e.TEMPORAL_TASK_QUEUE) {
    problems.push('TEMPORAL_INTERACTIVE_TASK_QUEUE: must differ from TEMPORAL_TASK_QUEUE (interactive work must not queue behind batches)');
  }
  if (e.STEDI_SLOTS_RESERVED_INTERACTIVE >= e.STEDI_SLOTS) {
    problems.push('STEDI_SLOTS_RESERVED_INTERACTIVE: must be smaller than STEDI_SLOTS');
  }
  if (e.STEDI_HEDGE_FREE_SLOTS_KEPT >= e.STEDI_SLOTS) {
    problems.push('STEDI_HEDGE_FREE_SLOTS_KEPT: must be smaller than STEDI_SLOTS');
  }
  // Anyone who can reach a listener can mint dev tokens (the secret is public): dev auth only on loopback.
  if (e.AUTH_MODE === 'dev-hs256' && e.AUTH_DEV_ALLOW_NON_LOOPBACK !== 'true') {
    for (const [name, host] of [
      ['API_HOST', e.API_HOST],
      ['WORKER_METRICS_HOST', e.WORKER_METRICS_HOST],
      ['CODEC_SERVER_HOST', e.CODEC_SERVER_HOST],
    ] as const) {
      if (!isLoopbackHost(host)) problems.push(`${name}: dev auth (AUTH_MODE=dev-hs256) requires a loopback listener, got ${host}; use AUTH_MODE=jwks`);
    }
  }
  let auth: AppConfig['auth'];
  if (e.AUTH_MODE === 'jwks') {
    if (!e.AUTH_JWKS_URL) problems.push('AUTH_JWKS_URL: required when AUTH_MODE=jwks');
    if (!e.AUTH_ISSUER) problems.push('AUTH_ISSUER: required when AUTH_MODE=jwks');
    if (!e.AUTH_AUDIENCE) problems.push('AUTH_AUDIENCE: required when AUTH_MODE=jwks');
    auth = { mode: 'jwks', jwksUrl: e.AUTH_JWKS_URL ?? '', issuer: e.AUTH_ISSUER ?? '', audience: e.AUTH_AUDIENCE ?? '' };
  } else {
    auth = { mode: 'dev-hs256', devSecret: e.AUTH_DEV_SECRET };
  }
  const secrets: Record<string, string[]> = {};
  for (const pair of e.WEBHOOK_SECRETS.split(';').map((x) => x.trim()).filter(Boolean)) {
    // Split at the first '=' only: base64 secrets end in '=' padding.
    const at = pair.indexOf('=');
    const [svc, secret] = at < 0 ? [pair, ''] : [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    if (!svc || !secret || !secret.startsWith('whsec_')) {
      problems.push('WEBHOOK_SECRETS: expected "service=whsec_...;service2=whsec_..."');
      break;
    }
    (secrets[svc] ??= []).push(secret);
  }
  let redisClusterNodes: RedisNode[] = [];
  if (e.REDIS_CLUSTER_NODES !== undefined) {
    try {
      redisClusterNodes = parseRedisClusterNodes(e.REDIS_CLUSTER_NODES);
    } catch (err) {
      problems.push(`REDIS_CLUSTER_NODES: ${(err as Error).message}`);
    }
  }
  if (e.DATABASE_READ_URL !== undefined && !/^postgres(ql)?:\/\/./.test(e.DATABASE_READ_URL)) {
    problems.push('DATABASE_READ_URL: expected a postgres:// or postgresql:// connection URL');
  }
  let kafkaLagGroups: WatchedGroup[] = [];
  try {
    kafkaLagGroups = parseWatchedGroups(e.KAFKA_LAG_GROUPS);
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    profile: e.RTE_PROFILE,
    logLevel: e.LOG_LEVEL,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      interactiveTaskQueue: e.TEMPORAL_INTERACTIVE_TASK_QUEUE ?? `${e.TEMPORAL_TASK_QUEUE}-interactive`,
    },
    worker: { activitySlots: e.WORKER_ACTIVITY_SLOTS, interactiveActivitySlots: e.WORKER_INTERACTIVE_ACTIVITY_SLOTS },
    codec: { keys: codecKeys, serverHost: e.CODEC_SERVER_HOST, serverPort: e.CODEC_SERVER_PORT, corsOrigins: e.CODEC_SERVER_CORS_ORIGINS, serverAuth: e.CODEC_SERVER_AUTH },
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    redisClusterNodes,
    databaseUrl: e.DATABASE_URL,
    databaseReadUrl: e.DATABASE_READ_URL ?? e.DATABASE_URL,
    databaseSchema: e.DATABASE_SCHEMA,
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      partitions: e.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
    },
    stedi: {
      baseUrl: e.STEDI_BASE_URL,
      batchBaseUrl: e.STEDI_BATCH_BASE_URL ?? e.STEDI_BASE_URL,
      apiKey: e.STEDI_API_KEY,
      timeoutMs: e.STEDI_TIMEOUT_MS,
      providerNpi: e.PROVIDER_NPI,
      providerOrganizationName: e.PROVIDER_ORGANIZATION_NAME,
    },
    slots: { total: e.STEDI_SLOTS, reservedInteractive: e.STEDI_SLOTS_RESERVED_INTERACTIVE, leaseMs: e.SLOT_LEASE_MS },
    hedge: {
      enabled: e.STEDI_HEDGE === 'on',
      percentile: e.STEDI_HEDGE_PERCENTILE,
      minMs: e.STEDI_HEDGE_MIN_MS,
      maxFraction: e.STEDI_HEDGE_MAX_FRACTION,
      freeSlotsKept: e.STEDI_HEDGE_FREE_SLOTS_KEPT,
    },
    cache: {
      keySecret: e.CACHE_KEY_SECRET,
      successTtlSeconds: e.CACHE_SUCCESS_TTL_SECONDS,
      errorTtlSeconds: e.CACHE_ERROR_TTL_SECONDS,
      retentionSeconds: e.CACHE_RETENTION_SECONDS,
    },
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      refreshWaitMs: e.API_REFRESH_WAIT_MS,
      processes: e.API_PROCESSES,
      shutdownReadinessDelayMs: e.SHUTDOWN_READINESS_DELAY_MS,
      corsAllowedOrigins: e.CORS_ALLOWED_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    },
    workerMetrics: { host: e.WORKER_METRICS_HOST, port: e.WORKER_METRICS_PORT, sdkPort: e.WORKER_SDK_METRICS_PORT },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    batch: {
      submitRateLimit: e.BATCH_SUBMIT_RATE_LIMIT,
      submitRateWindowMs: e.BATCH_SUBMIT_RATE_WINDOW_SECONDS * 1000,
      pollInitialMs: e.BATCH_POLL_INITIAL_MS,
      pollMaxMs: e.BATCH_POLL_MAX_MS,
      realtimeChunkMembers: e.BATCH_REALTIME_CHUNK_MEMBERS,
      outcomeRetentionMs: e.BATCH_OUTCOME_RETENTION_DAYS * 24 * 3_600_000,
      terminalSweep: { intervalMs: e.BATCH_TERMINAL_SWEEP_INTERVAL_SECONDS * 1000, lookbackMs: e.BATCH_TERMINAL_SWEEP_LOOKBACK_HOURS * 3_600_000 },
    },
    webhooks: {
      allowedHosts: e.WEBHOOK_ALLOWED_HOSTS ?? (e.RTE_PROFILE === 'local' ? [...LOCAL_WEBHOOK_ALLOWED_HOSTS] : []),
      allowHttp: e.RTE_PROFILE === 'local',
      secrets,
    },
    warming: { pageSize: e.WARMING_PAGE_SIZE, continueAsNewAfterEvents: e.WARMING_CONTINUE_AS_NEW_AFTER_EVENTS },
    warmCache: { rateLimit: e.WARM_CACHE_RATE_LIMIT, rateWindowMs: e.WARM_CACHE_RATE_WINDOW_SECONDS * 1000, batchLatencyMs: e.WARM_CACHE_BATCH_LATENCY_SECONDS * 1000 },
    memberCron: {
      emitRatePerSecond: e.MEMBER_CRON_EMIT_RATE,
      dedupeTtlSeconds: e.MEMBER_CRON_DEDUPE_TTL_SECONDS,
      snapshotFlagKeys: e.MEMBER_CRON_SNAPSHOT_FLAGS,
    },
    predictionAccuracy: {
      lookbackMs: e.PREDICTION_ACCURACY_LOOKBACK_HOURS * 3_600_000,
      excludedCallers: e.PREDICTION_USAGE_EXCLUDED_CALLERS,
    },
    kafkaLagGroups,
    memberCronConsumer: {
      enabled: e.MEMBER_CRON_CONSUMER_ENABLED === 'true',
      groupId: e.MEMBER_CRON_CONSUMER_GROUP,
      topic: e.MEMBER_CRON_CONSUMER_TOPIC,
      dlqTopic: e.MEMBER_CRON_CONSUMER_DLQ_TOPIC,
      maxGroupSize: e.MEMBER_CRON_CONSUMER_MAX_GROUP,
      maxDelayMs: e.MEMBER_CRON_CONSUMER_MAX_DELAY_MS,
      leadScale: e.WARMING_LEAD_SCALE,
      skipBelow: e.WARMING_MIN_PROBABILITY,
    },
    auth,
  };
}
