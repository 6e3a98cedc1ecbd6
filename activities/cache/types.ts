import type { CoverageSummary } from '../../lib/coverage-summary';

export type CacheSource = 'realtime' | 'batch' | 'warming';
export type CacheOutcome = 'success' | 'error';

/** What the cache holds for one member + operation. Times are epoch milliseconds. */
export interface EligibilityCacheEntry {
  readonly summary: CoverageSummary;
  readonly fetchedAt: number;
  /** End of the logical TTL (22 h success / 5 min error); the entry stays readable longer for stale serving. */
  readonly expiresAt: number;
  readonly source: CacheSource;
  readonly stediCheckId?: string;
  readonly outcome: CacheOutcome;
}

export interface MemberOperation {
  readonly memberId: string;
  /** RTE operation being cached, e.g. "coverage". Must not contain ':'. */
  readonly operation: string;
}

export interface CachePutInput extends MemberOperation {
  readonly summary: CoverageSummary;
  readonly outcome: CacheOutcome;
  readonly source: CacheSource;
  readonly stediCheckId?: string;
  /** When Stedi produced the answer (epoch ms); expiresAt is derived from it and the outcome's TTL. */
  readonly fetchedAt: number;
}

export type CachePutResult =
  | { readonly written: true; readonly entry: EligibilityCacheEntry }
  /** newer-entry: the cache already holds a later answer. fresh-success-kept: an error never replaces a success that is still fresh. */
  | { readonly written: false; readonly reason: 'newer-entry' | 'fresh-success-kept'; readonly entry: EligibilityCacheEntry };

/** Port over the eligibility cache; keys never contain raw member ids. */
export interface EligibilityCache {
  get(memberId: string, operation: string): Promise<EligibilityCacheEntry | null>;
  /** Bulk lookup; result[i] answers pairs[i]. */
  getMany(pairs: readonly MemberOperation[]): Promise<(EligibilityCacheEntry | null)[]>;
  put(input: CachePutInput): Promise<CachePutResult>;
  /**
   * Several puts, each exactly as `put` (the same conditional write), in one round trip where the store can;
   * result[i] settles inputs[i]. Optional: callers fall back to `put` one by one.
   */
  putMany?(inputs: readonly CachePutInput[]): Promise<PromiseSettledResult<CachePutResult>[]>;
  /** Drops the entry (manual invalidation). */
  invalidate(memberId: string, operation: string): Promise<void>;
  /**
   * At most one caller wins until `ttlSeconds` pass or releaseRefresh is called: a stale-while-revalidate
   * hit starts a background refresh only if it wins. The claim is not owner-checked on release.
   */
  tryClaimRefresh(memberId: string, operation: string, ttlSeconds: number): Promise<boolean>;
  releaseRefresh(memberId: string, operation: string): Promise<void>;
}

export interface CacheTtl {
  readonly successSeconds: number;
  readonly errorSeconds: number;
}

export const DEFAULT_CACHE_TTL: CacheTtl = Object.freeze({ successSeconds: 22 * 3600, errorSeconds: 5 * 60 });
export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;
