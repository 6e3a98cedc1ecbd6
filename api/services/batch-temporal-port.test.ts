import type { Client } from '@temporalio/client';
import type { BatchStatusView } from '../../workflows/batch.defs';
import { createTemporalBatchPort, listedStatus } from './batch-temporal-port';

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
