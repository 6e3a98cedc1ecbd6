import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger';
import type { AccuracySnapshot, PredictionOutcomeStore, UsageObservation, UsageObserverStore } from './ports';

export const ACCURACY_METRIC = 'rte_cache_warming_prediction_accuracy';

export interface PredictionAccuracyMetricsOptions {
  store: Pick<PredictionOutcomeStore, 'accuracy'>;
  /** Runs whose 24 h horizon closed within this window are scored (default 7 days). */
  lookbackMs: number;
  logger: Logger;
  clock?: () => number;
  /** The `source` label (design doc: `member-cron`). */
  source?: string;
  /** A scrape gives up on the store after this long and reports no data (default 2 s). */
  timeoutMs?: number;
  /**
   * Real warms (cache_warms): one series per warm source (e.g. `member-cron-daily-rte-warmup`,
   * `schedule-morning-preload`), used within the horizon ÷ warms whose horizon closed within the lookback.
   */
  warms?: { accuracyBySource(now: number, lookbackMs: number): Promise<readonly WarmAccuracy[]> };
  /** Warm sources reported one by one; the rest are summed into `other-warms` (bounds label cardinality). Default 20. */
  maxWarmSources?: number;
}

export interface WarmAccuracy {
  source: string;
  /** Warms whose horizon closed within the lookback. */
  scored: number;
  /** Of those, warms first read by an interactive check inside the horizon. */
  used: number;
}

/**
 * Scrape-time accuracy gauges computed from the shared store, so every process that exposes them
 * reports the same, global value (aggregate across replicas with max(), never sum()). When no run
 * closed within the lookback the accuracy series is absent and the sample size is 0: "no data" is
 * never shown as 0 %.
 */
export function registerPredictionAccuracyMetrics(registry: Registry, opts: PredictionAccuracyMetricsOptions) {
  const clock = opts.clock ?? Date.now;
  const source = opts.source ?? 'member-cron';
  const timeoutMs = opts.timeoutMs ?? 2_000;
  let inFlight: Promise<AccuracySnapshot | null> | null = null;
  let warmsInFlight: Promise<WarmAccuracy[]> | null = null;
  const maxWarmSources = opts.maxWarmSources ?? 20;

  const scrapeErrors = new Counter({
    name: 'rte_cache_warming_prediction_accuracy_scrape_errors_total',
    help: 'Scrapes that could not read the prediction outcome store (the accuracy series is absent then)',
    labelNames: ['source'] as const,
    registers: [registry],
    // Waits for this scrape's read, so a failure shows up in the same scrape.
    async collect() {
      await Promise.all([snapshot(), warmSnapshot()]);
    },
  });

  /** One cache_warms read per scrape; no warms port or a failed read = no warm series. */
  function warmSnapshot(): Promise<WarmAccuracy[]> {
    const warms = opts.warms;
    if (!warms) return Promise.resolve([]);
    warmsInFlight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const rows = await Promise.race([
          warms.accuracyBySource(clock(), opts.lookbackMs),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`warm records did not answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        const sorted = [...rows].filter((r) => r.scored > 0).sort((a, b) => b.scored - a.scored || (a.source < b.source ? -1 : 1));
        const out = sorted.slice(0, maxWarmSources).map((r) => ({ ...r, source: r.source === source ? `warm:${r.source}` : r.source }));
        const rest = sorted.slice(maxWarmSources);
        if (rest.length > 0) out.push({ source: 'other-warms', scored: rest.reduce((n, r) => n + r.scored, 0), used: rest.reduce((n, r) => n + r.used, 0) });
        return out;
      } catch (err) {
        scrapeErrors.inc({ source: 'warms' });
        opts.logger.warn({ err }, 'prediction accuracy: warm records read failed');
        return [];
      } finally {
        if (timer) clearTimeout(timer);
        warmsInFlight = null;
      }
    })();
    return warmsInFlight;
  }

  /** One store read per scrape, shared by the gauges (prom-client collects them concurrently). */
  function snapshot(): Promise<AccuracySnapshot | null> {
    inFlight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          opts.store.accuracy(clock(), opts.lookbackMs),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`prediction outcome store did not answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } catch (err) {
        scrapeErrors.inc({ source });
        opts.logger.warn({ err }, 'prediction accuracy: store read failed');
        return null;
      } finally {
        if (timer) clearTimeout(timer);
        inFlight = null;
      }
    })();
    return inFlight;
  }

  const accuracy = new Gauge({
    name: ACCURACY_METRIC,
    help: 'Share of high-confidence member-cron predictions (confidence > 0.8, P > 0.8) followed by an interactive CheckEligibility within their 24 h horizon; runs whose horizon closed within the lookback. Other source values: real warms of that warm source (cache_warms) first used by an interactive read within their horizon, over warms whose horizon closed within the lookback. Absent when there is no sample.',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      const [s, warms] = await Promise.all([snapshot(), warmSnapshot()]);
      this.reset();
      if (s && s.predicted > 0) this.set({ source }, s.used / s.predicted);
      for (const w of warms) this.set({ source: w.source }, w.used / w.scored);
    },
  });
  const sampleSize = new Gauge({
    name: 'rte_cache_warming_prediction_sample_size',
    help: 'High-confidence predictions behind rte_cache_warming_prediction_accuracy (0 = no data, not 0 %)',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      const [s, warms] = await Promise.all([snapshot(), warmSnapshot()]);
      this.reset();
      if (s) this.set({ source }, s.predicted);
      for (const w of warms) this.set({ source: w.source }, w.scored);
    },
  });
  const used = new Gauge({
    name: 'rte_cache_warming_prediction_used',
    help: 'High-confidence predictions behind the accuracy metric that were followed by interactive use',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      const [s, warms] = await Promise.all([snapshot(), warmSnapshot()]);
      this.reset();
      if (s) this.set({ source }, s.used);
      for (const w of warms) this.set({ source: w.source }, w.used);
    },
  });
  return { accuracy, sampleSize, used, scrapeErrors };
}

/** Fire-and-forget usage recording for request paths. */
export interface PredictionUsageObserver {
  /**
   * Starts recording that the member (keyed hash) used the app at `at`. Returns at once and never
   * throws: the caller's response does not wait for Redis, and a failure is only logged and counted.
   */
  observe(memberHash: string, at: number): void;
  /** Sends what is buffered now and waits for every store call started so far. Never rejects. */
  flush(): Promise<void>;
  /** Drain (shutdown): stops buffering (later observations go out one by one) and flushes. Never rejects. */
  close(): Promise<void>;
}

export interface UsageCoalescing {
  /** A buffer this long is sent at once (default 64). */
  maxBatch?: number;
  /** A buffered observation waits at most this long for others (default 2 ms). */
  maxDelayMs?: number;
}

export function createPredictionUsageObserver(deps: {
  store: UsageObserverStore;
  registry: Registry;
  logger: Logger;
  source?: string;
  /**
   * Observations waiting (buffered or in a store call) at most; beyond it an observation is dropped and counted
   * (result `dropped`). Default 2,000.
   */
  maxInFlight?: number;
  /**
   * Issue 14: when the store can take several observations in one call (`observeUsageBatch`), the observations of
   * reads made within `maxDelayMs` are sent together (one Redis round trip instead of one per read). `false`: one
   * call per observation.
   */
  coalesce?: UsageCoalescing | false;
}): PredictionUsageObserver {
  const source = deps.source ?? 'member-cron';
  const maxInFlight = deps.maxInFlight ?? 2_000;
  const batchCall = deps.coalesce === false ? undefined : deps.store.observeUsageBatch?.bind(deps.store);
  const coalesce = deps.coalesce || {};
  const maxBatch = Math.max(1, coalesce.maxBatch ?? 64);
  const maxDelayMs = Math.max(0, coalesce.maxDelayMs ?? 2);
  let waiting = 0;
  let buffer: UsageObservation[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const calls = new Set<Promise<void>>();
  const observations = new Counter({
    name: 'rte_cache_warming_prediction_usage_observations_total',
    help: 'Interactive eligibility checks offered to the prediction accuracy loop, by result (used: marked an open prediction; none: no open prediction; error: store failed, not retried; dropped: too many observations waiting for the store, e.g. Redis slow)',
    labelNames: ['source', 'result'] as const,
    registers: [deps.registry],
  });
  const used = observations.labels({ source, result: 'used' });
  const none = observations.labels({ source, result: 'none' });
  const errors = observations.labels({ source, result: 'error' });
  const dropped = observations.labels({ source, result: 'dropped' });

  const track = (p: Promise<void>) => {
    calls.add(p);
    void p.finally(() => calls.delete(p));
  };

  function observeOne(memberHash: string, at: number): void {
    const failed = (err: unknown) => {
      waiting--;
      errors.inc();
      deps.logger.warn({ err, memberHash }, 'prediction accuracy: usage not recorded');
    };
    try {
      track(
        deps.store.observeUsage(memberHash, at).then((marked) => {
          waiting--;
          (marked > 0 ? used : none).inc();
        }, failed),
      );
    } catch (err) {
      failed(err);
    }
  }

  function send(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffer.length === 0 || !batchCall) return;
    const batch = buffer;
    buffer = [];
    const failed = (err: unknown) => {
      waiting -= batch.length;
      errors.inc(batch.length);
      deps.logger.warn({ err, observations: batch.length }, 'prediction accuracy: usage not recorded (one batched store call failed)');
    };
    try {
      track(
        batchCall(batch).then((marked) => {
          if (marked.length !== batch.length) throw new Error(`the store answered ${marked.length} results for ${batch.length} observations`);
          waiting -= batch.length;
          let n = 0;
          for (const m of marked) if (m > 0) n++;
          if (n > 0) used.inc(n);
          if (batch.length > n) none.inc(batch.length - n);
        }).catch(failed),
      );
    } catch (err) {
      failed(err);
    }
  }

  async function flush(): Promise<void> {
    send();
    // Calls settle into counters and logs; none rejects.
    await Promise.all([...calls]);
  }

  return {
    observe(memberHash, at) {
      // Bounded: a slow or hung Redis must not let pending observations (and their memory) grow with the request rate.
      if (waiting >= maxInFlight) {
        dropped.inc();
        return;
      }
      waiting++;
      if (!batchCall || closed) {
        observeOne(memberHash, at);
        return;
      }
      buffer.push({ memberHash, at });
      if (buffer.length >= maxBatch) send();
      else if (!timer) {
        timer = setTimeout(send, maxDelayMs);
        // The drain flushes (close()); a buffered observation never keeps a process alive on its own.
        timer.unref();
      }
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}
