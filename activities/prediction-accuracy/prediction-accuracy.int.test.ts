/**
 * The online prediction-accuracy loop against a real Redis (REDIS_URL, default redis://127.0.0.1:6379),
 * read through the Prometheus registry exactly as /metrics renders it. Random key prefix per test run;
 * the clock is injected, so "24 h later" is a variable, not a wait.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import { PREDICTION_HORIZON_MS } from '../../lib/prediction/high-confidence';
import { registerPredictionAccuracyMetrics } from './metrics';
import type { PredictionRun } from './ports';
import { RedisPredictionOutcomeStore } from './redis-prediction-outcome-store';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SECRET = 'prediction-accuracy-test-secret';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LOOKBACK = 7 * DAY;
const T0 = Date.parse('2024-11-15T06:00:00.000Z');
const hash = (id: string) => hashMemberId(SECRET, id);
const runAt = (schedule: string, at: number): PredictionRun => ({ runKey: `${schedule}@${new Date(at).toISOString()}`, predictedAt: at, horizonEnd: at + PREDICTION_HORIZON_MS });

let redis: Redis;
let prefix: string;
let now: number;
let store: RedisPredictionOutcomeStore;
let registry: Registry;

/** What a Prometheus scrape of the registry reports for the accuracy family, by metric name. */
async function scrape(): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const m of await registry.getMetricsAsJSON()) {
    const v = m.values.find((x) => x.labels['source'] === 'member-cron');
    out[m.name] = v?.value;
  }
  return out;
}

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
beforeEach(() => {
  prefix = `test:${randomBytes(6).toString('hex')}:`;
  now = T0;
  store = new RedisPredictionOutcomeStore(redis, { keyPrefix: prefix, retentionAfterHorizonMs: LOOKBACK + DAY });
  registry = new Registry();
  registerPredictionAccuracyMetrics(registry, { store, lookbackMs: LOOKBACK, clock: () => now, logger: silentLogger() });
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
});
afterAll(() => redis.disconnect());

describe('prediction accuracy on real Redis (integration)', () => {
  it('scores used ÷ predicted per closed horizon, once per prediction, inside the horizon only', async () => {
    const daily = runAt('daily-rte-warmup', T0);
    now = T0 + 5_000;
    const members = ['MBR-1', 'MBR-2', 'MBR-3', 'MBR-4', 'MBR-5'];
    expect(await store.recordPredictions(daily, members.map((m) => ({ memberHash: hash(m), probability: 0.7 })), now)).toBe(5);
    // A retried or duplicate emission of the same tick records nothing new.
    expect(await store.recordPredictions(daily, [{ memberHash: hash('MBR-1'), probability: 0.9 }], now)).toBe(0);

    // Horizon still open: no accuracy yet, and the sample size says so (not 0 %).
    now = T0 + 2 * HOUR;
    expect(await scrape()).toMatchObject({ rte_cache_warming_prediction_accuracy: undefined, rte_cache_warming_prediction_sample_size: 0 });

    expect(await store.observeUsage(hash('MBR-1'), T0 + HOUR)).toBe(1);
    expect(await store.observeUsage(hash('MBR-1'), T0 + 2 * HOUR)).toBe(0); // the same member again: once per prediction
    expect(await store.observeUsage(hash('MBR-2'), T0 + 23 * HOUR)).toBe(1);
    expect(await store.observeUsage(hash('MBR-3'), T0 - 60_000)).toBe(0); // before the horizon
    expect(await store.observeUsage(hash('MBR-3'), T0 + 25 * HOUR)).toBe(0); // after the horizon
    expect(await store.observeUsage(hash('MBR-NOT-PREDICTED'), T0 + HOUR)).toBe(0);

    now = T0 + DAY + 60_000;
    expect(await scrape()).toEqual({
      rte_cache_warming_prediction_accuracy: 0.4,
      rte_cache_warming_prediction_sample_size: 5,
      rte_cache_warming_prediction_used: 2,
      rte_cache_warming_prediction_accuracy_scrape_errors_total: undefined,
    });

    // Nothing in Redis names a member: keys and values carry only the keyed hash.
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.some((k) => k.includes(hash('MBR-1')))).toBe(true);
    expect(keys.join(' ')).not.toContain('MBR-');
  });

  it('a member predicted by two ticks counts for the tick whose horizon the use falls in; old ticks leave the lookback', async () => {
    const day1 = runAt('daily-rte-warmup', T0);
    const day2 = runAt('daily-rte-warmup', T0 + DAY);
    await store.recordPredictions(day1, [{ memberHash: hash('MBR-1'), probability: 0.8 }, { memberHash: hash('MBR-2'), probability: 0.6 }], T0);
    await store.recordPredictions(day2, [{ memberHash: hash('MBR-1'), probability: 0.8 }], T0 + DAY);
    expect(await store.observeUsage(hash('MBR-1'), T0 + DAY + HOUR)).toBe(1); // day 2's horizon only

    now = T0 + 2 * DAY;
    expect(await scrape()).toMatchObject({ rte_cache_warming_prediction_accuracy: 1 / 3, rte_cache_warming_prediction_sample_size: 3 });

    // Eight days after day 1's horizon closed it is out of the 7-day lookback; day 2 is still in.
    now = T0 + DAY + LOOKBACK + HOUR;
    expect(await scrape()).toMatchObject({ rte_cache_warming_prediction_accuracy: 1, rte_cache_warming_prediction_sample_size: 1, rte_cache_warming_prediction_used: 1 });
  });

  it('a batched observation call marks exactly what the same observations one by one would (issue 14 coalescing)', async () => {
    const daily = runAt('daily-rte-warmup', T0);
    await store.recordPredictions(daily, ['MBR-1', 'MBR-2', 'MBR-3'].map((m) => ({ memberHash: hash(m), probability: 0.7 })), T0);
    expect(
      await store.observeUsageBatch([
        { memberHash: hash('MBR-1'), at: T0 + HOUR },
        { memberHash: hash('MBR-1'), at: T0 + 2 * HOUR }, // the same member again in the same call: once per prediction
        { memberHash: hash('MBR-2'), at: T0 - 60_000 }, // before the horizon
        { memberHash: hash('MBR-NOT-PREDICTED'), at: T0 + HOUR },
        { memberHash: hash('MBR-3'), at: T0 + 23 * HOUR },
      ]),
    ).toEqual([1, 0, 0, 0, 1]);
    expect(await store.observeUsageBatch([])).toEqual([]);
    now = T0 + DAY + 60_000;
    expect(await scrape()).toMatchObject({ rte_cache_warming_prediction_accuracy: 2 / 3, rte_cache_warming_prediction_sample_size: 3, rte_cache_warming_prediction_used: 2 });
  });

  it('every process reading the store reports the same value (computed at scrape time, not per process)', async () => {
    const other = new Redis(REDIS_URL);
    try {
      const otherRegistry = new Registry();
      const otherStore = new RedisPredictionOutcomeStore(other, { keyPrefix: prefix });
      registerPredictionAccuracyMetrics(otherRegistry, { store: otherStore, lookbackMs: LOOKBACK, clock: () => now, logger: silentLogger() });
      await store.recordPredictions(runAt('weekly', T0), [{ memberHash: hash('MBR-1'), probability: 0.9 }, { memberHash: hash('MBR-2'), probability: 0.9 }], T0);
      await otherStore.observeUsage(hash('MBR-2'), T0 + HOUR); // usage seen by another process (an API replica)
      now = T0 + DAY;
      const fromOther = (await otherRegistry.getMetricsAsJSON()).find((m) => m.name === 'rte_cache_warming_prediction_accuracy');
      expect(fromOther?.values[0]?.value).toBe(0.5);
      expect((await scrape())['rte_cache_warming_prediction_accuracy']).toBe(0.5);
    } finally {
      other.disconnect();
    }
  });
});
