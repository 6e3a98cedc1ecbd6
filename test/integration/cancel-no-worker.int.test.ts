import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { batchClient, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { silentLogger } from '../../lib/logger';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Probe p16 #9: under a worker backlog CancelBatch took 50.6 s (its cancelBatchAndWait update waited for a workflow
 * task). Here nobody polls the platform's task queue at all: CancelBatch answers within its bound (10 s after arrival,
 * plus the durable signal) with deadline_exceeded "cancel requested, not yet applied", never CANCELLED; the batch is
 * still open; a retry is the same answer; and a worker started afterwards applies the cancel: the batch ends CANCELLED.
 */
describe('CancelBatch answers within its bound when no worker runs the batch (integration)', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ population: 30, workers: 0, sim: { logger: silentLogger() } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  test('deadline_exceeded "cancel requested, not yet applied" within ~12 s, the batch open; a retry is safe; a worker then ends it CANCELLED', async () => {
    const c = await batchClient(p, uniqueName('svc-cnw'));
    const ids = p.members.slice(0, 3).map((m) => m.memberId);
    const req = create(SubmitBatchRequestSchema, {
      clientJobId: uniqueName('cnw'),
      memberSelector: { case: 'memberIds', value: { memberIds: ids } },
      options: { priority: Priority.LOW, strategy: Strategy.REALTIME_ONLY },
    });
    const { batchId, status } = await c.submitBatch(req, { timeoutMs: 25_000 });
    expect(status).toBe(BatchStatus.PENDING);

    const cancelOnce = async () => {
      const t0 = Date.now();
      const err = await c.cancelBatch({ batchId, reason: 'p16 no worker' }, { timeoutMs: 40_000 }).then(
        (r) => new Error(`expected deadline_exceeded, got ${BatchStatus[r.status]}`),
        (e: unknown) => ConnectError.from(e),
      );
      return { err, ms: Date.now() - t0 };
    };
    for (let i = 0; i < 2; i++) {
      const { err, ms } = await cancelOnce();
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
      expect((err as ConnectError).rawMessage).toMatch(/^cancel requested, not yet applied: batch /);
      expect(ms).toBeLessThan(13_500);
      // Open: nothing reports CANCELLED for a cancel that has not happened.
      expect((await p.temporal.workflow.getHandle(batchId).describe()).status.name).toBe('RUNNING');
      expect((await c.getBatchStatus({ batchId })).status).not.toBe(BatchStatus.CANCELLED);
    }
    // The cancel is durable (its signal is in the batch's history), whatever became of the in-memory update.
    const history = await p.temporal.workflow.getHandle(batchId).fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'cancelBatch')).toBe(true);

    // A worker comes: the batch applies the cancel and ends CANCELLED; CancelBatch now reports it at once.
    await p.addWorker();
    const end = await waitForBatchEnd(c, batchId, 90_000);
    expect(end.status).toBe(BatchStatus.CANCELLED);
    const t0 = Date.now();
    const again = await c.cancelBatch({ batchId, reason: 'p16 no worker' }, { timeoutMs: 25_000 });
    expect(again.status).toBe(BatchStatus.CANCELLED);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 240_000);
});
