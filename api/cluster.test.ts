import cluster from 'node:cluster';
import { silentLogger } from '../lib/logger';
import { startApiCluster } from './cluster';

describe('API_PROCESSES > 1: how connections reach the copies', () => {
  const saved = process.env['NODE_CLUSTER_SCHED_POLICY'];
  afterEach(() => {
    if (saved === undefined) delete process.env['NODE_CLUSTER_SCHED_POLICY'];
    else process.env['NODE_CLUSTER_SCHED_POLICY'] = saved;
  });

  it('refuses a NODE_CLUSTER_SCHED_POLICY Node would silently read as round-robin, before starting any copy', () => {
    const fork = jest.spyOn(cluster, 'fork').mockImplementation(() => {
      throw new Error('a copy was started');
    });
    process.env['NODE_CLUSTER_SCHED_POLICY'] = 'None';
    expect(() => startApiCluster({ processes: 2, logger: silentLogger(), graceMs: 1000 })).toThrow("NODE_CLUSTER_SCHED_POLICY must be 'rr' or 'none' (or unset: 'none'), got 'None'");
    expect(fork).not.toHaveBeenCalled();
    fork.mockRestore();
  });

  it('a single API process ignores it (no cluster)', () => {
    process.env['NODE_CLUSTER_SCHED_POLICY'] = 'None';
    expect(startApiCluster({ processes: 1, logger: silentLogger(), graceMs: 1000 })).toBe('api');
  });
});
