import { Code, ConnectError } from '@connectrpc/connect';
import type { BatchDurableProgress } from '../../activities/batch/ports';
import type { BatchStatusView } from '../../workflows/batch.defs';
import { RteBatchProgress, RteBatchStartedAt, RteBatchStatus } from '../../workflows/search-attributes';
import { batchDetails } from '../../lib/batch/details';
import { failureFromProgressText, fromProgress, lastKnownFields, parseProgressText, pausedByFromProgressText, withStatusFallback, type StatusFallbackDeps } from './batch-status-fallback';

const ID = 'batch/svc-a/job-1';
const grpcError = (code: number, message: string) => Object.assign(new Error(message), { code });
const never = <T>() => new Promise<T>(() => undefined);
const fake = (status: (batchId: string) => Promise<BatchStatusView | undefined>) => ({ status });
const live = { batchId: ID, status: 'RUNNING', counters: { total: 60 } } as unknown as BatchStatusView;

function description(sa: Record<string, unknown>, status = 'RUNNING') {
  const keys: Record<string, unknown> = { [RteBatchStatus.name]: sa['status'], [RteBatchProgress.name]: sa['progress'], [RteBatchStartedAt.name]: sa['startedAt'] };
  return {
    status: { name: status },
    startTime: new Date(1_000),
    closeTime: undefined,
    memo: { submittedAtMs: 1_000 },
    typedSearchAttributes: { get: (k: { name: string }) => keys[k.name] },
  };
}

function deps(over: { describe?: () => Promise<unknown>; progress?: () => Promise<BatchDurableProgress | undefined> }): StatusFallbackDeps {
  return {
    client: {
      // The fake ignores the deadline; the wrapper's own timers bound it too.
      withDeadline: (_d: number | Date, fn: () => Promise<unknown>) => fn(),
      workflow: { getHandle: () => ({ describe: over.describe ?? (() => never()) }) },
    } as unknown as StatusFallbackDeps['client'],
    ...(over.progress ? { progress: { read: over.progress } } : {}),
    liveBudgetMs: 200,
    fallbackBudgetMs: 150,
  };
}

describe('GetBatchStatus fallback to the last durable state (issue 12)', () => {
  it('answers live when the workflow answers in time (no last_known)', async () => {
    const port = withStatusFallback(fake(async () => live), deps({}));
    const v = await port.status(ID);
    expect(v).toBe(live);
    expect(lastKnownFields(v!)).toEqual({});
  });

  it('no worker answers the query: last-known from search attributes + PostgreSQL, within the budget', async () => {
    const port = withStatusFallback(
      fake(() => never<BatchStatusView>()),
      deps({
        describe: async () => description({ status: 'RUNNING', progress: '20 / 60 done · 2 failed · real-time, 12 slots', startedAt: new Date(2_000) }),
        progress: async () => ({ completed: 25, failed: 3, listed: 60, listedAtMs: 900, lastOutcomeAtMs: 9_000 }),
      }),
    );
    const t0 = Date.now();
    const v = (await port.status(ID))!;
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(v.status).toBe('RUNNING');
    expect(v.counters).toMatchObject({ total: 60, completed: 25, failed: 3 });
    expect(v.startedAtMs).toBe(2_000);
    expect(lastKnownFields(v)).toMatchObject({ lastKnown: true, asOf: { seconds: 9n } });
  });

  it('a PAUSED batch says who paused it, from the progress text it wrote when it paused (GetBatchStatus.paused_by)', async () => {
    const counters = { total: 60, completed: 12, failed: 2, cancelled: 0, cacheHits: 0, cacheMisses: 0, stediRealtimeCalls: 0, stediBatchItems: 0, stediBatches: 0, durationMsSum: 0, durationCount: 0 };
    const text = (pausedBy?: string) =>
      batchDetails({ status: 'PAUSED', counters, totalKnown: true, maxConcurrentRequests: 15, window: 'ANY', chunksInFlight: 0, ...(pausedBy ? { pausedBy } : {}) }, 0);
    const viewWith = async (progress: string, status = 'PAUSED') =>
      (await withStatusFallback(fake(() => never<BatchStatusView>()), deps({ describe: async () => description({ status, progress }) })).status(ID))!;
    const v = await viewWith(text('svc-ops'));
    expect([v.status, v.paused, v.pausedBy]).toEqual(['PAUSED', true, 'svc-ops']);
    expect(v.counters).toMatchObject({ total: 60, completed: 12, failed: 2 });
    // A pause that did not say who: none; a batch no longer paused: none.
    expect((await viewWith(text())).pausedBy).toBeUndefined();
    expect((await viewWith(text('svc-ops'), 'RUNNING')).pausedBy).toBeUndefined();
    expect(pausedByFromProgressText('paused by warming/manual-trigger/api-1 · 1 / 2 done · resume with signal resumeBatch')).toBe('warming/manual-trigger/api-1');
  });

  it('a finished batch says why it ended: its own failure from the progress text, or how Temporal closed it', async () => {
    const counters = { total: 60, completed: 3, failed: 2, cancelled: 55, cacheHits: 0, cacheMisses: 0, stediRealtimeCalls: 0, stediBatchItems: 0, stediBatches: 0, durationMsSum: 0, durationCount: 0 };
    const failure = { code: 'TIMEOUT', message: 'the batch timed out after 60 s · 55 members not processed' };
    const text = batchDetails({ status: 'PARTIALLY_COMPLETED', counters, totalKnown: true, maxConcurrentRequests: 15, window: 'ANY', chunksInFlight: 0, failure }, 0);
    const viewWith = async (sa: Record<string, unknown>, closedAs: string) =>
      (await withStatusFallback(fake(() => never<BatchStatusView>()), deps({ describe: async () => description(sa, closedAs) })).status(ID))!;
    const timedOut = await viewWith({ status: 'PARTIALLY_COMPLETED', progress: text }, 'COMPLETED');
    expect([timedOut.status, timedOut.failure]).toEqual(['PARTIALLY_COMPLETED', failure]);
    const terminated = await viewWith({ status: 'RUNNING', progress: '20 / 60 done' }, 'TERMINATED');
    expect([terminated.status, terminated.failure]).toEqual(['FAILED', { code: 'WORKFLOW_TERMINATED', message: 'the batch workflow ended terminated' }]);
    // Its counters are the last it showed, not zeros (probe p15).
    expect(terminated.counters).toMatchObject({ total: 60, completed: 20 });
    expect(failureFromProgressText('RUNNING · 20 / 60 done')).toBeUndefined();
    expect(failureFromProgressText('CANCELLED · 0 / 1 done · 1 cancelled · CANCELLED: no longer needed')).toEqual({ code: 'CANCELLED', message: 'no longer needed' });
  });

  it('PostgreSQL down too: counts from RteBatchProgress', async () => {
    const port = withStatusFallback(
      fake(async () => Promise.reject(grpcError(4, 'DEADLINE_EXCEEDED'))),
      deps({ describe: async () => description({ status: 'RUNNING', progress: '1,020 / 2,000 done · 20 failed' }), progress: () => Promise.reject(new Error('connect ECONNREFUSED')) }),
    );
    const v = (await port.status(ID))!;
    expect(v.counters).toMatchObject({ total: 2_000, completed: 1_000, failed: 20 });
    expect(lastKnownFields(v).lastKnown).toBe(true);
  });

  it('Temporal unreachable: last-known from PostgreSQL alone', async () => {
    const down = () => Promise.reject(grpcError(14, '14 UNAVAILABLE: No connection established'));
    const port = withStatusFallback(fake(down), deps({ describe: down, progress: async () => ({ completed: 60, failed: 0, listed: 60, listedAtMs: 1_000, firstOutcomeAtMs: 2_000, lastOutcomeAtMs: 5_000 }) }));
    const v = (await port.status(ID))!;
    expect(v).toMatchObject({ status: 'COMPLETED', clientService: 'svc-a', clientJobId: 'job-1', finishedAtMs: 5_000, lastKnownAsOfMs: 5_000 });
  });

  it('Temporal and PostgreSQL both unreachable: unavailable with retry-after, within the budget', async () => {
    const port = withStatusFallback(fake(() => never<BatchStatusView>()), deps({ describe: () => never(), progress: () => never() }));
    const t0 = Date.now();
    const err = await port.status(ID).then(() => undefined, (e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).metadata.get('retry-after')).toBe('5');
  });

  it('an unknown batch stays not found, and a request error is not hidden', async () => {
    const notFound = withStatusFallback(fake(async () => undefined), deps({}));
    await expect(notFound.status(ID)).resolves.toBeUndefined();
    const gone = withStatusFallback(fake(() => never<BatchStatusView>()), deps({ describe: () => Promise.reject(grpcError(5, 'workflow not found')), progress: async () => ({ completed: 1, failed: 0 }) }));
    await expect(gone.status(ID)).resolves.toBeUndefined();
    const bad = withStatusFallback(fake(() => Promise.reject(new TypeError('bug'))), deps({}));
    await expect(bad.status(ID)).rejects.toThrow('bug');
  });

  it('derives the status from outcomes alone', () => {
    expect(fromProgress(ID, { completed: 3, failed: 0, listed: 10 }).status).toBe('RUNNING');
    expect(fromProgress(ID, { completed: 8, failed: 2, listed: 10 }).status).toBe('PARTIALLY_COMPLETED');
    expect(fromProgress(ID, { completed: 0, failed: 0, listed: 10 }).status).toBe('PENDING');
    expect(parseProgressText('starting · 60 members')).toEqual({ total: 60 });
  });
});
