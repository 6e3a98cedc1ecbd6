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

describe('rte_batch_jobs_active', () => {
  const value = async (registry: Registry) => Number(/^rte_batch_jobs_active (\S+)$/m.exec(await registry.metrics())![1]);
  test('never negative: retried events count once; a batch that ended without starting is not subtracted', async () => {
    const registry = new Registry();
    const m = createPromBatchMetrics(registry);
    m.onBatchEvent('CANCELLED', { eventId: 'e-c', started: false });
    expect(await value(registry)).toBe(0);
    m.onBatchEvent('STARTED', { eventId: 'e1', started: true });
    m.onBatchEvent('STARTED', { eventId: 'e1', started: true }); // activity retried
    expect(await value(registry)).toBe(1);
    m.onBatchEvent('COMPLETED', { eventId: 'e2', started: true, durationSeconds: 3 });
    m.onBatchEvent('COMPLETED', { eventId: 'e2', started: true, durationSeconds: 3 });
    expect(await value(registry)).toBe(0);
  });
});
