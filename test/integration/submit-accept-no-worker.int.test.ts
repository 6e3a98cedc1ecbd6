import { create } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { batchClient, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { CacheWarmingService, WarmCacheRequest_Priority as WarmPriority } from '../../gen/rte/v1/warming_pb';
import { silentLogger } from '../../lib/logger';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { UNDECIDED_REASON } from '../../api/services/warming-service';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Probe p15: with a backlogged task queue no workflow task runs, so the batchAccepted / warmingAccepted updates never
 * answer and their in-workflow timers never start; SubmitBatch and WarmCache held calls for 78–155 s. Here nobody
 * polls the platform's task queue at all (the platform starts with no worker): both answer within their bound (17 s /
 * 12 s after arrival) with the job id, the job exists, and a worker started afterwards runs both to the end.
 */
describe('SubmitBatch and WarmCache answer within their bound when no worker takes the job (integration)', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ population: 30, workers: 0, sim: { logger: silentLogger() } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  test('PENDING with the batch id / the job id, the workflows exist, and a worker started later runs them to the end', async () => {
    const c = await batchClient(p, uniqueName('svc-nowk'));
    const ids = p.members.slice(0, 3).map((m) => m.memberId);
    const req = create(SubmitBatchRequestSchema, {
      clientJobId: uniqueName('nowk'),
      memberSelector: { case: 'memberIds', value: { memberIds: ids } },
      options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY },
    });
    const warmToken = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-nowk-warm');
    const warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
    const key = uniqueName('nowk-key');
    const warmReq = { memberIds: [p.members[5]!.memberId], priority: WarmPriority.URGENT, source: 'it-nowk' };
    const warmOpts = { headers: { authorization: `Bearer ${warmToken}`, 'idempotency-key': key }, timeoutMs: 25_000 };

    // Both at once (the test's run time); each is timed on its own. Without the bound each waits until a worker runs
    // its workflow task, i.e. for ever here: the client's 25 s deadline ends it.
    const timed = async <T>(f: () => Promise<T>) => {
      const t0 = Date.now();
      const r = await f();
      return { r, ms: Date.now() - t0 };
    };
    // SubmitBatchStreaming accepts through SubmitBatch: its first update (with the batch id) follows the bounded
    // answer and the batch's status (last known: nobody can answer its query), ≤ 17 + 4 s.
    const streamReq = create(SubmitBatchRequestSchema, { ...req, clientJobId: uniqueName('nowk-stream') });
    const firstStreamed = async () => {
      const abort = new AbortController();
      const t = setTimeout(() => abort.abort(), 30_000);
      try {
        for await (const u of c.submitBatchStreaming(streamReq, { signal: abort.signal })) return u;
        throw new Error('the stream ended without an update');
      } finally {
        clearTimeout(t);
        abort.abort();
      }
    };
    const [batch, warm, streamed] = await Promise.all([
      timed(() => c.submitBatch(req, { timeoutMs: 25_000 })),
      timed(() => warming.warmCache(warmReq, warmOpts)),
      timed(firstStreamed),
    ]);
    expect(streamed.ms).toBeLessThan(22_000);
    expect(streamed.r.batchId).toBe(`${batch.r.batchId.slice(0, batch.r.batchId.lastIndexOf('/'))}/${streamReq.clientJobId}`);

    expect(batch.ms).toBeLessThan(17_500);
    expect(batch.ms).toBeGreaterThanOrEqual(15_500);
    expect(batch.r.status).toBe(BatchStatus.PENDING);
    expect(batch.r.batchId).toContain('batch/');
    expect(batch.r.totalMembers).toBe(3);
    expect(batch.r.totalKnown).toBe(true);
    expect(batch.r.estimatedCompletion).toBeUndefined();
    expect(batch.r.statusDetail).toContain('waiting for a worker to start it (the platform is busy)');
    expect((await p.temporal.workflow.getHandle(batch.r.batchId).describe()).status.name).toBe('RUNNING');

    expect(warm.ms).toBeLessThan(12_500);
    expect(warm.r.warmingJobId).toMatch(/^warming\/it-nowk\/api-/);
    expect(warm.r.status).toBe(BatchStatus.PENDING);
    expect(warm.r.membersQueued).toBe(1);
    expect(warm.r.reason).toBe(UNDECIDED_REASON);
    expect(warm.r.estimatedCompletion).toBeDefined();
    expect((await p.temporal.workflow.getHandle(warm.r.warmingJobId).describe()).status.name).toBe('RUNNING');

    // The same request again (same client_job_id) is still answered within the bound, with the same batch and no
    // second workflow; the batch's status (last known: nobody can answer its query) says PENDING.
    const again = await timed(() => c.submitBatch(req, { timeoutMs: 25_000 }));
    expect(again.ms).toBeLessThan(17_500);
    expect(again.r.batchId).toBe(batch.r.batchId);
    expect(again.r.status).toBe(BatchStatus.PENDING);

    // A worker comes: both run to the end.
    await p.addWorker();
    const end = await waitForBatchEnd(c, batch.r.batchId, 90_000);
    expect([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED]).toContain(end.status);
    expect(end.progress?.totalMembers).toBe(3);
    expect((end.progress?.completed ?? 0) + (end.progress?.failed ?? 0)).toBe(3);
    expect([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED]).toContain((await waitForBatchEnd(c, streamed.r.batchId, 90_000)).status);
    const job = (await p.temporal.workflow.getHandle(warm.r.warmingJobId).result()) as WarmingStatusView;
    expect(['COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED']).toContain(job.status);
    expect(job.counters.members).toBe(1);
    // The WarmCache repeat with the same key reaches the same job.
    const warmAgain = await warming.warmCache(warmReq, warmOpts);
    expect(warmAgain.warmingJobId).toBe(warm.r.warmingJobId);
  }, 180_000);
});
