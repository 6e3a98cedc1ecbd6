import { loadConfig } from './config';
import { createRedisClient, isClusterClient } from './redis-client';

describe('createRedisClient', () => {
  it('builds a single connection to REDIS_URL without REDIS_CLUSTER_NODES', () => {
    const r = createRedisClient(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6399' }), { lazyConnect: true });
    expect(isClusterClient(r)).toBe(false);
    expect(r.options).toMatchObject({ host: '127.0.0.1', port: 6399 });
    r.disconnect();
  });

  it('builds a Cluster on the seeds, with REDIS_URL credentials/TLS and the caller options on every node (auto-pipelining only on a single Redis)', () => {
    const config = loadConfig({ REDIS_URL: 'rediss://app:s%3Acret@ignored:1/3', REDIS_CLUSTER_NODES: 'n1:7000,n2:7001' });
    const c = createRedisClient(config, { lazyConnect: true, commandTimeout: 2_000, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    expect(isClusterClient(c)).toBe(true);
    if (!isClusterClient(c)) return;
    expect(c.options.redisOptions).toMatchObject({ username: 'app', password: 's:cret', tls: {}, commandTimeout: 2_000, maxRetriesPerRequest: 2 });
    expect(c.options).toMatchObject({ lazyConnect: true, scaleReads: 'master' });
    // Never on a Cluster (ioredis re-routes no auto-pipelined command after a failover: redis-cluster-failover.int).
    expect(c.options.enableAutoPipelining).toBe(false);
    expect(c.options.redisOptions).not.toHaveProperty('enableAutoPipelining');
    const copy = c.duplicate();
    expect(isClusterClient(copy)).toBe(true);
    copy.disconnect();
    c.disconnect();
  });
});
