import type { CompressionTypes, Kafka, Message, Producer } from 'kafkajs';
import { EventHeaders } from '../../lib/kafka-topics';
import type { EventPublisher, OutgoingEvent } from './types';

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

export interface KafkaPublisherOptions {
  /** Producer transactional id is not used; idempotence gives per-partition exactly-once for retries. */
  compression?: CompressionTypes;
  /** Broker acknowledgement timeout per request. */
  ackTimeoutMs?: number;
}

export function toKafkaMessage(e: OutgoingEvent): Message {
  return {
    key: e.key,
    value: Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength),
    headers: {
      ...(e.headers ?? {}),
      [EventHeaders.eventId]: e.eventId,
      [EventHeaders.schema]: e.schema,
      [EventHeaders.contentType]: PROTOBUF_CONTENT_TYPE,
    },
  };
}

/**
 * kafkajs adapter of the EventPublisher port: idempotent producer (the broker drops retried duplicates
 * within a producer session), one in-flight request per connection (required for idempotence and for
 * per-key ordering across retries), acks from all in-sync replicas.
 */
export class KafkaEventPublisher implements EventPublisher {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: KafkaPublisherOptions = {},
  ) {}

  private async ready(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      this.producer = p;
      return p;
    })().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  async publish(events: readonly OutgoingEvent[]): Promise<void> {
    if (events.length === 0) return;
    const producer = await this.ready();
    const byTopic = new Map<string, Message[]>();
    for (const e of events) {
      const list = byTopic.get(e.topic) ?? [];
      list.push(toKafkaMessage(e));
      byTopic.set(e.topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      timeout: this.opts.ackTimeoutMs ?? 30_000,
      ...(this.opts.compression !== undefined ? { compression: this.opts.compression } : {}),
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  async close(): Promise<void> {
    const p = this.producer ?? (this.connecting ? await this.connecting.catch(() => undefined) : undefined);
    this.producer = undefined;
    this.connecting = undefined;
    await p?.disconnect();
  }
}

export function createKafkaEventPublisher(kafka: Kafka, opts: KafkaPublisherOptions = {}): EventPublisher {
  return new KafkaEventPublisher(kafka, opts);
}
