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
  /**
   * On an expired success only: the payer's "retry later" answer (AAA 42/79/80) of the last live check, stored beside
   * the good answer instead of replacing it (a transient payer outage must not take coverage data away). Inside its
   * own TTL (`expiresAt`, the error TTL) it is the negative cache: reads answer the success as STALE with this error in
   * `errors`, without a Stedi call. Entries written before this field existed simply lack it.
   */
  readonly lastPayerError?: PayerErrorRecord;
}

/** A cached payer error kept beside a success (see `EligibilityCacheEntry.lastPayerError`). */
export interface PayerErrorRecord {
  readonly summary: CoverageSummary;
  readonly fetchedAt: number;
  readonly expiresAt: number;
  readonly source: CacheSource;
  readonly stediCheckId?: string;
}

/** The payer error kept beside `entry`, as an error entry of its own (what the cache held before it was kept apart). */
export function payerErrorEntry(entry: EligibilityCacheEntry): EligibilityCacheEntry | undefined {
  const e = entry.lastPayerError;
  if (entry.outcome !== 'success' || !e) return undefined;
  return { summary: e.summary, fetchedAt: e.fetchedAt, expiresAt: e.expiresAt, source: e.source, ...(e.stediCheckId !== undefined ? { stediCheckId: e.stediCheckId } : {}), outcome: 'error' };
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
  /**
   * An error that says "retry later" (payer connectivity, AAA 42/79/80): it never replaces a success, fresh or
   * expired; over an expired success it is kept beside it (`lastPayerError`). A definitive error (AAA 72/73/75 and the
   * other "do not resubmit" answers) is the payer's answer about the member and replaces an expired success.
   */
  readonly retryLater?: boolean;
}

export type CachePutResult =
  /**
   * keptBesideSuccess: a "retry later" error stored beside an expired success (`lastPayerError`); `entry` is the
   * error as written, what this check answered.
   */
  | { readonly written: true; readonly entry: EligibilityCacheEntry; readonly keptBesideSuccess?: true }
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
  /**
   * A person's live check is waiting on the refresh of this member + operation (it joined a background revalidation,
   * which runs in the batch slot class): for `ttlSeconds`, `isRefreshPromoted` says so, and the refresh activity moves
   * its slot request to the interactive class. Optional: without it, a joined revalidation keeps the batch class.
   */
  promoteRefresh?(memberId: string, operation: string, ttlSeconds: number): Promise<void>;
  isRefreshPromoted?(memberId: string, operation: string): Promise<boolean>;
}

export interface CacheTtl {
  readonly successSeconds: number;
  readonly errorSeconds: number;
}

export const DEFAULT_CACHE_TTL: CacheTtl = Object.freeze({ successSeconds: 22 * 3600, errorSeconds: 5 * 60 });
export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;
