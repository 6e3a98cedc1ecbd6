import type { Client } from '@temporalio/client';
import type { BatchStatusView } from '../../workflows/batch.defs';
import { CancelNotAppliedError, createTemporalBatchPort, listedStatus } from './batch-temporal-port';

const ID = 'batch/svc-a/job-1';
const view = (status: string) => ({ batchId: ID, status, paused: false, counters: { total: 3 } }) as unknown as BatchStatusView;

/** A Temporal client stand-in whose cancel update fails; the workflow is open (RUNNING) or closed (COMPLETED). */
function clientWith(opts: { closed: boolean; finalStatus?: string }) {
  const handle = {
    executeUpdate: async () => Promise.reject(new Error('4 DEADLINE_EXCEEDED: update did not complete in time')),
    describe: async () => ({ status: { name: opts.closed ? 'COMPLETED' : 'RUNNING' }, startTime: new Date(0), memo: {} }),
    query: async () => view('RUNNING'),
    result: async () => view(opts.finalStatus ?? 'CANCELLED'),
  };
  return { workflow: { getHandle: () => handle } } as unknown as Client;
}

describe('createTemporalBatchPort.cancel', () => {
  it('a cancel that failed on an open batch is an error, never the open view as if it had been cancelled', async () => {
    await expect(createTemporalBatchPort(clientWith({ closed: false })).cancel(ID, 'why')).rejects.toThrow(/DEADLINE_EXCEEDED/);
  });

  it('a batch that had already finished answers with its final state', async () => {
    await expect(createTemporalBatchPort(clientWith({ closed: true, finalStatus: 'COMPLETED' })).cancel(ID, 'why')).resolves.toMatchObject({ status: 'COMPLETED' });
  });
});

/**
 * Probe p16 #9: no worker takes the batch's workflow task, so the cancel update never answers (CancelBatch took 50.6 s
 * under a backlog). The stand-in's update never settles; the bound (gRPC deadline, `within` as last resort) ends it.
 */
function unansweringClient(opts: { signalFails?: boolean; closedStatus?: string } = {}) {
  const signals: Array<{ name: string; args: unknown }> = [];
  const deadlines: number[] = [];
  const handle = {
    executeUpdate: () => new Promise(() => undefined),
    signal: async (def: { name: string }, args: unknown) => {
      if (opts.signalFails) throw new Error('workflow execution already completed');
      signals.push({ name: def.name, args });
    },
    describe: async () => ({ status: { name: opts.closedStatus ? 'COMPLETED' : 'RUNNING' }, startTime: new Date(0), memo: {} }),
    query: async () => view('RUNNING'),
    result: async () => view(opts.closedStatus ?? 'RUNNING'),
  };
  const client = {
    workflow: { getHandle: () => handle },
    withDeadline: <T>(d: number, fn: () => Promise<T>) => (deadlines.push(d), fn()),
  } as unknown as Client;
  return { client, signals, deadlines };
}

describe('createTemporalBatchPort.cancel with a bound (probe p16 #9)', () => {
  it('an update not answered by the bound: the durable cancel signal goes out (same reason) and CancelNotAppliedError, not an open view', async () => {
    const c = unansweringClient();
    const t0 = Date.now();
    const err = await createTemporalBatchPort(c.client).cancel(ID, 'no longer needed', Date.now() + 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelNotAppliedError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(c.signals).toEqual([{ name: 'cancelBatch', args: { reason: 'no longer needed' } }]);
    expect(c.deadlines[0]).toBeLessThanOrEqual(t0 + 100 + 5);
  });

  it('a batch that finished meanwhile (the signal finds no open workflow) answers with its final state', async () => {
    const c = unansweringClient({ signalFails: true, closedStatus: 'COMPLETED' });
    await expect(createTemporalBatchPort(c.client).cancel(ID, 'why', Date.now() + 50)).resolves.toMatchObject({ status: 'COMPLETED' });
  });

  it('a cancel that could not be delivered at all keeps the deadline error (nothing claimed)', async () => {
    const c = unansweringClient({ signalFails: true });
    const err = await createTemporalBatchPort(c.client).cancel(ID, 'why', Date.now() + 50).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(CancelNotAppliedError);
    expect(String(err)).toMatch(/DEADLINE_EXCEEDED/);
  });
});

describe('createTemporalBatchPort.status of a batch Temporal ended (terminated, timed out)', () => {
  const counters = { total: 3, completed: 1, failed: 1, cancelled: 0, cacheHits: 0, cacheMisses: 0, stediRealtimeCalls: 0, stediBatchItems: 0, stediBatches: 0, durationMsSum: 0, durationCount: 0 };
  const last = { batchId: ID, clientService: 'svc-a', clientJobId: 'job-1', status: 'RUNNING', phase: 'RUNNING', paused: false, counters, pending: 1, percentDone: 66, submittedAtMs: 10, startedAtMs: 20, estimatedCompletionMs: 99_999, options: { priority: 'HIGH' }, recentErrors: [], totalErrors: 1, totalKnown: true, chunksInFlight: 0 } as unknown as BatchStatusView;
  const terminated = (query: () => Promise<BatchStatusView>, progress?: string) =>
    ({
      withDeadline: (_d: number, fn: () => Promise<unknown>) => fn(),
      workflow: {
        getHandle: () => ({
          describe: async () => ({ status: { name: 'TERMINATED' }, startTime: new Date(10), closeTime: new Date(5_000), memo: { submittedAtMs: 10 }, typedSearchAttributes: { get: (k: { name: string }) => (k.name === 'RteBatchProgress' ? progress : undefined) } }),
          query,
        }),
      },
    }) as unknown as Client;

  it('FAILED with WORKFLOW_TERMINATED and the batch\'s last counters, from its own last state (the query on the closed workflow)', async () => {
    const v = (await createTemporalBatchPort(terminated(async () => last)).status(ID))!;
    expect([v.status, v.phase, v.failure]).toEqual(['FAILED', 'DONE', { code: 'WORKFLOW_TERMINATED', message: 'the batch workflow ended terminated' }]);
    expect(v.counters).toMatchObject({ total: 3, completed: 1, failed: 1 });
    expect([v.pending, v.totalErrors, v.startedAtMs, v.finishedAtMs, v.estimatedCompletionMs]).toEqual([1, 1, 20, 5_000, undefined]);
  });

  it('no worker to answer the query: the counts its RteBatchProgress text last showed, never zeros', async () => {
    const v = (await createTemporalBatchPort(terminated(async () => Promise.reject(new Error('4 DEADLINE_EXCEEDED')), 'RUNNING · 2 / 3 done · 1 failed')).status(ID))!;
    expect([v.status, v.failure?.code]).toEqual(['FAILED', 'WORKFLOW_TERMINATED']);
    expect(v.counters).toMatchObject({ total: 3, completed: 1, failed: 1 });
    expect([v.pending, v.totalKnown, v.submittedAtMs, v.finishedAtMs]).toEqual([1, true, 10, 5_000]);
    const starting = (await createTemporalBatchPort(terminated(async () => Promise.reject(new Error('4 DEADLINE_EXCEEDED')), 'starting · 3 members')).status(ID))!;
    expect([starting.counters.total, starting.pending]).toEqual([3, 3]);
  });
});

describe('listedStatus (ListBatches rows)', () => {
  it('a batch workflow terminated or timed out while RUNNING is listed FAILED, as GetBatchStatus reports it', () => {
    expect(listedStatus('RUNNING', 5)).toBe('FAILED'); // TERMINATED
    expect(listedStatus('PAUSED', 7)).toBe('FAILED'); // TIMED_OUT
    expect(listedStatus('WAITING', 4)).toBe('FAILED'); // CANCELED at the Temporal level
  });
  it('an open workflow and one that wrote its own final status keep it', () => {
    expect(listedStatus('RUNNING', 1)).toBe('RUNNING');
    expect(listedStatus('WAITING', undefined)).toBe('WAITING');
    expect(listedStatus('COMPLETED', 2)).toBe('COMPLETED');
    expect(listedStatus('CANCELLED', 5)).toBe('CANCELLED');
  });
});
