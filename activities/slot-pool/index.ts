export * from './types';
export { createRedisSlotPool, slotPoolKeys, slotQueueId, type RedisSlotPoolOptions } from './redis-slot-pool';
