import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createRedisEligibilityCache } from '../activities/cache';
import { createEligibilityActivities } from '../activities/eligibility/activities';
import { createRedisSlotPool, type SlotPool } from '../activities/slot-pool';
import { createHttpStediGateway } from '../activities/stedi/gateway';
import type { AppConfig } from '../lib/config';
import type { MemberRecordSource } from '../lib/member-record';
import type { Metrics } from '../lib/metrics';

export interface WorkerDeps {
  config: AppConfig;
  logger: Logger;
  metrics: Metrics;
  redis: Redis;
  members: MemberRecordSource;
}

/** Builds every activity the worker registers from already-open connections. */
export function createWorkerActivities(deps: WorkerDeps): { activities: Record<string, (...args: never[]) => unknown>; slotPool: SlotPool } {
  const { config, logger, metrics } = deps;
  const slotPool = createRedisSlotPool({
    redis: deps.redis,
    keyPrefix: config.redisKeyPrefix,
    limit: config.slots.total,
    reservedInteractive: config.slots.reservedInteractive,
    leaseTtlMs: config.slots.leaseMs,
    logger,
    metrics: {
      onAcquire: (queue, _kind, waitMs) => metrics.slotWait.observe({ queue: queue.split(':')[0] ?? queue }, waitMs / 1000),
      slotsInUse: (inUse) => metrics.slotsInUse.set(inUse.total),
    },
  });
  const cache = createRedisEligibilityCache({
    redis: deps.redis,
    keySecret: config.cache.keySecret,
    keyPrefix: config.redisKeyPrefix,
    ttl: { successSeconds: config.cache.successTtlSeconds, errorSeconds: config.cache.errorTtlSeconds },
    retentionSeconds: config.cache.retentionSeconds,
    logger,
  });
  const stedi = createHttpStediGateway({ baseUrl: config.stedi.baseUrl, apiKey: config.stedi.apiKey, timeoutMs: config.stedi.timeoutMs });
  const eligibility = createEligibilityActivities({
    members: deps.members,
    stedi,
    slots: slotPool,
    cache,
    provider: { npi: config.stedi.providerNpi, organizationName: config.stedi.providerOrganizationName },
    memberHashSecret: config.cache.keySecret,
    logger,
    metrics: {
      onStediCall: (api, outcome, seconds) => {
        metrics.stediRequests.inc({ api, outcome });
        metrics.stediDuration.observe({ api }, seconds);
      },
    },
  });
  return { activities: { ...eligibility }, slotPool };
}
