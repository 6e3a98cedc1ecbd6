import { Registry } from 'prom-client';
import { createPromBatchMetrics } from './metrics';

describe('batch metrics named in the design doc', () => {
  test('rte_batch_cache_hits_total / rte_batch_requests_total is the batch cache hit rate', async () => {
    const registry = new Registry();
    const m = createPromBatchMetrics(registry);
    m.onCacheLookup(30, 70);
    m.onCacheLookup(5, 0);
    const text = await registry.metrics();
    expect(text).toMatch(/^rte_batch_cache_hits_total 35$/m);
    expect(text).toMatch(/^rte_batch_requests_total 105$/m);
  });
});
