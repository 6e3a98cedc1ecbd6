export * from './types';
export { createRedisSlotPool, slotPoolKeys, slotQueueId, type RedisSlotPoolOptions } from './redis-slot-pool';
export { createInMemorySlotPool, type InMemorySlotPoolOptions } from './in-memory-slot-pool';
