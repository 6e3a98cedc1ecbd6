/**
 * The RTE operation whose answers the cache holds by default: a Stedi real-time check for service type 30
 * (health benefit plan coverage). CheckEligibility, batches and warming all default to it, so a batch
 * warms exactly the entries live users read. Part of the cache key and of refresh workflow ids.
 */
export const DEFAULT_ELIGIBILITY_OPERATION = 'check_eligibility';

/**
 * The batch-class client service of a STALE_WHILE_REVALIDATE background refresh. Such a refresh waits for its slot in
 * the batch class, unless a person's live check joins it (same workflow id): then it moves to the interactive class
 * (EligibilityCache.promoteRefresh, read by the refresh activity while it waits).
 */
export const REVALIDATE_CLIENT_SERVICE = 'rte-revalidate';

/**
 * The operations a client may name (CheckEligibility `operation`, WarmCache `operations`, member-cron predictions)
 * → the cache entry that holds their answer. The cache keeps one entry kind, the eligibility check: coverage,
 * benefits and cost estimates are all read from that one 271 answer, so every operation here reads (and warms) the
 * same entry, and a warm of one serves all of them. An operation not listed is refused (never a silent new entry).
 */
export const CACHE_OPERATION_OF: Readonly<Record<string, string>> = Object.freeze({
  [DEFAULT_ELIGIBILITY_OPERATION]: DEFAULT_ELIGIBILITY_OPERATION,
  get_coverage: DEFAULT_ELIGIBILITY_OPERATION,
  get_benefits: DEFAULT_ELIGIBILITY_OPERATION,
  estimate_cost: DEFAULT_ELIGIBILITY_OPERATION,
});

export const KNOWN_OPERATIONS: readonly string[] = Object.freeze(Object.keys(CACHE_OPERATION_OF));

/** The cache entry `operation` reads, or undefined for an operation the platform does not know. */
export function cacheOperationOf(operation: string): string | undefined {
  return Object.hasOwn(CACHE_OPERATION_OF, operation) ? CACHE_OPERATION_OF[operation] : undefined;
}
