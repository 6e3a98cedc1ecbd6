import { create } from '@bufbuild/protobuf';
import { batchClient } from '../../bench/batch-harness';
import { BatchEventType, BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema, type BatchStatusUpdate } from '../../gen/rte/v1/batch_pb';
import { silentLogger } from '../../lib/logger';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Probe p15: a batch an operator terminated (`temporal workflow terminate`) reported 0 members in GetBatchStatus and in
 * WatchBatchStatus's final FAILED, although it was accepted with 3. Stedi at its real pace (13.5 s a call) and one
 * call at a time keep the batch RUNNING while it is terminated.
 */
describe('a batch terminated in Temporal keeps its counters (integration)', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ population: 30, sim: { logger: silentLogger(), timeScale: 1 } });
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  test('GetBatchStatus and the stream\'s final FAILED say WORKFLOW_TERMINATED with total 3, not 0', async () => {
    const c = await batchClient(p, uniqueName('svc-term'));
    const ids = p.members.slice(0, 3).map((m) => m.memberId);
    const r = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('term'),
        memberSelector: { case: 'memberIds', value: { memberIds: ids } },
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 1 },
      }),
    );
    expect(r.totalMembers).toBe(3);
    const updates: BatchStatusUpdate[] = [];
    const watching = (async () => {
      for await (const u of c.watchBatchStatus({ batchId: r.batchId })) updates.push(u);
    })();
    // Running (its first member's Stedi call in flight), then terminated by an operator.
    const t0 = Date.now();
    while ((await c.getBatchStatus({ batchId: r.batchId })).status !== BatchStatus.RUNNING && Date.now() - t0 < 20_000) await new Promise((res) => setTimeout(res, 200));
    await p.temporal.workflow.getHandle(r.batchId).terminate('operator: test');

    const s = await c.getBatchStatus({ batchId: r.batchId });
    expect(s.status).toBe(BatchStatus.FAILED);
    expect(s.failureCode).toBe('WORKFLOW_TERMINATED');
    expect(s.progress?.totalMembers).toBe(3);
    expect(s.statusDetail).toContain('/ 3 done');
    await watching;
    const last = updates[updates.length - 1]!;
    expect(last.eventType).toBe(BatchEventType.EVENT_TYPE_FAILED);
    expect(last.update.case).toBe('failed');
    if (last.update.case === 'failed') {
      expect(last.update.value.errorCode).toBe('WORKFLOW_TERMINATED');
      expect(last.update.value.finalProgress?.totalMembers).toBe(3);
    }
  }, 120_000);
});
