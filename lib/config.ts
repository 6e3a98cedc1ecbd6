import { z } from 'zod';

/**
 * The one typed, validated configuration loader. Only process entry points (workers/, api/, stedi-sim/,
 * scripts/) call it; everything else receives the values it needs. Defaults are the local dev stack's
 * (stack/env.sh); production sets every secret explicitly and `RTE_PROFILE=production` refuses dev defaults.
 */
const DEV_AUTH_SECRET = 'dev-secret-change-me';
const DEV_CACHE_KEY_SECRET = 'dev-cache-key-secret-change-me';

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

  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key the platform writes (tests use a random one). */
  REDIS_KEY_PREFIX: z.string().regex(/^[a-z0-9:_-]*$/).default('rte:'),
  DATABASE_URL: z.string().min(1).default('postgres://rte:rte@127.0.0.1:5432/rte'),
  /** Schema of the platform's tables (search_path); default: the server's default (public). */
  DATABASE_SCHEMA: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/).optional(),
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().default('rte-platform'),
  KAFKA_TOPIC_PARTITIONS: positiveInt.default(6),
  KAFKA_REPLICATION_FACTOR: positiveInt.default(1),

  STEDI_BASE_URL: z.string().url().default('http://127.0.0.1:8090'),
  STEDI_API_KEY: z.string().min(1).default('test-local-key'),
  STEDI_TIMEOUT_MS: positiveInt.default(90_000),
  PROVIDER_NPI: z.string().regex(/^\d{10}$/, 'must be a 10-digit NPI').default('1999999984'),
  PROVIDER_ORGANIZATION_NAME: z.string().min(1).default('RTE Platform Provider Group'),

  STEDI_SLOTS: positiveInt.default(15),
  STEDI_SLOTS_RESERVED_INTERACTIVE: z.coerce.number().int().min(0).default(3),
  SLOT_LEASE_MS: positiveInt.default(30_000),

  CACHE_KEY_SECRET: z.string().min(16).default(DEV_CACHE_KEY_SECRET),
  CACHE_SUCCESS_TTL_SECONDS: positiveInt.default(22 * 3600),
  CACHE_ERROR_TTL_SECONDS: positiveInt.default(5 * 60),
  CACHE_RETENTION_SECONDS: positiveInt.default(7 * 24 * 3600),

  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port.default(8080),
  API_REFRESH_WAIT_MS: positiveInt.default(60_000),
  /** Browser origins allowed to call the API (Connect, gRPC-Web) cross-origin, comma-separated; empty: none. */
  CORS_ALLOWED_ORIGINS: z.string().default(''),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  WORKER_METRICS_PORT: port.default(9464),
  /** Temporal SDK (Rust core) Prometheus endpoint of the worker; 0 picks a free port. */
  WORKER_SDK_METRICS_PORT: port.default(9465),
  SHUTDOWN_GRACE_MS: positiveInt.default(30_000),

  BATCH_SUBMIT_RATE_LIMIT: positiveInt.default(10),
  /** Stedi batch-API polling backoff (design doc: 2 min doubling to 8 h). */
  BATCH_POLL_INITIAL_MS: positiveInt.default(2 * 60_000),
  BATCH_POLL_MAX_MS: positiveInt.default(8 * 3_600_000),
  BATCH_SUBMIT_RATE_WINDOW_SECONDS: positiveInt.default(3600),
  /** Per-member batch outcomes (WatchBatchStatus MEMBER_COMPLETED) are purged after this many days. */
  BATCH_OUTCOME_RETENTION_DAYS: positiveInt.default(7),
  /** Hosts (exact, or ".suffix") webhook callbacks may target. Local default: loopback only. */
  WEBHOOK_ALLOWED_HOSTS: csv.optional(),
  /** Per client service signing secrets: "svc=whsec_...;other=whsec_..." (Standard Webhooks); "*=whsec_..." for every other service. */
  WEBHOOK_SECRETS: z.string().default(''),
  MEMBER_CRON_EMIT_RATE: positiveInt.default(1000),
  MEMBER_CRON_DEDUPE_TTL_SECONDS: positiveInt.default(8 * 24 * 3600),
  MEMBER_CRON_SNAPSHOT_FLAGS: csv.default([]),
  /** rte_cache_warming_prediction_accuracy scores member-cron ticks whose 24 h horizon closed this recently. */
  PREDICTION_ACCURACY_LOOKBACK_HOURS: positiveInt.default(7 * 24),
  /** Callers (JWT `sub`) whose CheckEligibility calls are never app usage (verification tools, benches). */
  PREDICTION_USAGE_EXCLUDED_CALLERS: csv.default([]),

  AUTH_MODE: z.enum(['dev-hs256', 'jwks']).default('dev-hs256'),
  AUTH_DEV_SECRET: z.string().min(8).default(DEV_AUTH_SECRET),
  AUTH_JWKS_URL: z.string().url().optional(),
  AUTH_ISSUER: z.string().optional(),
  AUTH_AUDIENCE: z.string().optional(),
});

export type RawEnv = z.infer<typeof envSchema>;

export interface AppConfig {
  profile: 'local' | 'production';
  logLevel: string;
  temporal: { address: string; namespace: string; taskQueue: string };
  redisUrl: string;
  redisKeyPrefix: string;
  databaseUrl: string;
  databaseSchema: string | undefined;
  kafka: { brokers: string[]; clientId: string; partitions: number; replicationFactor: number };
  stedi: { baseUrl: string; apiKey: string; timeoutMs: number; providerNpi: string; providerOrganizationName: string };
  slots: { total: number; reservedInteractive: number; leaseMs: number };
  cache: { keySecret: string; successTtlSeconds: number; errorTtlSeconds: number; retentionSeconds: number };
  api: { host: string; port: number; refreshWaitMs: number; corsAllowedOrigins: string[] };
  workerMetrics: { host: string; port: number; sdkPort: number };
  shutdownGraceMs: number;
  batch: { submitRateLimit: number; submitRateWindowMs: number; pollInitialMs: number; pollMaxMs: number; outcomeRetentionMs: number };
  webhooks: { allowedHosts: string[]; allowHttp: boolean; secrets: Record<string, string[]> };
  memberCron: { emitRatePerSecond: number; dedupeTtlSeconds: number; snapshotFlagKeys: string[] };
  predictionAccuracy: { lookbackMs: number; excludedCallers: string[] };
  auth:
    | { mode: 'dev-hs256'; devSecret: string }
    | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };
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
  }
  if (e.STEDI_SLOTS_RESERVED_INTERACTIVE >= e.STEDI_SLOTS) {
    problems.push('STEDI_SLOTS_RESERVED_INTERACTIVE: must be smaller than STEDI_SLOTS');
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
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    profile: e.RTE_PROFILE,
    logLevel: e.LOG_LEVEL,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    databaseUrl: e.DATABASE_URL,
    databaseSchema: e.DATABASE_SCHEMA,
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      partitions: e.KAFKA_TOPIC_PARTITIONS,
      replicationFactor: e.KAFKA_REPLICATION_FACTOR,
    },
    stedi: {
      baseUrl: e.STEDI_BASE_URL,
      apiKey: e.STEDI_API_KEY,
      timeoutMs: e.STEDI_TIMEOUT_MS,
      providerNpi: e.PROVIDER_NPI,
      providerOrganizationName: e.PROVIDER_ORGANIZATION_NAME,
    },
    slots: { total: e.STEDI_SLOTS, reservedInteractive: e.STEDI_SLOTS_RESERVED_INTERACTIVE, leaseMs: e.SLOT_LEASE_MS },
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
      outcomeRetentionMs: e.BATCH_OUTCOME_RETENTION_DAYS * 24 * 3_600_000,
    },
    webhooks: {
      allowedHosts: e.WEBHOOK_ALLOWED_HOSTS ?? (e.RTE_PROFILE === 'local' ? ['localhost', '127.0.0.1'] : []),
      allowHttp: e.RTE_PROFILE === 'local',
      secrets,
    },
    memberCron: {
      emitRatePerSecond: e.MEMBER_CRON_EMIT_RATE,
      dedupeTtlSeconds: e.MEMBER_CRON_DEDUPE_TTL_SECONDS,
      snapshotFlagKeys: e.MEMBER_CRON_SNAPSHOT_FLAGS,
    },
    predictionAccuracy: {
      lookbackMs: e.PREDICTION_ACCURACY_LOOKBACK_HOURS * 3_600_000,
      excludedCallers: e.PREDICTION_USAGE_EXCLUDED_CALLERS,
    },
    auth,
  };
}
