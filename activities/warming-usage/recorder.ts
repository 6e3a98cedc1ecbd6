import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger';
import { DEFAULT_WARM_HORIZON_MS, HIT_RESULTS } from '../../lib/warming/stats';
import type { CacheSource } from '../cache/types';
import type { ReadCountDelta, ReadResult, WarmUsageStore, WarmUse } from './ports';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** One interactive CheckEligibility read, as the API saw it. */
export interface InteractiveRead {
  memberHash: string;
  /** Cache operation key (operation plus request overrides). */
  operation: string;
  /** When the request started (epoch ms). */
  at: number;
  result: ReadResult;
  /** The cache entry consulted before any live check (null: nothing cached). */
  entry: { source: CacheSource; fetchedAt: number } | null;
}

/**
 * Whether a read counts as "warmed": the entry it consulted was written by a warm (source 'warming') and the read
 * falls inside the warm's default horizon (completion + 24 h). The entry itself is the cheap proof: no extra
 * Redis or PostgreSQL round trip per read. A warm whose entry was since overwritten by a live check no longer
 * counts (the read is then served by that live answer, not by the warm). docs/warming-stats.md.
 */
export function isWarmedRead(entry: InteractiveRead['entry'], at: number, horizonMs = DEFAULT_WARM_HORIZON_MS): boolean {
  return entry !== null && entry.source === 'warming' && at >= entry.fetchedAt && at < entry.fetchedAt + horizonMs;
}

export interface WarmUsageRecorder {
  /** Buffers the read; returns at once and never throws. */
  record(read: InteractiveRead): void;
  /** Writes what is buffered (one statement per table). Never rejects; failures are logged and counted. */
  flush(): Promise<void>;
  /** Stops the timer and flushes. */
  close(): Promise<void>;
}

export interface WarmUsageRecorderOptions {
  store: WarmUsageStore;
  registry: Registry;
  logger: Logger;
  clock?: () => number;
  /** How often buffered reads are written (default 1 s). 0 = only on flush() (tests). */
  flushIntervalMs?: number;
  /** Distinct buffered first uses before new ones are dropped (counted) rather than growing memory. Default 10,000. */
  maxPendingUses?: number;
  /** Window of the rte_cache_hit_rate gauge (default 15 min). */
  hitRateWindowMs?: number;
}

/**
 * Warm-usage recording on the interactive read path. `record` only updates in-memory maps; a timer writes them in
 * batches (one UPDATE for first uses, one upsert for hourly read counts), so a read never waits for PostgreSQL and a
 * PostgreSQL failure never fails a read (the batch is dropped, logged and counted; counts are a measurement, not a
 * ledger). Keys already marked are remembered (bounded) so a popular warmed entry is sent once, not per read.
 */
export function createWarmUsageRecorder(opts: WarmUsageRecorderOptions): WarmUsageRecorder {
  const clock = opts.clock ?? Date.now;
  const maxPendingUses = opts.maxPendingUses ?? 10_000;
  const windowMs = opts.hitRateWindowMs ?? 15 * MINUTE_MS;
  const reg = [opts.registry];

  const hits = new Counter({
    name: 'rte_cache_hit_total',
    help: 'Interactive CheckEligibility reads answered from the cache (HIT or STALE), by whether the entry came from a warm within its horizon',
    labelNames: ['warmed'] as const,
    registers: reg,
  });
  const reads = new Counter({
    name: 'rte_cache_reads_total',
    help: 'Interactive CheckEligibility reads that consulted the cache (BYPASS_CACHE excluded), by warmed and cache result',
    labelNames: ['warmed', 'result'] as const,
    registers: reg,
  });
  const writes = new Counter({
    name: 'rte_warm_usage_writes_total',
    help: 'Batched warm-usage writes to PostgreSQL (first_use: cache_warms.first_used_at; read_counts: cache_read_counts), by result',
    labelNames: ['kind', 'result'] as const,
    registers: reg,
  });
  const dropped = new Counter({
    name: 'rte_warm_usage_dropped_total',
    help: 'Warm first uses not recorded because the in-memory buffer was full',
    registers: reg,
  });

  /** minute start → [warmedHits, warmedReads, coldHits, coldReads] */
  const minutes = new Map<number, [number, number, number, number]>();
  new Gauge({
    name: 'rte_cache_hit_rate',
    help: 'Share of interactive reads answered from the cache (HIT or STALE) over the last window (default 15 min), warmed vs not warmed; this replica only. Absent without reads.',
    labelNames: ['warmed'] as const,
    registers: reg,
    collect() {
      const from = clock() - windowMs;
      const sum = [0, 0, 0, 0];
      for (const [minute, c] of minutes) {
        if (minute + MINUTE_MS <= from) {
          minutes.delete(minute);
          continue;
        }
        for (let i = 0; i < 4; i++) sum[i]! += c[i]!;
      }
      this.reset();
      if (sum[1]! > 0) this.set({ warmed: 'true' }, sum[0]! / sum[1]!);
      if (sum[3]! > 0) this.set({ warmed: 'false' }, sum[2]! / sum[3]!);
    },
  });

  let counts = new Map<string, ReadCountDelta>();
  let uses = new Map<string, WarmUse>();
  /** Keys whose first use is already in PostgreSQL (insertion-ordered; oldest evicted). */
  const marked = new Set<string>();
  const MARKED_MAX = 50_000;
  let flushing: Promise<void> | null = null;

  function record(read: InteractiveRead): void {
    try {
      const warmed = isWarmedRead(read.entry, read.at);
      const label = warmed ? 'true' : 'false';
      const hit = HIT_RESULTS.has(read.result);
      reads.inc({ warmed: label, result: read.result });
      if (hit) hits.inc({ warmed: label });
      const minute = read.at - (read.at % MINUTE_MS);
      const m = minutes.get(minute) ?? [0, 0, 0, 0];
      minutes.set(minute, m);
      m[warmed ? 1 : 3]!++;
      if (hit) m[warmed ? 0 : 2]!++;

      const hourMs = read.at - (read.at % HOUR_MS);
      const ck = `${hourMs}|${label}|${read.result}`;
      const c = counts.get(ck);
      if (c) c.reads++;
      else counts.set(ck, { hourMs, warmed, result: read.result, reads: 1 });

      if (read.entry?.source === 'warming' && (read.result === 'HIT' || read.result === 'STALE')) {
        const uk = `${read.memberHash}|${read.operation}|${read.entry.fetchedAt}`;
        if (marked.has(uk)) return;
        const prev = uses.get(uk);
        if (prev) {
          if (read.at < prev.usedAt) uses.set(uk, { ...prev, usedAt: read.at, result: read.result });
        } else if (uses.size >= maxPendingUses) {
          dropped.inc();
        } else {
          uses.set(uk, { memberHash: read.memberHash, operation: read.operation, entryFetchedAt: read.entry.fetchedAt, usedAt: read.at, result: read.result });
        }
      }
    } catch (err) {
      opts.logger.warn({ err }, 'warm usage: read not recorded');
    }
  }

  async function writeOnce(): Promise<void> {
    const batchCounts = [...counts.values()];
    const batchUses = uses;
    counts = new Map();
    uses = new Map();
    const tasks: Promise<void>[] = [];
    if (batchUses.size > 0) {
      tasks.push(
        opts.store.markFirstUse([...batchUses.values()]).then(
          () => {
            writes.inc({ kind: 'first_use', result: 'ok' });
            for (const k of batchUses.keys()) {
              marked.add(k);
              if (marked.size > MARKED_MAX) marked.delete(marked.values().next().value as string);
            }
          },
          (err: unknown) => {
            writes.inc({ kind: 'first_use', result: 'error' });
            opts.logger.warn({ err, uses: batchUses.size }, 'warm usage: first uses not recorded');
          },
        ),
      );
    }
    if (batchCounts.length > 0) {
      tasks.push(
        opts.store.addReadCounts(batchCounts).then(
          () => void writes.inc({ kind: 'read_counts', result: 'ok' }),
          (err: unknown) => {
            writes.inc({ kind: 'read_counts', result: 'error' });
            opts.logger.warn({ err }, 'warm usage: read counts not recorded');
          },
        ),
      );
    }
    await Promise.all(tasks);
  }

  function flush(): Promise<void> {
    // One write at a time: reads recorded meanwhile wait for the next flush.
    flushing ??= writeOnce()
      .catch((err: unknown) => opts.logger.warn({ err }, 'warm usage: flush failed'))
      .finally(() => {
        flushing = null;
      });
    return flushing;
  }

  const interval = opts.flushIntervalMs ?? 1_000;
  const timer = interval > 0 ? setInterval(() => void flush(), interval) : undefined;
  timer?.unref();

  return {
    record,
    flush,
    async close() {
      if (timer) clearInterval(timer);
      await flush();
      await flush();
    },
  };
}
