import { fromBinary } from '@bufbuild/protobuf';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { CacheWarmingEventSchema, type CacheWarmingEvent } from '../../gen/rte/v1/events_pb';

export const WARMING_EVENTS_TOPIC = 'domain.rte.v1.cache_warming_events';

export interface WarmingEventObserver {
  /** Decoded CacheWarmingEvents seen since start, by warming job id (the record key). */
  byJob: Map<string, CacheWarmingEvent[]>;
  stop(): Promise<void>;
}

/**
 * Reads domain.rte.v1.cache_warming_events from now on under a fresh consumer group (deleted on stop); resolves once
 * the group has joined, so every event published afterwards is seen.
 */
export async function observeWarmingEvents(brokers: string[]): Promise<WarmingEventObserver> {
  const kafka = new Kafka({ clientId: `warming-events-observer-${randomUUID().slice(0, 8)}`, brokers, logLevel: logLevel.NOTHING });
  const groupId = `warming-events-observer-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId });
  const byJob = new Map<string, CacheWarmingEvent[]>();
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topic: WARMING_EVENTS_TOPIC, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.key || !message.value) return;
      const key = message.key.toString();
      byJob.set(key, [...(byJob.get(key) ?? []), fromBinary(CacheWarmingEventSchema, new Uint8Array(message.value))]);
    },
  });
  await joined;
  return {
    byJob,
    async stop() {
      await consumer.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
