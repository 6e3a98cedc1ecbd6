export * from './types';
export { memberOperationHash } from './cache-key';
export { createRedisEligibilityCache, type RedisEligibilityCacheOptions } from './redis-eligibility-cache';
export { createConfiguredEligibilityCache } from './from-config';
