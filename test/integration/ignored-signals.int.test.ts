import { idleStediLoad, planAllAsRefresh, realtimeTestOptions } from '../helpers/batch-stand-ins';
import { batchStatusQuery, pauseBatchSignal, resumeBatchSignal, type BatchWorkflowResult } from '../../workflows/batch.defs';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { ignoredSignalsQuery } from '../../workflows/ignored-signals';
import { connectTemporal, createTestWorker, uniqueName, type TemporalTestContext } from '../helpers/temporal';

/**
 * Operator probe #8: `temporal workflow signal --name resumeBatchh` printed "Signal workflow succeeded", the batch stayed
 * PAUSED and nothing said why; `pauseWarming {"by": 5}` paused without an actor, silently. Temporal cannot refuse a
 * signal, so the workflow says what it did not do: the `ignoredSignals` query lists a signal by an unknown name and an
 * argument it could not use (and the worker logs both). The batch workflow on the real dev server, stand-in activities.
 */
const options = realtimeTestOptions();

describe('signals a workflow did not act on (integration)', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTemporal();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('a misspelled signal and a pause with a non-string `by` are listed by ignoredSignals; the pause itself still applies', async () => {
    const taskQueue = uniqueName('tq-ignored-signals');
    const members = ['m_0', 'm_1'];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker = await createTestWorker(ctx, {
      taskQueue,
      activities: {
        getStediLoad: idleStediLoad,
        planMembers: planAllAsRefresh(members),
        async refreshEligibility(_input: EligibilityRefreshInput) {
          await gate;
          return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
        },
        async recordMemberErrors() {},
        async publishBatchEvent() {},
        async releaseMemberList() {},
      },
    });
    await worker.runUntil(async () => {
      const batchId = uniqueName('batch/ignored-signals-test/job');
      const handle = await ctx.client.workflow.start('batchWorkflow', {
        taskQueue,
        workflowId: batchId,
        args: [{ batchId, clientService: 'ignored-signals-test', clientJobId: batchId, submittedAtMs: Date.now(), selector: { kind: 'list', listRef: `${batchId}#ids`, total: 2 }, options }],
      });
      expect(await handle.query(ignoredSignalsQuery)).toEqual([]);

      await handle.signal('resumeBatchh');
      await handle.signal(pauseBatchSignal, { by: 5 as unknown as string });
      const ignored = await handle.query(ignoredSignalsQuery);
      expect(ignored.map(({ signal, reason }) => ({ signal, reason }))).toEqual([
        { signal: 'resumeBatchh', reason: 'batchWorkflow has no signal by that name (it handles: pauseBatch, resumeBatch, cancelBatch)' },
        { signal: 'pauseBatch', reason: 'by: expected a string, got number; the signal was applied without it' },
      ]);
      expect(Number.isNaN(Date.parse(ignored[0]!.at))).toBe(false);
      // The known signal did what it says: the batch is paused, with no actor.
      const paused = await handle.query(batchStatusQuery);
      expect(paused.status).toBe('PAUSED');
      expect(paused.pausedBy).toBeUndefined();

      // A well-formed signal is not listed.
      await handle.signal(resumeBatchSignal);
      release();
      const view = (await handle.result()) as BatchWorkflowResult;
      expect(view.status).toBe('COMPLETED');
      expect((await handle.query(ignoredSignalsQuery)).map((e) => e.signal)).toEqual(['resumeBatchh', 'pauseBatch']);
    });
  }, 120_000);
});
