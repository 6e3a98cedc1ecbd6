import type { Consumer, IHeaders, Kafka } from 'kafkajs';
import { EventHeaders } from '../../lib/kafka-topics';
import type { Logger } from '../../lib/logger';
import type { EventPublisher } from './types';

/**
 * A small consumer library for subscribers of platform topics. Each subscribing service uses its own
 * consumer group (`consumerGroupId(service, topic)`), so every service sees every event. A message whose
 * handler keeps failing is sent to the subscriber's dead-letter topic with the reason, and consumption
 * moves on (one poison message must not stall a partition).
 */
export interface ConsumedEvent {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Uint8Array;
  headers: Record<string, string>;
  /** The event-id header (consumers de-duplicate on it; delivery is at least once). */
  eventId: string | undefined;
  /** The schema header, e.g. "rte.v1.MemberCronEvent". */
  schema: string | undefined;
}

export interface EventConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  handler: (event: ConsumedEvent) => Promise<void>;
  /** Dead-letter topic for this subscriber, e.g. Topics.cacheWarmingConsumerDlq. */
  dlqTopic: string;
  /** Publishes dead letters. */
  publisher: EventPublisher;
  /** Handler attempts per message before dead-lettering (default 3). */
  maxAttempts?: number;
  /** Backoff between attempts, ms (default 200, doubled each attempt). */
  retryBackoffMs?: number;
  fromBeginning?: boolean;
  logger?: Logger;
}

export interface EventConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves once the consumer has joined its group and been assigned partitions. */
  ready(): Promise<void>;
}

/** Conventional consumer group per subscribing service and topic. */
export function consumerGroupId(service: string, topic: string): string {
  return `${service}.${topic}`;
}

export function headersToRecord(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first.toString();
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The dead-letter record of a subscriber: original key, value, event id and schema, plus the `dlq-*` headers. */
export async function publishDeadLetter(
  publisher: EventPublisher,
  opts: { dlqTopic: string; groupId: string; attempts: number },
  event: Pick<ConsumedEvent, 'topic' | 'partition' | 'offset' | 'key' | 'value' | 'eventId' | 'schema'>,
  reason: string,
): Promise<void> {
  await publisher.publish([
    {
      topic: opts.dlqTopic,
      key: event.key ?? '',
      value: event.value,
      eventId: event.eventId ?? `${event.topic}/${event.partition}/${event.offset}`,
      schema: event.schema ?? 'unknown',
      headers: {
        'dlq-reason': reason.slice(0, 1000),
        'dlq-source-topic': event.topic,
        'dlq-source-partition': String(event.partition),
        'dlq-source-offset': event.offset,
        'dlq-consumer-group': opts.groupId,
        'dlq-attempts': String(opts.attempts),
      },
    },
  ]);
}

export function createEventConsumer(opts: EventConsumerOptions): EventConsumer {
  const maxAttempts = opts.maxAttempts ?? 3;
  const backoff = opts.retryBackoffMs ?? 200;
  let consumer: Consumer | undefined;
  let resolveReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((r) => (resolveReady = r));

  return {
    ready: () => readyPromise,
    async start() {
      consumer = opts.kafka.consumer({ groupId: opts.groupId });
      consumer.on(consumer.events.GROUP_JOIN, () => resolveReady());
      await consumer.connect();
      await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? false });
      await consumer.run({
        autoCommit: true,
        eachMessage: async ({ topic, partition, message }) => {
          const headers = headersToRecord(message.headers);
          const event: ConsumedEvent = {
            topic,
            partition,
            offset: message.offset,
            key: message.key ? message.key.toString() : null,
            value: message.value ? new Uint8Array(message.value) : new Uint8Array(),
            headers,
            eventId: headers[EventHeaders.eventId],
            schema: headers[EventHeaders.schema],
          };
          let lastError: unknown;
          for (let attempt = 1; attempt <= maxAttempts; attempt++) {
            try {
              await opts.handler(event);
              return;
            } catch (err) {
              lastError = err;
              if (attempt < maxAttempts) await sleep(backoff * 2 ** (attempt - 1));
            }
          }
          const reason = lastError instanceof Error ? lastError.message : String(lastError);
          opts.logger?.warn({ topic, partition, offset: message.offset, eventId: event.eventId, reason }, 'dead-lettering message');
          // If this publish fails, eachMessage throws and kafkajs re-delivers the message: nothing is lost.
          await publishDeadLetter(opts.publisher, { dlqTopic: opts.dlqTopic, groupId: opts.groupId, attempts: maxAttempts }, event, reason);
        },
      });
    },
    async stop() {
      await consumer?.disconnect();
      consumer = undefined;
    },
  };
}
