import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { batchClient } from '../../bench/batch-harness';
import { SubmitBatchRequestSchema, type SubmitBatchResponse } from '../../gen/rte/v1/batch_pb';
import { CacheControl, SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { silentLogger } from '../../lib/logger';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Probe batch #1: two SubmitBatch calls for one client_job_id sent at the same moment with different bodies both
 * passed the "is there a batch?" check, and update-with-start (USE_EXISTING) let the second join the first's batch
 * silently: both answered 200, the loser's members were never checked, two rate units were spent and the loser's
 * staged member list stayed behind. Through the real API, Temporal, Redis and PostgreSQL.
 */
describe('SubmitBatch: concurrent submits of one job with different bodies (integration)', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ population: 30, sim: { logger: silentLogger() }, env: { BATCH_SUBMIT_RATE_LIMIT: '50' } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  test('exactly one is accepted, the other is already_exists; one rate unit per batch; only the batch’s own member list is stored', async () => {
    const service = uniqueName('svc-race');
    const c = await batchClient(p, service);
    const ids = p.members.map((m) => m.memberId);
    const started: string[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        const clientJobId = uniqueName('race');
        // MORNING: the batch waits for its window, so it keeps its list while the test looks at PostgreSQL.
        const options = { schedulingWindow: SchedulingWindow.MORNING };
        const a = create(SubmitBatchRequestSchema, { clientJobId, memberSelector: { case: 'memberIds', value: { memberIds: [ids[0]!] } }, options });
        const b = create(SubmitBatchRequestSchema, {
          clientJobId,
          memberSelector: { case: 'memberIds', value: { memberIds: [ids[1]!, ids[2]!, ids[3]!] } },
          options,
          cacheControl: CacheControl.BYPASS_CACHE,
        });
        const results = await Promise.allSettled([c.submitBatch(a), c.submitBatch(b)]);
        const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const refused = results.flatMap((r) => (r.status === 'rejected' ? [ConnectError.from(r.reason)] : []));
        expect(ok).toHaveLength(1);
        expect(refused.map((e) => e.code)).toEqual([Code.AlreadyExists]);
        expect(refused[0]!.rawMessage).toContain(`client_job_id ${clientJobId} was already used for a different request`);
        const winner: SubmitBatchResponse = ok[0]!;
        started.push(winner.batchId);
        // The winner's answer is its own request's: A has 1 member, B has 3.
        const winnerIsA = results[0]!.status === 'fulfilled';
        expect(winner.totalMembers).toBe(winnerIsA ? 1 : 3);
        // Only the started batch's list is stored under the batch's prefix.
        const lists = await p.directory.pool.query<{ list_ref: string; n: number }>(
          `SELECT list_ref, count(*)::int AS n FROM batch_member_lists WHERE list_ref >= $1 || '#' AND list_ref < $1 || '$' GROUP BY list_ref`,
          [winner.batchId],
        );
        expect(lists.rows.map((r) => r.n)).toEqual([winner.totalMembers]);
      }
      // One rate unit per batch started, none for the refused calls.
      expect(await p.redis.zcard(`${p.config.redisKeyPrefix}batch-submit-rate:{${service}}`)).toBe(5);
    } finally {
      await Promise.allSettled(started.map((id) => p.temporal.workflow.getHandle(id).terminate('test done')));
    }
  }, 120_000);
});
