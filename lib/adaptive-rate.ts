/**
 * Adaptive batch rate (design doc, "Adaptive Rate Limiting"): batch work backs off as interactive load on
 * Stedi's real-time slots rises, so live users keep getting slots during the morning rush.
 *
 * The doc's sketch returns requests/second from the number of Stedi requests in flight (< 5 → 5/s,
 * < 10 → 2/s, otherwise pause). The slot pool needs a concurrency cap instead, and it measures load as
 * the slots held by *interactive* work: if batch's own in-flight calls counted, batch would throttle
 * itself to 10 of 15 slots and the pool could never be fully used when only batch work is waiting.
 * Thresholds are fractions of the pool size so the same tiers hold for any N (5/15 and 10/15 by default).
 *
 * Pure: no clocks, no I/O. The slot pool precomputes `adaptiveBatchCapTable` and hands it to its Lua
 * scripts, so the Redis side and this module can never disagree.
 */

export interface AdaptiveBatchConfig {
  /** Interactive load (fraction of the pool) at which batch is throttled. Default 1/3 (5 of 15). */
  readonly mediumLoadFraction: number;
  /** Interactive load (fraction of the pool) at which batch is paused. Default 2/3 (10 of 15). */
  readonly highLoadFraction: number;
  /** Share of batch's normal capacity allowed under medium load. Default 0.4 (the doc's 2/s ÷ 5/s). */
  readonly mediumBatchShare: number;
}

export const DEFAULT_ADAPTIVE_BATCH_CONFIG: AdaptiveBatchConfig = Object.freeze({
  mediumLoadFraction: 1 / 3,
  highLoadFraction: 2 / 3,
  mediumBatchShare: 0.4,
});

export type LoadTier = 'low' | 'medium' | 'high';

export interface AdaptiveBatchInput {
  /** Pool size N (15). */
  readonly limit: number;
  /** Slots batch may never take (kept for interactive users). */
  readonly reservedInteractive: number;
  /** Slots currently held by interactive work. */
  readonly interactiveInUse: number;
}

export interface AdaptiveBatchDecision {
  readonly tier: LoadTier;
  /** Maximum batch calls that may be in flight at this load (0 = batch paused). */
  readonly maxBatchInFlight: number;
}

function validate(limit: number, reservedInteractive: number, config: AdaptiveBatchConfig): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  if (!Number.isInteger(reservedInteractive) || reservedInteractive < 0 || reservedInteractive > limit) {
    throw new RangeError(`reservedInteractive must be an integer in [0, limit], got ${reservedInteractive}`);
  }
  const { mediumLoadFraction: m, highLoadFraction: h, mediumBatchShare: s } = config;
  if (!(m > 0 && m <= h && h <= 1)) throw new RangeError('need 0 < mediumLoadFraction <= highLoadFraction <= 1');
  if (!(s >= 0 && s <= 1)) throw new RangeError('mediumBatchShare must be in [0, 1]');
}

export function loadTier(limit: number, interactiveInUse: number, config: AdaptiveBatchConfig = DEFAULT_ADAPTIVE_BATCH_CONFIG): LoadTier {
  // Integer thresholds (ceil) so 15 × 1/3 = 5 exactly, matching the doc's "< 5" and "< 10".
  const medium = Math.ceil(limit * config.mediumLoadFraction - 1e-9);
  const high = Math.ceil(limit * config.highLoadFraction - 1e-9);
  if (interactiveInUse < medium) return 'low';
  if (interactiveInUse < high) return 'medium';
  return 'high';
}

export function adaptiveBatchLimit(input: AdaptiveBatchInput, config: AdaptiveBatchConfig = DEFAULT_ADAPTIVE_BATCH_CONFIG): AdaptiveBatchDecision {
  validate(input.limit, input.reservedInteractive, config);
  const batchShare = input.limit - input.reservedInteractive;
  const tier = loadTier(input.limit, Math.max(0, input.interactiveInUse), config);
  switch (tier) {
    case 'low':
      return { tier, maxBatchInFlight: batchShare };
    case 'medium':
      return { tier, maxBatchInFlight: Math.floor(batchShare * config.mediumBatchShare) };
    case 'high':
      return { tier, maxBatchInFlight: 0 };
  }
}

/**
 * Batch cap for every possible interactive load 0..limit (index = interactive slots in use). Handed to the
 * slot pool's Lua scripts as a lookup table.
 */
export function adaptiveBatchCapTable(limit: number, reservedInteractive: number, config: AdaptiveBatchConfig = DEFAULT_ADAPTIVE_BATCH_CONFIG): number[] {
  validate(limit, reservedInteractive, config);
  const table: number[] = [];
  for (let i = 0; i <= limit; i++) table.push(adaptiveBatchLimit({ limit, reservedInteractive, interactiveInUse: i }, config).maxBatchInFlight);
  return table;
}

/**
 * The doc's literal requests/second rule over total Stedi requests in flight, for pacing that is
 * rate-based rather than slot-based (e.g. a batch feeder). 15-slot tiers: < 5 → 5/s, < 10 → 2/s, else 0.
 */
export function adaptiveBatchRatePerSecond(usedSlots: number, limit = 15, config: AdaptiveBatchConfig = DEFAULT_ADAPTIVE_BATCH_CONFIG): number {
  switch (loadTier(limit, usedSlots, config)) {
    case 'low':
      return 5;
    case 'medium':
      return 2;
    case 'high':
      return 0;
  }
}

/** Default slots kept for interactive users: a fifth of the pool, at most 3 (3 of 15). */
export function defaultReservedInteractive(limit: number): number {
  return Math.min(3, Math.floor(limit / 5));
}
