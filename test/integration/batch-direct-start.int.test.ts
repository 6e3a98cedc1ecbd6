import { create } from '@bufbuild/protobuf';
import { SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { validateSubmitBatch } from '../../lib/batch/submit-validation';
import { BATCH_WORKFLOW_TYPE, batchWorkflowId, type BatchWorkflowInput } from '../../workflows/batch.defs';
import { RteClientJobId, RteClientService, RteJobType, RtePriority } from '../../workflows/search-attributes';
import { uniqueName } from '../helpers/temporal';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

/** Issue 10: a batchWorkflow started directly by another Temporal service (README contract) is findable like any batch. */
describe('batchWorkflow started directly (not through SubmitBatch)', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform({ population: 30 });
  });
  afterAll(async () => {
    await p?.close();
  });

  test('sets RteClientService, RteClientJobId, RteJobType and RtePriority itself', async () => {
    const clientService = 'direct-starter';
    const clientJobId = uniqueName('job');
    const v = validateSubmitBatch(create(SubmitBatchRequestSchema, { clientJobId, memberSelector: { case: 'memberQuery', value: { limit: 2 } }, cacheControl: 1 }));
    const input: BatchWorkflowInput = { batchId: batchWorkflowId(clientService, clientJobId), clientService, clientJobId, submittedAtMs: Date.now(), selector: { kind: 'query', query: { limit: 2 } }, options: v.options };
    const handle = await p.temporal.workflow.start(BATCH_WORKFLOW_TYPE, { taskQueue: p.config.temporal.taskQueue, workflowId: input.batchId, args: [input] });
    try {
      const deadline = Date.now() + 60_000;
      let sa = (await handle.describe()).typedSearchAttributes;
      while (sa.get(RteJobType) === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        sa = (await handle.describe()).typedSearchAttributes;
      }
      expect([sa.get(RteClientService), sa.get(RteClientJobId), sa.get(RteJobType), sa.get(RtePriority)]).toEqual([clientService, clientJobId, 'RTE_BATCH', 'LOW']);
    } finally {
      await handle.terminate('test done').catch(() => undefined);
    }
  });
});
