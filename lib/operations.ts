/**
 * The RTE operation whose answers the cache holds by default: a Stedi real-time check for service type 30
 * (health benefit plan coverage). CheckEligibility, batches and warming all default to it, so a batch
 * warms exactly the entries live users read. Part of the cache key and of refresh workflow ids.
 */
export const DEFAULT_ELIGIBILITY_OPERATION = 'check_eligibility';
