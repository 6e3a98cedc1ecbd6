import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/logger';
import { createPredictionUsageObserver, registerPredictionAccuracyMetrics } from './metrics';
import type { AccuracySnapshot } from './ports';

async function scrape(registry: Registry): Promise<string> {
  return registry.metrics();
}

describe('registerPredictionAccuracyMetrics', () => {
  it('reports used ÷ predicted with its sample size, reading the store once per scrape', async () => {
    const registry = new Registry();
    let reads = 0;
    const store = { accuracy: async (): Promise<AccuracySnapshot> => (reads++, { predicted: 8, used: 6, runs: 2 }) };
    registerPredictionAccuracyMetrics(registry, { store, lookbackMs: 1000, logger: silentLogger() });
    const text = await scrape(registry);
    expect(text).toContain('rte_cache_warming_prediction_accuracy{source="member-cron"} 0.75');
    expect(text).toContain('rte_cache_warming_prediction_sample_size{source="member-cron"} 8');
    expect(reads).toBe(1);
  });

  it('no sample: the accuracy series is absent (not 0 %) and the sample size is 0', async () => {
    const registry = new Registry();
    registerPredictionAccuracyMetrics(registry, { store: { accuracy: async () => ({ predicted: 0, used: 0, runs: 0 }) }, lookbackMs: 1000, logger: silentLogger() });
    const text = await scrape(registry);
    expect(text).not.toMatch(/^rte_cache_warming_prediction_accuracy\{/m);
    expect(text).toContain('rte_cache_warming_prediction_sample_size{source="member-cron"} 0');
  });

  it('a failing store does not break the scrape: no accuracy series, an error counted', async () => {
    const registry = new Registry();
    registerPredictionAccuracyMetrics(registry, {
      store: { accuracy: async () => Promise.reject(new Error('redis down')) },
      lookbackMs: 1000,
      logger: silentLogger(),
    });
    const text = await scrape(registry);
    expect(text).not.toMatch(/^rte_cache_warming_prediction_accuracy\{/m);
    expect(text).toContain('rte_cache_warming_prediction_accuracy_scrape_errors_total{source="member-cron"} 1');
  });
});

describe('createPredictionUsageObserver', () => {
  it('never throws to the caller, for a rejected or a synchronously throwing store, and counts the failures', async () => {
    const registry = new Registry();
    const rejecting = createPredictionUsageObserver({ store: { observeUsage: async () => Promise.reject(new Error('redis down')) }, registry, logger: silentLogger() });
    expect(() => rejecting.observe('h1', 1)).not.toThrow();
    const throwing = createPredictionUsageObserver({
      store: {
        observeUsage: () => {
          throw new Error('not connected');
        },
      },
      registry: new Registry(),
      logger: silentLogger(),
    });
    expect(() => throwing.observe('h1', 1)).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(await registry.metrics()).toContain('rte_cache_warming_prediction_usage_observations_total{source="member-cron",result="error"} 1');
  });

  it('bounds store calls in flight: beyond the bound an observation is dropped and counted, and a finished call frees its place', async () => {
    const registry = new Registry();
    const pending: ((n: number) => void)[] = [];
    const store = { observeUsage: jest.fn(() => new Promise<number>((resolve) => pending.push(resolve))) };
    const observer = createPredictionUsageObserver({ store, registry, logger: silentLogger(), maxInFlight: 2 });
    observer.observe('h1', 1);
    observer.observe('h2', 1);
    observer.observe('h3', 1);
    expect(store.observeUsage).toHaveBeenCalledTimes(2);
    pending[0]!(1);
    await new Promise((r) => setImmediate(r));
    observer.observe('h4', 1);
    expect(store.observeUsage).toHaveBeenCalledTimes(3);
    const text = await registry.metrics();
    expect(text).toContain('rte_cache_warming_prediction_usage_observations_total{source="member-cron",result="dropped"} 1');
    expect(text).toContain('rte_cache_warming_prediction_usage_observations_total{source="member-cron",result="used"} 1');
  });
});
