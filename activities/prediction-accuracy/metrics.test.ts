import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/logger';
import { createPredictionUsageObserver, registerPredictionAccuracyMetrics } from './metrics';
import type { AccuracySnapshot, UsageObservation } from './ports';

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

describe('createPredictionUsageObserver coalescing (issue 14: one store call for the reads of a few ms)', () => {
  const counted = async (registry: Registry, result: string) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'rte_cache_warming_prediction_usage_observations_total');
    return m?.values.find((v) => v.labels['result'] === result)?.value ?? 0;
  };
  /** A store whose batched call answers "marked" for hashes starting with `u`, recording each call. */
  const batchingStore = () => {
    const batches: UsageObservation[][] = [];
    return {
      batches,
      observeUsage: jest.fn(async (h: string) => (h.startsWith('u') ? 1 : 0)),
      observeUsageBatch: jest.fn(async (obs: readonly UsageObservation[]) => {
        batches.push([...obs]);
        return obs.map((o) => (o.memberHash.startsWith('u') ? 1 : 0));
      }),
    };
  };
  afterEach(() => jest.useRealTimers());

  it('sends the observations made within maxDelayMs as one call, in order, and counts each result', async () => {
    jest.useFakeTimers();
    const registry = new Registry();
    const store = batchingStore();
    const observer = createPredictionUsageObserver({ store, registry, logger: silentLogger(), coalesce: { maxBatch: 64, maxDelayMs: 5 } });
    observer.observe('u1', 10);
    observer.observe('n2', 11);
    observer.observe('u3', 12);
    jest.advanceTimersByTime(4);
    expect(store.observeUsageBatch).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(store.batches).toEqual([
      [
        { memberHash: 'u1', at: 10 },
        { memberHash: 'n2', at: 11 },
        { memberHash: 'u3', at: 12 },
      ],
    ]);
    await observer.flush();
    expect(store.observeUsage).not.toHaveBeenCalled();
    expect(await counted(registry, 'used')).toBe(2);
    expect(await counted(registry, 'none')).toBe(1);
  });

  it('a full buffer (maxBatch) is sent at once, without waiting for the timer', async () => {
    jest.useFakeTimers();
    const store = batchingStore();
    const observer = createPredictionUsageObserver({ store, registry: new Registry(), logger: silentLogger(), coalesce: { maxBatch: 3, maxDelayMs: 1_000 } });
    for (const h of ['u1', 'u2', 'u3', 'u4']) observer.observe(h, 1);
    expect(store.batches.map((b) => b.map((o) => o.memberHash))).toEqual([['u1', 'u2', 'u3']]);
    jest.advanceTimersByTime(1_000);
    expect(store.batches.map((b) => b.map((o) => o.memberHash))).toEqual([['u1', 'u2', 'u3'], ['u4']]);
    await observer.flush();
  });

  it('drain: close() sends what is buffered at once and waits for it; later observations go out one by one', async () => {
    const registry = new Registry();
    const store = batchingStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.observeUsageBatch.mockImplementationOnce(async (obs) => {
      store.batches.push([...obs]);
      await gate;
      return obs.map(() => 1);
    });
    const observer = createPredictionUsageObserver({ store, registry, logger: silentLogger(), coalesce: { maxBatch: 64, maxDelayMs: 60_000 } });
    observer.observe('u1', 1);
    observer.observe('u2', 2);
    let closed = false;
    const closing = observer.close().then(() => (closed = true));
    expect(store.batches).toHaveLength(1);
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false); // waits for the store call in flight
    release();
    await closing;
    expect(await counted(registry, 'used')).toBe(2);
    observer.observe('u3', 3);
    expect(store.observeUsage).toHaveBeenCalledWith('u3', 3);
    await observer.flush();
    expect(await counted(registry, 'used')).toBe(3);
  });

  it('a failed batched call counts every observation in it as an error and logs it once (nothing silently dropped)', async () => {
    const registry = new Registry();
    const logger = silentLogger();
    const warn = jest.spyOn(logger, 'warn');
    const observer = createPredictionUsageObserver({
      store: { observeUsage: async () => 0, observeUsageBatch: async () => Promise.reject(new Error('READONLY replica')) },
      registry,
      logger,
      coalesce: { maxDelayMs: 0 },
    });
    observer.observe('h1', 1);
    observer.observe('h2', 1);
    await observer.flush();
    expect(await counted(registry, 'error')).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatchObject({ observations: 2, err: expect.objectContaining({ message: 'READONLY replica' }) });
  });

  it('a batched call that throws synchronously, or answers the wrong number of results, is counted as errors', async () => {
    const registry = new Registry();
    const throwing = createPredictionUsageObserver({
      store: {
        observeUsage: async () => 0,
        observeUsageBatch: () => {
          throw new Error('not connected');
        },
      },
      registry,
      logger: silentLogger(),
    });
    throwing.observe('h1', 1);
    expect(() => void throwing.flush()).not.toThrow();
    await throwing.flush();
    const short = createPredictionUsageObserver({ store: { observeUsage: async () => 0, observeUsageBatch: async () => [1] }, registry: new Registry(), logger: silentLogger() });
    short.observe('h1', 1);
    short.observe('h2', 1);
    await short.flush();
    expect(await counted(registry, 'error')).toBe(1);
  });

  it('bounds the observations waiting (buffered or in a call): beyond it one is dropped and counted', async () => {
    const registry = new Registry();
    const store = batchingStore();
    const observer = createPredictionUsageObserver({ store, registry, logger: silentLogger(), maxInFlight: 2, coalesce: { maxDelayMs: 60_000 } });
    observer.observe('u1', 1);
    observer.observe('u2', 1);
    observer.observe('u3', 1);
    expect(await counted(registry, 'dropped')).toBe(1);
    await observer.flush();
    observer.observe('u4', 1); // a finished call frees its places
    await observer.flush();
    expect(await counted(registry, 'used')).toBe(3);
    expect(await counted(registry, 'dropped')).toBe(1);
  });

  it('coalesce: false keeps one call per observation', async () => {
    const store = batchingStore();
    const observer = createPredictionUsageObserver({ store, registry: new Registry(), logger: silentLogger(), coalesce: false });
    observer.observe('u1', 1);
    await observer.flush();
    expect(store.observeUsage).toHaveBeenCalledTimes(1);
    expect(store.observeUsageBatch).not.toHaveBeenCalled();
  });
});
