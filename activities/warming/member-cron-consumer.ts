import { Counter, Gauge, type Registry } from 'prom-client';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../../lib/logger';
import type { WarmingIntake } from '../../lib/warming/types';
import { headersToRecord, publishDeadLetter } from '../kafka/consumer';
import type { EventPublisher } from '../kafka/types';
import { EventHeaders } from '../../lib/kafka-topics';
import { MemberCronWarmingFeed, type FeedMetrics } from './member-cron-feed';
import type { RoutingConfig } from './member-cron-routing';

/**
 * The member-cron consumer (issue 9): a Kafka consumer group on `member-cron-events` that turns MemberCronEvents
 * into warming jobs through the WarmingIntake port. Routing, grouping and the offset rule live in
 * member-cron-feed.ts; this file drives it from kafkajs with manual commits (autoCommit off): an offset is
 * committed only once every record before it is settled (skipped, dead-lettered, or accepted by the intake).
 */

export interface MemberCronConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  dlqTopic: string;
  /** Publishes dead letters. */
  publisher: EventPublisher;
  intake: WarmingIntake;
  routing: RoutingConfig;
  maxGroupSize: number;
  maxDelayMs: number;
  /** A new group starts at the topic's beginning (default false: only new events). */
  fromBeginning?: boolean;
  /** Longest stop() waits for open groups to be accepted before leaving them uncommitted (default 10 s). */
  shutdownFlushMs?: number;
  logger?: Logger;
  metrics?: MemberCronConsumerMetrics;
}

export interface MemberCronConsumer {
  start(): Promise<void>;
  /** Resolves once the consumer joined its group. */
  ready(): Promise<void>;
  /** Stops fetching, accepts open groups (bounded by shutdownFlushMs), commits what is settled, leaves the group. */
  stop(): Promise<void>;
}

export function createMemberCronConsumerMetrics(registry: Registry) {
  const events = new Counter({
    name: 'rte_member_cron_consumer_events_total',
    help: 'MemberCronEvents consumed by the cache-warming consumer, by result (routed_urgent, routed_preload, skipped_<reason>, dead_lettered)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const groups = new Counter({
    name: 'rte_member_cron_consumer_groups_accepted_total',
    help: 'Warming job requests accepted by the intake, by priority',
    labelNames: ['priority'] as const,
    registers: [registry],
  });
  const members = new Counter({
    name: 'rte_member_cron_consumer_members_accepted_total',
    help: 'Members in accepted warming job requests, by priority',
    labelNames: ['priority'] as const,
    registers: [registry],
  });
  const acceptFailures = new Counter({
    name: 'rte_member_cron_consumer_accept_failures_total',
    help: 'Failed WarmingIntake.accept() calls (retried; offsets stay uncommitted meanwhile)',
    registers: [registry],
  });
  const pending = new Gauge({
    name: 'rte_member_cron_consumer_pending_events',
    help: 'Routed events waiting in open groups for the intake',
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'rte_member_cron_consumer_lag',
    help: 'Records behind the partition high watermark after the last fetched batch, by partition',
    labelNames: ['partition'] as const,
    registers: [registry],
  });
  const feed: FeedMetrics = {
    consumed: () => undefined,
    skipped: (reason) => events.inc({ result: `skipped_${reason}` }),
    routed: (priority) => events.inc({ result: `routed_${priority.toLowerCase()}` }),
    deadLettered: () => events.inc({ result: 'dead_lettered' }),
    groupAccepted: (priority, n) => {
      groups.inc({ priority });
      members.inc({ priority }, n);
    },
    acceptFailed: () => acceptFailures.inc(),
    pending: (n) => pending.set(n),
  };
  return { feed, lag };
}
export type MemberCronConsumerMetrics = ReturnType<typeof createMemberCronConsumerMetrics>;

export function createMemberCronConsumer(opts: MemberCronConsumerOptions): MemberCronConsumer {
  let consumer: Consumer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let resolveReady: () => void = () => undefined;
  const readyPromise = new Promise<void>((r) => (resolveReady = r));

  const feed = new MemberCronWarmingFeed({
    intake: opts.intake,
    routing: opts.routing,
    maxGroupSize: opts.maxGroupSize,
    maxDelayMs: opts.maxDelayMs,
    ...(opts.metrics ? { metrics: opts.metrics.feed } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    deadLetter: async (record, reason) => {
      opts.logger?.warn({ topic: record.topic, partition: record.partition, offset: record.offset, reason }, 'member-cron consumer: dead-lettering record');
      await publishDeadLetter(
        opts.publisher,
        { dlqTopic: opts.dlqTopic, groupId: opts.groupId, attempts: 1 },
        { ...record, eventId: record.headers[EventHeaders.eventId], schema: record.headers[EventHeaders.schema] },
        reason,
      );
    },
    commit: async (offsets) => {
      if (!consumer) throw new Error('consumer not running');
      await consumer.commitOffsets(offsets);
    },
  });

  return {
    ready: () => readyPromise,
    async start() {
      const c = opts.kafka.consumer({ groupId: opts.groupId });
      consumer = c;
      // Every (re)join may change the assignment, and kafkajs resumes each assigned partition from its committed
      // offset: forget the open groups, the re-delivered records rebuild them under the same dedupe keys.
      c.on(c.events.GROUP_JOIN, () => {
        feed.revokeAll();
        resolveReady();
      });
      await c.connect();
      await c.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? false });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          for (const message of batch.messages) {
            if (stopping || !isRunning() || isStale()) return;
            await feed.handle({
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              timestampMs: Number(message.timestamp),
              key: message.key ? message.key.toString() : null,
              value: message.value ? new Uint8Array(message.value) : new Uint8Array(),
              headers: headersToRecord(message.headers),
            });
            resolveOffset(message.offset);
            await heartbeat();
          }
          const last = batch.lastOffset();
          opts.metrics?.lag.set({ partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
        },
      });
      const every = Math.max(50, Math.floor(opts.maxDelayMs / 4));
      timer = setInterval(() => {
        feed.flushDue().catch((err: unknown) => opts.logger?.warn({ err }, 'member-cron consumer: flush failed'));
      }, every);
      timer.unref();
    },
    async stop() {
      if (!consumer) return;
      stopping = true;
      if (timer) clearInterval(timer);
      consumer.pause([{ topic: opts.topic }]);
      const flushed = await Promise.race([
        feed.flushAll().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), opts.shutdownFlushMs ?? 10_000).unref()),
      ]);
      feed.stop();
      if (!flushed) opts.logger?.warn({ pending: feed.pendingEvents() }, 'member-cron consumer: stopped with groups not accepted; they stay uncommitted and are re-delivered');
      await consumer.disconnect();
      consumer = undefined;
    },
  };
}
