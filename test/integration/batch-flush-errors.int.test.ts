import { idleStediLoad, planAllAsRefresh, realtimeTestOptions } from '../helpers/batch-stand-ins';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { RecordErrorsInput } from '../../activities/batch/activities';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { ErrorType } from '../../lib/errors';
import type { BatchWorkflowResult } from '../../workflows/batch.defs';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/**
 * The batch workflow's error buffer (workflows/batch.ts flushErrors) on the real dev server, with stand-in activities:
 * a Temporal-level cancel that lands while the errors are being stored must not lose them — the final flush stores
 * them again. (Before the fix the buffer was emptied before the store succeeded, so the final flush had nothing.)
 */
const OPTIONS = realtimeTestOptions({ notifications: { kafkaTopic: 'unused-in-this-test', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' } });

describe('batch error buffer (integration)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('errors whose store was cancelled mid-call are stored by the final flush', async () => {
    const taskQueue = uniqueName('tq-flush');
    const members = ['m_a', 'm_b', 'm_c'];
    const recordCalls: RecordErrorsInput[] = [];
    let firstStoreStarted!: () => void;
    const storeStarted = new Promise<void>((r) => (firstStoreStarted = r));
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        getStediLoad: idleStediLoad,
        planMembers: planAllAsRefresh(members),
        async refreshEligibility(_input: EligibilityRefreshInput) {
          throw ApplicationFailure.create({ type: ErrorType.StediValidation, message: 'rejected by Stedi', nonRetryable: true });
        },
        async recordMemberErrors(input: RecordErrorsInput) {
          recordCalls.push(input);
          if (recordCalls.length === 1) {
            // The first store hangs until the workflow is cancelled (the activity learns it through heartbeats).
            firstStoreStarted();
            const ctx2 = Context.current();
            for (;;) {
              ctx2.heartbeat();
              await ctx2.sleep(200);
            }
          }
        },
        async publishBatchEvent() {},
        async releaseMemberList() {},
      },
    });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/flush-test/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'flush-test', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 3 }, options: OPTIONS }],
      });
      await storeStarted;
      await handle.cancel(); // Temporal-level cancellation while the errors are being stored
      const view = (await handle.result()) as BatchWorkflowResult;
      expect(view.status).toBe('CANCELLED');
      expect(recordCalls.length).toBeGreaterThanOrEqual(2);
      const finalFlush = recordCalls[recordCalls.length - 1]!;
      expect(finalFlush.errors.map((e) => e.memberIndex).sort()).toEqual([0, 1, 2]);
      expect(finalFlush.errors.every((e) => e.errorCode === ErrorType.StediValidation)).toBe(true);
    });
  }, 120_000);

  it('stediRealtimeCalls counts only checks that reached Stedi', async () => {
    const taskQueue = uniqueName('tq-stedi-calls');
    // m_0 answered by Stedi, m_1 answered by a newer cache entry (no call), m_2 not in the directory (no call),
    // m_3 rejected by Stedi (a call).
    const members = ['m_0', 'm_1', 'm_2', 'm_3'];
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        getStediLoad: idleStediLoad,
        planMembers: planAllAsRefresh(members),
        async refreshEligibility(input: EligibilityRefreshInput) {
          if (input.memberId === 'm_2') throw ApplicationFailure.create({ type: ErrorType.MemberNotFound, message: 'not in the directory', nonRetryable: true });
          if (input.memberId === 'm_3') throw ApplicationFailure.create({ type: ErrorType.StediValidation, message: 'rejected by Stedi', nonRetryable: true });
          return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: input.memberId === 'm_1' ? 0 : 1 };
        },
        async recordMemberErrors() {},
        async publishBatchEvent() {},
        async releaseMemberList() {},
      },
    });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/stedi-calls-test/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'stedi-calls-test', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 4 }, options: OPTIONS }],
      });
      const view = (await handle.result()) as BatchWorkflowResult;
      expect([view.counters.completed, view.counters.failed]).toEqual([2, 2]);
      expect(view.counters.stediRealtimeCalls).toBe(2);
    });
  }, 120_000);
});
