import { Gauge, type Registry } from 'prom-client';

/**
 * Gauges read at scrape time from a shared source of truth (Redis slot pool, Kafka group offsets, Temporal
 * visibility), so every replica reports the same global value: dashboards and alerts aggregate them with max().
 * Each source is a plain async function supplied by the composition root; a failing source reports nothing
 * for that scrape (the series goes stale) and counts the failure, instead of failing the whole /metrics page.
 */

export interface SlotPoolSnapshot {
  readonly limit: number;
  readonly interactiveInUse: number;
  readonly batchInUse: number;
  readonly waiting: Readonly<Record<string, number>>;
}

/** Waiter queues are 'interactive', 'batch:<client>:<priority>', 'warming:...': the class is the first part. */
export function waiterClasses(waiting: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = { interactive: 0, batch: 0 };
  for (const [queue, n] of Object.entries(waiting)) {
    const cls = queue.split(':')[0] || queue;
    out[cls] = (out[cls] ?? 0) + n;
  }
  return out;
}

function collectorErrors(registry: Registry): Gauge<'collector'> {
  const existing = registry.getSingleMetric('rte_ops_gauge_collect_errors');
  if (existing) return existing as Gauge<'collector'>;
  return new Gauge({
    name: 'rte_ops_gauge_collect_errors',
    help: 'Scrapes in which a shared-state gauge could not read its source, by collector (cumulative)',
    labelNames: ['collector'] as const,
    registers: [registry],
  });
}

export function registerSlotPoolGauges(registry: Registry, stats: () => Promise<SlotPoolSnapshot>): void {
  const errors = collectorErrors(registry);
  // The collecting gauge is registered first: prom-client collects in registration order, so the gauges it
  // fills are read after it ran (not one scrape late).
  new Gauge({
    name: 'rte_stedi_slot_pool_limit',
    help: 'Real-time Stedi slots of the global pool',
    registers: [registry],
    async collect() {
      try {
        const s = await stats();
        this.set(s.limit);
        inUse.set({ kind: 'interactive' }, s.interactiveInUse);
        inUse.set({ kind: 'batch' }, s.batchInUse);
        waiters.reset();
        for (const [cls, n] of Object.entries(waiterClasses(s.waiting))) waiters.set({ class: cls }, n);
      } catch {
        errors.inc({ collector: 'slot_pool' });
      }
    },
  });
  const inUse = new Gauge({
    name: 'rte_stedi_slot_pool_in_use',
    help: 'Real-time Stedi slots held across all workers, by kind (interactive, batch)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const waiters = new Gauge({
    name: 'rte_stedi_slot_pool_waiters',
    help: 'Callers waiting for a real-time Stedi slot across all workers, by class (interactive, batch, ...)',
    labelNames: ['class'] as const,
    registers: [registry],
  });
}

export interface WatchedGroup {
  readonly group: string;
  readonly topic: string;
}

/** `KAFKA_LAG_GROUPS`: comma-separated `group@topic` pairs (the consumer groups whose lag the worker reports). */
export function parseWatchedGroups(raw: string): WatchedGroup[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const at = s.lastIndexOf('@');
      if (at <= 0 || at === s.length - 1) throw new Error(`KAFKA_LAG_GROUPS: "${s}" is not group@topic`);
      return { group: s.slice(0, at), topic: s.slice(at + 1) };
    });
}

export interface ConsumerGroupLag {
  readonly group: string;
  readonly topic: string;
  /** Messages not yet committed by the group, summed over partitions; undefined when it never committed. */
  readonly lag: number | undefined;
}

export function registerConsumerLagGauge(registry: Registry, read: () => Promise<readonly ConsumerGroupLag[]>): void {
  const errors = collectorErrors(registry);
  new Gauge({
    name: 'rte_kafka_consumer_group_lag',
    help: 'Messages behind the log end, by consumer group and topic (absent for a group that never committed)',
    labelNames: ['group', 'topic'] as const,
    registers: [registry],
    async collect() {
      try {
        const lags = await read();
        this.reset();
        for (const l of lags) if (l.lag !== undefined) this.set({ group: l.group, topic: l.topic }, l.lag);
      } catch {
        errors.inc({ collector: 'kafka_consumer_lag' });
      }
    },
  });
}

export interface BatchVisibilitySnapshot {
  /** Open batch workflows by RteBatchStatus. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Seconds since the oldest RUNNING batch started processing (RteBatchStartedAt); 0 when none runs. */
  readonly oldestRunningAgeSeconds: number;
}

export function registerBatchVisibilityGauges(registry: Registry, read: () => Promise<BatchVisibilitySnapshot>): void {
  const errors = collectorErrors(registry);
  new Gauge({
    name: 'rte_batch_workflows',
    help: 'Open batch workflows by status (PENDING, WAITING, RUNNING, PAUSED), from Temporal visibility',
    labelNames: ['status'] as const,
    registers: [registry],
    // Every API process reads the same visibility: several processes' scrapes (api/cluster.ts) agree, not add up.
    aggregator: 'max',
    async collect() {
      try {
        const v = await read();
        for (const [status, n] of Object.entries(v.byStatus)) this.set({ status }, n);
        oldest.set(v.oldestRunningAgeSeconds);
      } catch {
        errors.inc({ collector: 'batch_visibility' });
      }
    },
  });
  const oldest = new Gauge({
    name: 'rte_batch_oldest_running_age_seconds',
    help: 'Seconds the oldest RUNNING batch has been processing (RteBatchStartedAt in Temporal visibility)',
    registers: [registry],
    aggregator: 'max',
  });
}
