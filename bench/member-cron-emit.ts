/**
 * Member-cron emission throughput and rate-limit fidelity against the real Kafka and Redis of the dev stack.
 *
 *   npx tsx bench/member-cron-emit.ts [--members 100000] [--limited-members 15000] [--rate 1000] [--workers 2]
 *
 * Runs the production emit activity (memberCronEmitShard: ledger claim → prediction → protobuf encode →
 * Redis token bucket → idempotent kafkajs producer with acks=all → ledger mark) over pages of 500
 * members, 4 pages in flight per simulated worker. Member data and lifecycle events come from the
 * synthetic generator (5,000 generated members reused under distinct ids), so the directory database is
 * not on the measured path. Two phases:
 *   1. limit raised (1,000,000/s): raw events/s for --members members;
 *   2. limit --rate shared by --workers workers (separate limiter instances on one Redis key):
 *      observed events/s and the observed/configured ratio.
 * Uses a throw-away topic and Redis keys, removed at the end.
 */
import { createInMemoryMemberListStore } from '../activities/batch/memory-stores';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { createMemberCronActivities } from '../activities/member-cron/activities';
import { RedisEmissionLedger } from '../activities/member-cron/emission-ledger';
import type { MemberSnapshot } from '../activities/member-cron/ports';
import { KafkaEventPublisher } from '../activities/kafka/kafka-publisher';
import { RedisTokenBucket } from '../activities/kafka/rate-limiter';
import { EVENT_TYPE_BY_ID } from '../directory/catalog';
import { DEFAULT_REFERENCE_TIME, PopulationGenerator } from '../directory/generator';
import { loadConfig } from '../lib/config';
import { ensureTopics } from '../lib/kafka-topics';
import { silentLogger } from '../lib/logger';
import { hashMemberId } from '../lib/member-hash';
import { RuleBasedActivityPredictor } from '../lib/prediction/rule-based';
import type { LifecycleEvent } from '../lib/prediction/types';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const MEMBERS = arg('members', 100_000);
const LIMITED_MEMBERS = arg('limited-members', 15_000);
const RATE = arg('rate', 1000);
const WORKERS = arg('workers', 2);
const PAGE = 500;
const PAGES_IN_FLIGHT = 4;

const config = loadConfig();
const id = randomUUID().slice(0, 8);
const topic = `member-cron-events.bench-${id}`;
const referenceTime = new Date(DEFAULT_REFERENCE_TIME);

// Synthetic member data: 5,000 generated members, reused under distinct ids.
const templates: { snap: Omit<MemberSnapshot, 'memberId'>; events: LifecycleEvent[] }[] = [];
for (const chunk of new PopulationGenerator({ seed: 7, population: 5000, referenceTime }).chunks(5000)) {
  const events = new Map<number, LifecycleEvent[]>();
  for (const e of chunk.member_events) {
    const t = EVENT_TYPE_BY_ID.get(e['event_type_id'] as number)?.type ?? '';
    const list = events.get(e['member_key'] as number) ?? [];
    list.push({ type: t.slice(t.lastIndexOf('.') + 1), at: Date.parse(e['occurred_at'] as string), feature: (e['feature_name'] as string | null) ?? null });
    events.set(e['member_key'] as number, list);
  }
  for (const m of chunk.members) {
    templates.push({
      snap: {
        sponsorId: m['sponsor_id'] as string,
        populationIds: m['population_ids'] as string[],
        rteEnabled: m['rte_enabled'] as boolean,
        lastEligibilityCheckAt: m['last_eligibility_check_at'] ? new Date(m['last_eligibility_check_at'] as string) : null,
        timeZone: m['time_zone'] as string,
        nextAppointmentAt: null,
      },
      events: events.get(m['member_key'] as number) ?? [],
    });
  }
}
const template = (memberId: string) => templates[Number(memberId.slice(memberId.lastIndexOf('-') + 1)) % templates.length] ?? templates[0];

async function main(): Promise<void> {
  const redis = new Redis(config.redisUrl);
  const kafka = new Kafka({ clientId: `member-cron-bench-${id}`, brokers: config.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor }, [topic]);
  const ledgerPrefix = `rte:member-cron-bench-${id}:emitted:`;
  const publishers: KafkaEventPublisher[] = [];

  function worker(rate: number, bucketKey: string) {
    const publisher = new KafkaEventPublisher(kafka);
    publishers.push(publisher);
    return createMemberCronActivities({
      directory: { queryMembers: async () => ({ members: [], nextCursor: null }) },
      lists: createInMemoryMemberListStore(),
      members: {
        getMemberSnapshots: async (ids) => new Map(ids.map((memberId) => [memberId, { ...template(memberId)!.snap, memberId }])),
      },
      activity: { getRecentEvents: async (ids) => new Map(ids.map((m) => [m, template(m)!.events])) },
      flags: { variation: async (_f, _c, d) => d },
      predictor: new RuleBasedActivityPredictor(),
      publisher,
      rateLimiter: new RedisTokenBucket(redis, { ratePerSecond: rate, key: bucketKey }),
      ledger: new RedisEmissionLedger(redis, { keyPrefix: ledgerPrefix, doneTtlSeconds: 600 }),
      hashMemberId: (m) => hashMemberId(config.cache.keySecret, m),
      logger: silentLogger(),
      predictionTime: () => referenceTime,
      topic,
      dlqTopic: `${topic}.dlq`,
    });
  }

  async function phase(label: string, members: number, rate: number, workers: number): Promise<{ emitted: number; seconds: number }> {
    const bucketKey = `rte:{member-cron-bench-${id}}:${label}`;
    const acts = Array.from({ length: workers }, () => worker(rate, bucketKey));
    const scheduledTime = new Date().toISOString();
    const pages: string[][] = [];
    for (let i = 0; i < members; i += PAGE) pages.push(Array.from({ length: Math.min(PAGE, members - i) }, (_, j) => `bench-${label}-${i + j}`));
    // Warm up producers (connection setup is not part of the rate).
    await Promise.all(acts.map((a, w) => a.memberCronEmitShard({ scheduleName: `warmup-${label}`, cronExpression: '@daily', scheduledTime, page: -1, memberIds: [`bench-warm-${label}-${w}`], deadLetterAfterAttempts: 5 })));
    let next = 0;
    let emitted = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      acts.flatMap((a) =>
        Array.from({ length: PAGES_IN_FLIGHT }, async () => {
          for (let p = next++; p < pages.length; p = next++) {
            const r = await a.memberCronEmitShard({ scheduleName: `bench-${label}`, cronExpression: '@daily', scheduledTime, page: p, memberIds: pages[p] ?? [], deadLetterAfterAttempts: 5 });
            emitted += r.emitted;
          }
        }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { emitted, seconds };
  }

  try {
    const raw = await phase('raw', MEMBERS, 1_000_000, 1);
    console.log(`member-cron emit bench (topic ${topic}, ${config.kafka.partitions} partitions, pages of ${PAGE}, ${PAGES_IN_FLIGHT} pages in flight per worker)`);
    console.log(`  limit raised:  ${raw.emitted} events in ${raw.seconds.toFixed(1)} s = ${Math.round(raw.emitted / raw.seconds)} events/s (1 worker)`);
    const limited = await phase('limited', LIMITED_MEMBERS, RATE, WORKERS);
    const observed = limited.emitted / limited.seconds;
    console.log(
      `  limit ${RATE}/s: ${limited.emitted} events in ${limited.seconds.toFixed(1)} s = ${observed.toFixed(0)} events/s across ${WORKERS} workers; observed/configured = ${(observed / RATE).toFixed(3)}`,
    );
  } finally {
    for (const p of publishers) await p.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    let cursor = '0';
    do {
      const [c, keys] = await redis.scan(cursor, 'MATCH', `rte:*member-cron-bench-${id}*`, 'COUNT', 1000);
      cursor = c;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
