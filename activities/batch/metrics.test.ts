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

describe('batch job metrics the design doc names (issue 10)', () => {
  test('batch_jobs_scheduled_total counts batches once (at STARTED, by requested window); members go to batch_members_scheduled_total', async () => {
    const registry = new Registry();
    const m = createPromBatchMetrics(registry);
    m.onScheduled('MORNING', 400);
    m.onScheduled('LOW_UTILIZATION', 600);
    m.onBatchEvent('STARTED', { eventId: 'a', started: true, window: 'MORNING' });
    m.onBatchEvent('STARTED', { eventId: 'a', started: true, window: 'MORNING' }); // retried event activity
    m.onBatchEvent('STARTED', { eventId: 'b', started: true, window: 'ANY' });
    const text = await registry.metrics();
    expect(text).toMatch(/^batch_jobs_scheduled_total\{window="morning"\} 1$/m);
    expect(text).toMatch(/^batch_jobs_scheduled_total\{window="any"\} 1$/m);
    expect(text).toMatch(/^batch_members_scheduled_total\{window="morning"\} 400$/m);
    expect(text).toMatch(/^batch_members_scheduled_total\{window="low_utilization"\} 600$/m);
  });

  test('rte_batch_job_duration_seconds by mode and status; rte_requests_total{source="batch"} counts batch members looked up', async () => {
    const registry = new Registry();
    const m = createPromBatchMetrics(registry);
    m.onBatchEvent('COMPLETED', { eventId: 'c', started: true, durationSeconds: 42, mode: 'realtime' });
    m.onBatchEvent('FAILED', { eventId: 'd', started: true, durationSeconds: 7, mode: 'batch_api' });
    m.onCacheLookup(3, 9);
    const text = await registry.metrics();
    expect(text).toMatch(/^rte_batch_job_duration_seconds_count\{mode="realtime",status="COMPLETED"\} 1$/m);
    expect(text).toMatch(/^rte_batch_job_duration_seconds_sum\{mode="realtime",status="COMPLETED"\} 42$/m);
    expect(text).toMatch(/^rte_batch_job_duration_seconds_sum\{mode="batch_api",status="FAILED"\} 7$/m);
    expect(text).toMatch(/^rte_requests_total\{source="batch"\} 12$/m);
  });
});
