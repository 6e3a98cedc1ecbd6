/**
 * Issue 12: PostgreSQL killed (kill -9 of the postmaster, restart on the same data dir: crash recovery) while a
 * member_query batch resolves its members page by page, on the suite's OWN PostgreSQL (test/helpers/own-postgres.ts;
 * never the shared stack's). The batch's total must be exact (every member the query matches, once), and while
 * PostgreSQL is down the API answers within 5 s. Prints one row; docs/reliability.md keeps the table.
 */
import { create } from '@bufbuild/protobuf';
import { ConnectError } from '@connectrpc/connect';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { batchClient, waitFor, type BatchClient } from '../../bench/batch-harness';
import { BatchStatus, type GetBatchStatusResponse } from '../../gen/rte/v1/batch_pb';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { createPgMemberDirectory } from '../../directory/pg-member-directory';
import { batchDirectoryOver } from '../../workers/compose';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

// Three resolution pages of 5,000 (the workflow's resolvePageSize): the kill lands between pages.
const POPULATION = 11_000;
const DOWN_MS = 3_000;
const TERMINAL = new Set([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED, BatchStatus.FAILED, BatchStatus.CANCELLED]);

let pg: OwnPostgres;
let p: TestPlatform;
let client: BatchClient;

beforeAll(async () => {
  pg = await startOwnPostgres();
  p = await startTestPlatform({ population: POPULATION, seed: 31, sim: { timeScale: 0.1 }, databaseUrl: pg.url, env: { DATABASE_URL: pg.url }, boundedApi: true });
  client = await batchClient(p, 'svc-pgkill');
});

afterAll(async () => {
  await Promise.race([p?.close().catch(() => undefined), sleep(60_000)]);
  await pg?.stop();
});

it('PostgreSQL kill -9 during a member_query resolution: the total is exact, GetBatchStatus answers within 5 s', async () => {
  // What the query matches, paged exactly as the workflow pages it, before any fault.
  const dir = batchDirectoryOver(createPgMemberDirectory(p.directory.pool));
  const query = create(MemberQuerySchema, {});
  let expected = 0;
  for (let cursor: string | undefined; ; ) {
    const page = await dir.queryMemberIds(query, cursor, 5_000);
    expected += page.memberIds.length;
    if (!page.nextCursor || page.memberIds.length === 0) break;
    cursor = page.nextCursor;
  }
  expect(expected).toBeGreaterThan(5_000);

  const clientJobId = uniqueName('pgkill');
  const batchId = `batch/svc-pgkill/${clientJobId}`;
  // CACHE_ONLY: no Stedi calls; the fault is about resolution.
  const submitted = client.submitBatch({ clientJobId, memberSelector: { case: 'memberQuery', value: {} }, cacheControl: CacheControl.CACHE_ONLY });
  const watch = new Pool({ connectionString: pg.url, max: 1, options: `-c search_path=${p.directory.schema},public` });
  watch.on('error', () => undefined);
  await waitFor('the first resolved page in batch_member_lists', async () => {
    const r = await watch.query<{ n: string }>(`SELECT count(*)::text AS n FROM batch_member_lists WHERE list_ref >= $1 || '#' AND list_ref < $1 || '$'`, [batchId]).catch(() => undefined);
    return Number(r?.rows[0]?.n ?? 0) > 0;
  }, 120_000, 50);
  const listedAtKill = Number((await watch.query<{ n: string }>(`SELECT count(*)::text AS n FROM batch_member_lists WHERE list_ref >= $1 || '#' AND list_ref < $1 || '$'`, [batchId])).rows[0]!.n);
  await watch.end().catch(() => undefined);
  await pg.kill();
  const killedAt = Date.now();
  // While it is down: GetBatchStatus (the workflow answers live; its error page needs PostgreSQL) within 5 s.
  const t0 = Date.now();
  const during = await client.getBatchStatus({ batchId, errorsPageSize: 1 }).then(
    (r) => ({ code: 'ok', lastKnown: r.lastKnown }),
    (e: unknown) => ({ code: String(ConnectError.from(e).code), retryAfter: ConnectError.from(e).metadata.get('retry-after') }),
  );
  const duringMs = Date.now() - t0;
  console.log(`PostgreSQL down: GetBatchStatus ${JSON.stringify(during)} in ${duringMs} ms`);
  expect(duringMs).toBeLessThan(5_000);
  // Never `internal`: live (the workflow answers), or unavailable with a retry hint (its error page needs PostgreSQL).
  expect(['ok', '14']).toContain(during.code);
  await sleep(Math.max(0, DOWN_MS - (Date.now() - killedAt)));
  await pg.start();
  const r = await submitted;
  let end: GetBatchStatusResponse | undefined;
  await waitFor('the batch to end', async () => {
    end = await client.getBatchStatus({ batchId, errorsPageSize: 1 }).catch(() => undefined);
    return end !== undefined && !end.lastKnown && TERMINAL.has(end.status);
  }, 600_000, 1_000);
  const done = (end!.progress?.completed ?? 0) + (end!.progress?.failed ?? 0);
  const row = { scenario: `PostgreSQL kill -9 during member_query resolution, ${DOWN_MS / 1000} s`, matched: expected, listedAtKill, totalMembers: r.totalMembers, finalTotal: end!.progress?.totalMembers, done, status: BatchStatus[end!.status] };
  console.log(JSON.stringify(row));
  expect(listedAtKill).toBeLessThan(expected);
  expect(r.totalMembers).toBe(expected);
  expect(end!.progress?.totalMembers).toBe(expected);
  expect(done).toBe(expected);
});
