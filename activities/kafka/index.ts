export type { EventPublisher, OutgoingEvent } from './types';
export { createKafkaEventPublisher, KafkaEventPublisher, PROTOBUF_CONTENT_TYPE, toKafkaMessage } from './kafka-publisher';
export { InMemoryEventPublisher } from './in-memory-publisher';
export { RedisTokenBucket, unlimitedRateLimiter, type EmissionRateLimiter, type TokenBucketOptions } from './rate-limiter';
export { createEventConsumer, consumerGroupId, headersToRecord, publishDeadLetter, type ConsumedEvent, type EventConsumer, type EventConsumerOptions } from './consumer';
