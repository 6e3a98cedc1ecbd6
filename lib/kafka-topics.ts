import type { Admin } from 'kafkajs';

/** Kafka topic names: an external contract (ARCHITECTURE.md §4). */
export const Topics = {
  memberCronEvents: 'member-cron-events',
  batchJobEvents: 'domain.rte.v1.batch_job_events',
  cacheWarmingEvents: 'domain.rte.v1.cache_warming_events',
  /** Dead letters of the member-cron emitter (events that could not be published after retries). */
  memberCronEventsDlq: 'member-cron-events.dlq',
  /** Dead letters of the cache-warming consumer (member-cron events it could not process). */
  cacheWarmingConsumerDlq: 'member-cron-events.rte-cache-warmer.dlq',
} as const;

export const ALL_TOPICS: readonly string[] = Object.values(Topics);

/** Header names carried on every record we produce. */
export const EventHeaders = {
  eventId: 'event-id',
  schema: 'schema',
  contentType: 'content-type',
} as const;

export interface TopicSettings {
  partitions: number;
  replicationFactor: number;
}

/**
 * Creates missing platform topics (idempotent; safe when several processes start at once).
 * Returns the topics it created.
 */
export async function ensureTopics(admin: Admin, settings: TopicSettings, topics: readonly string[] = ALL_TOPICS): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((topic) => ({
      topic,
      numPartitions: settings.partitions,
      replicationFactor: settings.replicationFactor,
      configEntries: topic.endsWith('.dlq') ? [{ name: 'retention.ms', value: String(14 * 24 * 3600 * 1000) }] : [],
    })),
  });
  return missing;
}
