/**
 * Issue 14 (scale out): DATABASE_READ_URL. The worker's composition (workers/compose.ts) with the pools the entry
 * points open (createDirectoryPools): the member directory's and the member-cron sources' queries go to the read pool,
 * which refuses writes (as a streaming replica does); the member-cron predictions it writes go to DATABASE_URL.
 * Here the "replica" is the stack's PostgreSQL under another URL (no replica runs locally); the read pool's sessions
 * are read-only, so a write routed there would fail this test.
 */
import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import type { Pool } from 'pg';
import { InMemoryEventPublisher } from '../../activities/kafka';
import type { EmitShardInput } from '../../activities/member-cron/activities';
import { createPgMemberPredictionStore } from '../../directory/member-predictions';
import { directoryClock } from '../../directory/loader';
import { createPgMemberDirectory } from '../../directory/pg-member-directory';
import { createDirectoryPools } from '../../directory/pool';
import { createTestDirectory, TEST_DATABASE_URL, TEST_REFERENCE_TIME, type TestDirectory } from '../../directory/test-support';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { loadConfig } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { createRedisClient } from '../../lib/redis-client';
import type { MemberCronCounts } from '../../workflows/member-cron.defs';
import { createWorkerActivities } from '../../workers/compose';

let dir: TestDirectory;
beforeAll(async () => {
  dir = await createTestDirectory({ seed: 14, population: 60, predictions: false });
}, 120_000);
afterAll(async () => {
  await dir?.drop();
});

/** Records the SQL text of every pool.query call. */
function recordQueries(pool: Pool): string[] {
  const seen: string[] = [];
  const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    seen.push(typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: string }).text));
    return query(...a);
  };
  return seen;
}

describe('DATABASE_READ_URL: directory and member-cron reads on the read pool, writes on DATABASE_URL', () => {
  it('the read pool refuses writes; the directory answers from it; member cron reads there and writes its predictions to the writer', async () => {
    const readUrl = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes('?') ? '&' : '?'}application_name=rte-read-replica`;
    const prefix = `test-${randomBytes(4).toString('hex')}:`;
    const config = loadConfig({ ...process.env, DATABASE_URL: TEST_DATABASE_URL, DATABASE_READ_URL: readUrl, DATABASE_SCHEMA: dir.schema, REDIS_KEY_PREFIX: prefix });
    const pools = createDirectoryPools(config, { max: 4 });
    const redis = createRedisClient(config);
    try {
      expect(pools.readPg).not.toBe(pools.pg);
      const row = { memberId: 'M-x', appUsageProbability: 0.9, confidence: 0.9, windowStartMs: null, windowEndMs: null, modelVersion: 't', computedAtMs: 0 };
      await expect(createPgMemberPredictionStore(pools.readPg).upsert([row])).rejects.toThrow(/read-only transaction/);

      // The API's and the worker's directory (MemberQuery resolution) on the read pool.
      const directory = createPgMemberDirectory(pools.readPg, { now: await directoryClock(pools.readPg) });
      const page = await directory.queryMembers(create(MemberQuerySchema, { limit: 30 }));
      expect(page.members).toHaveLength(30);
      const memberIds = page.members.map((m) => m.memberId);

      const reads = recordQueries(pools.readPg);
      const writes = recordQueries(pools.pg);
      const publisher = new InMemoryEventPublisher();
      const { activities, slotPool } = createWorkerActivities({ config, logger: silentLogger(), metrics: createMetrics('worker'), redis, pg: pools.pg, readPg: pools.readPg, directory, publisher });
      try {
        const emit = activities['memberCronEmitShard'] as unknown as (input: EmitShardInput) => Promise<MemberCronCounts>;
        const counts = await emit({ scheduleName: 'read-url-test', cronExpression: '0 6 * * *', scheduledTime: TEST_REFERENCE_TIME.toISOString(), page: 0, memberIds, deadLetterAfterAttempts: 3 });
        expect(counts.scanned).toBe(30);
        expect(counts.emitted).toBeGreaterThan(0);
        expect(counts.emitted).toBe(publisher.published.length);
      } finally {
        await slotPool.close();
      }
      // Member snapshots and lifecycle events came from the read pool, never from the writer…
      expect(reads.some((q) => /FROM members m LEFT JOIN member_engagement/.test(q))).toBe(true);
      expect(reads.some((q) => /JOIN member_events ev/.test(q))).toBe(true);
      expect(writes.filter((q) => /FROM members m/.test(q))).toEqual([]);
      // …and the predictions were written through the writer (the read pool would have refused them).
      expect(writes.some((q) => /INSERT INTO member_predictions/.test(q))).toBe(true);
      const written = await dir.pool.query<{ n: string }>('SELECT count(*) AS n FROM member_predictions');
      expect(Number(written.rows[0]?.n)).toBeGreaterThan(0);
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await pools.close();
    }
  });
});
