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
