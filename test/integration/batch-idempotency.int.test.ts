import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { allBatchErrors, batchClient, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Strategy as Strategy, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { CacheControl, SchedulingWindow } from '../../gen/rte/v1/common_pb';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { MemberQuery, MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { silentLogger } from '../../lib/logger';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Through the real API, Temporal, Redis and PostgreSQL:
 *  - probe batch #10: SubmitBatch's idempotency compared the member_query as written, so the same selection written
 *    differently (sponsor ids reversed, the scheduling window in the query instead of the options) was refused
 *    already_exists. It compares the canonical query and the resolved window now.
 *  - probe batch #15: a CACHE_ONLY batch reported a member that is not in the directory as NOT_CACHED; it gets the
 *    same code and message as an unknown member in the other cache modes.
 */
describe('SubmitBatch idempotency and member error codes (integration)', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ population: 30, sim: { logger: silentLogger() }, env: { BATCH_SUBMIT_RATE_LIMIT: '50' } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  test('the same query with its sponsor ids reversed, or its window moved into member_query, answers the same batch; another query is already_exists', async () => {
    const c = await batchClient(p, uniqueName('svc-idem'));
    const sponsors = [...new Set(p.members.map((m) => m.sponsorId))].sort();
    expect(sponsors.length).toBeGreaterThanOrEqual(2);
    const [a, b] = [sponsors[0]!, sponsors[1]!];
    const clientJobId = uniqueName('q-order');
    const req = (query: MessageInitShape<typeof MemberQuerySchema>, window: SchedulingWindow = SchedulingWindow.MORNING) =>
      create(SubmitBatchRequestSchema, {
        clientJobId,
        memberSelector: { case: 'memberQuery', value: query as MemberQuery },
        cacheControl: CacheControl.CACHE_ONLY,
        options: { schedulingWindow: window },
      });
    // MORNING: the batch waits for its window (it stays open while the repeats come).
    const first = await c.submitBatch(req({ sponsorIds: [a, b], limit: 2 }));
    try {
      const reversed = await c.submitBatch(req({ sponsorIds: [b, a], limit: 2 }));
      expect(reversed.batchId).toBe(first.batchId);
      const movedWindow = await c.submitBatch(req({ sponsorIds: [a, b], limit: 2, schedulingWindow: SchedulingWindow.MORNING }, SchedulingWindow.ANY));
      expect(movedWindow.batchId).toBe(first.batchId);
      expect(movedWindow.resolvedOptions?.schedulingWindow).toBe(SchedulingWindow.MORNING);

      for (const other of [req({ sponsorIds: [a], limit: 2 }), req({ sponsorIds: [a, b], limit: 2 }, SchedulingWindow.EVENING)]) {
        const e = await c.submitBatch(other).then(
          () => undefined,
          (err: unknown) => ConnectError.from(err),
        );
        expect(e?.code).toBe(Code.AlreadyExists);
        expect(e?.rawMessage).toContain(`client_job_id ${clientJobId} was already used for a different request`);
      }
    } finally {
      await p.temporal.workflow.getHandle(first.batchId).terminate('test done').catch(() => undefined);
    }
  }, 120_000);

  test('a CACHE_ONLY batch reports a member that is not in the directory as not found, like the other cache modes, and a known uncached member as NOT_CACHED', async () => {
    const c = await batchClient(p, uniqueName('svc-codes'));
    const known = p.members[0]!.memberId;
    // The platform's cache is its own (own key prefix) and nothing checked this member: it is not cached.
    const cacheOnly = await c.submitBatch({ clientJobId: uniqueName('co'), memberSelector: { case: 'memberIds', value: { memberIds: [known, 'nosuch_1'] } }, cacheControl: CacheControl.CACHE_ONLY });
    const realtime = await c.submitBatch({ clientJobId: uniqueName('rt'), memberSelector: { case: 'memberIds', value: { memberIds: ['nosuch_2'] } }, options: { strategy: Strategy.REALTIME_ONLY } });
    const viaBatchApi = await c.submitBatch({ clientJobId: uniqueName('ba'), memberSelector: { case: 'memberIds', value: { memberIds: ['nosuch_3'] } }, options: { strategy: Strategy.BATCH_ONLY } });
    for (const id of [cacheOnly.batchId, realtime.batchId, viaBatchApi.batchId]) await waitForBatchEnd(c, id, 90_000);
    const codes = async (batchId: string) => (await allBatchErrors(c, batchId)).map((e) => ({ memberId: e.memberId, errorCode: e.errorCode, errorMessage: e.errorMessage }));
    const notFound = { errorCode: 'MemberNotFoundError', errorMessage: 'member is not in the directory' };
    expect(await codes(cacheOnly.batchId)).toEqual([
      { memberId: known, errorCode: 'NOT_CACHED', errorMessage: 'CACHE_ONLY: no cached eligibility for this member' },
      { memberId: 'nosuch_1', ...notFound },
    ]);
    expect(await codes(realtime.batchId)).toEqual([{ memberId: 'nosuch_2', ...notFound }]);
    expect(await codes(viaBatchApi.batchId)).toEqual([{ memberId: 'nosuch_3', ...notFound }]);
  }, 150_000);
});
