import { idleStediLoad, planAllAsRefresh, realtimeTestOptions } from '../helpers/batch-stand-ins';
import type { RecordErrorsInput } from '../../activities/batch/activities';
import type { BatchWorkflowResult } from '../../workflows/batch.defs';
import type { EligibilityRefreshInput, EligibilityRefreshResult } from '../../workflows/eligibility-refresh.defs';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/**
 * A real-time batch member whose payer answered with an error is PAYER_ERROR, and its message says what the payer
 * said (the AAA code and description), as the Stedi batch-API path's AAA_<code> errors do; an answer from an older
 * worker (no payerError in its result) keeps the plain message. The batch workflow on the real dev server, stand-in
 * activities; the errors the workflow stores are what GetBatchStatus lists.
 */
const options = realtimeTestOptions();

describe('a real-time payer error names the AAA code (integration)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('GetBatchStatus errors: "the payer answered with an error: AAA 72 …" for a new worker, the plain text for an old one', async () => {
    const taskQueue = uniqueName('tq-payer-error');
    const members = ['m_ok', 'm_aaa', 'm_old'];
    const stored: RecordErrorsInput['errors'] = [];
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        getStediLoad: idleStediLoad,
        planMembers: planAllAsRefresh(members),
        async refreshEligibility(input: EligibilityRefreshInput): Promise<EligibilityRefreshResult> {
          if (input.memberId === 'm_aaa') return { outcome: 'error', fetchedAt: 1, expiresAt: 2, stediCalls: 1, payerError: 'AAA 72 Invalid/Missing Subscriber/Insured ID' };
          if (input.memberId === 'm_old') return { outcome: 'error', fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
          return { outcome: 'success', fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
        },
        async recordMemberErrors(input: RecordErrorsInput) {
          stored.push(...input.errors);
        },
        async publishBatchEvent() {},
        async releaseMemberList() {},
      },
    });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/payer-error-test/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'payer-error-test', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 3 }, options }],
      });
      const view = (await handle.result()) as BatchWorkflowResult;
      expect(view.status).toBe('PARTIALLY_COMPLETED');
    });
    const byIndex = Object.fromEntries(stored.map((e) => [e.memberIndex, [e.errorCode, e.errorMessage]]));
    expect(byIndex).toEqual({
      1: ['PAYER_ERROR', 'the payer answered with an error: AAA 72 Invalid/Missing Subscriber/Insured ID (cached for 5 minutes)'],
      2: ['PAYER_ERROR', 'the payer answered with an error (cached for 5 minutes)'],
    });
  }, 120_000);
});
