import type { RedisClient } from '../../lib/redis-client';
import type { Logger } from 'pino';
import type { AppConfig } from '../../lib/config';
import { createRedisEligibilityCache, type RedisEligibilityCacheOptions } from './redis-eligibility-cache';
import type { EligibilityCache } from './types';

/** The eligibility cache as configured for this deployment (worker and API must agree on keys and TTLs). */
export function createConfiguredEligibilityCache(
  redis: RedisClient,
  config: AppConfig,
  logger: Logger,
  overrides: Pick<RedisEligibilityCacheOptions, 'maxKeysPerRead' | 'parsedEntryMemo' | 'groupReads'> = {},
): EligibilityCache {
  return createRedisEligibilityCache({
    redis,
    keySecret: config.cache.keySecret,
    keyPrefix: config.redisKeyPrefix,
    ttl: { successSeconds: config.cache.successTtlSeconds, errorSeconds: config.cache.errorTtlSeconds },
    retentionSeconds: config.cache.retentionSeconds,
    logger,
    ...overrides,
  });
}
