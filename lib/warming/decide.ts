import { classifyEntry, hasFreshPayerError, type CachePolicyEntry } from '../cache-policy';
import { cacheOperationOf, DEFAULT_ELIGIBILITY_OPERATION } from '../operations';
import type { WarmingPriority, WarmingStrategyName } from './types';

/**
 * The design doc's warming strategies (Component 4) as one pure decision per member + operation, taken from the
 * entry of one bulk cache read. Table (first column = what the cache holds at decision time):
 *
 * | cache entry             | INTELLIGENT                         | FORCE     | FILL_ONLY             |
 * |-------------------------|-------------------------------------|-----------|-----------------------|
 * | none (miss)             | URGENT: real-time, else batch API   | real-time | batch API             |
 * | fresh success           | skip (skipped_fresh)                | real-time | skip (skipped_cached) |
 * | fresh payer error (5 m) | skip (skipped_fresh, negative cache)| real-time | skip (skipped_cached) |
 * | stale success + fresh   | skip (skipped_fresh, negative cache)| real-time | skip (skipped_cached) |
 * |   kept payer error (5 m)|                                     |           |                       |
 * | stale success or error  | batch API                           | real-time | skip (skipped_cached) |
 *
 * FORCE is BYPASS semantics: a live answer whatever the cache holds, written back to the cache. A fresh cached
 * payer error is skipped by INTELLIGENT for the same reason CheckEligibility serves it: no payer call per retry
 * during an outage. `priority` only changes INTELLIGENT misses (the doc's "miss → real-time if urgent").
 *
 * "Fresh" for INTELLIGENT means fresh through the use the warm is for (issue 11 tuning): with `freshThroughMs`
 * (the job's horizon, the end of the members' predicted usage window) an entry counts as fresh only if it is
 * still fresh at max(now, freshThroughMs); an entry fresh now that expires before the use is refreshed like a
 * stale one (batch API). Without it, fresh = fresh now. A miss is judged now (none is none at any time).
 */
export type WarmDecision =
  | { action: 'skip'; outcome: 'skipped_fresh' | 'skipped_cached'; reason: string }
  | { action: 'fetch'; path: 'realtime' | 'batch_api' };

export function decideWarm(
  strategy: WarmingStrategyName,
  priority: WarmingPriority,
  entry: CachePolicyEntry | null | undefined,
  nowMs: number,
  freshThroughMs?: number,
): WarmDecision {
  const cls = classifyEntry(entry, strategy === 'INTELLIGENT' && freshThroughMs !== undefined ? Math.max(nowMs, freshThroughMs) : nowMs);
  switch (strategy) {
    case 'FORCE':
      return { action: 'fetch', path: 'realtime' };
    case 'FILL_ONLY':
      if (cls === 'none') return { action: 'fetch', path: 'batch_api' };
      return { action: 'skip', outcome: 'skipped_cached', reason: cls.endsWith('error') ? 'a cached payer error is present (FILL_ONLY)' : 'an entry is cached (FILL_ONLY)' };
    case 'INTELLIGENT':
      if (cls === 'none') return { action: 'fetch', path: priority === 'URGENT' ? 'realtime' : 'batch_api' };
      if (cls === 'fresh-success') return { action: 'skip', outcome: 'skipped_fresh', reason: freshThroughMs !== undefined && freshThroughMs > nowMs ? 'entry fresh through the horizon' : 'fresh entry' };
      if (cls === 'fresh-error') return { action: 'skip', outcome: 'skipped_fresh', reason: 'cached payer error within its TTL' };
      // An expired answer kept through a payer outage, with the outage's "retry later" error beside it (still in its
      // TTL): the same negative cache as a fresh payer error, so no payer call per warm during the outage.
      if (hasFreshPayerError(entry, nowMs)) return { action: 'skip', outcome: 'skipped_fresh', reason: 'cached payer error within its TTL' };
      return { action: 'fetch', path: 'batch_api' };
    default: {
      const never: never = strategy;
      throw new RangeError(`unknown warming strategy ${String(never)}`);
    }
  }
}

/** Cache entries warming can fetch (each is one cache entry per member). Empty request = all of them. */
export const WARMABLE_OPERATIONS: readonly string[] = [DEFAULT_ELIGIBILITY_OPERATION];

/**
 * Requested operations (any of KNOWN_OPERATIONS) → the cache entries to warm, de-duplicated: `get_benefits` warms the
 * entry CheckEligibility reads for it (the eligibility check), once even when `check_eligibility` is asked too.
 */
export function resolveOperations(requested: readonly string[]): string[] {
  if (requested.length === 0) return [...WARMABLE_OPERATIONS];
  return [...new Set(requested.map((op) => cacheOperationOf(op) ?? op))];
}

/** Batch-workflow priority a warming child runs at (affects only its Stedi batch scheduling and events). */
export function batchPriorityFor(priority: WarmingPriority): 'HIGH' | 'NORMAL' | 'LOW' {
  return priority === 'URGENT' ? 'HIGH' : priority === 'PRELOAD' ? 'NORMAL' : 'LOW';
}

/** Default: a warm read within 24 h of the warm counts as used (design doc's prediction horizon). */
export const DEFAULT_WARM_HORIZON_MS = 24 * 3_600_000;
