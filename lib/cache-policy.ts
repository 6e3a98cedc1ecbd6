/**
 * Cache-control semantics of CheckEligibility (design doc, Component 2 "Cache Control Semantics") as one
 * pure decision: given the mode, the cached entry (or none) and now, what to do and which cache status to
 * report. Also the HTTP mapping (RFC 9111 request directives, RFC 5861 stale-while-revalidate).
 *
 * | mode                   | no entry       | fresh success | expired success                   | fresh error | expired error |
 * |------------------------|----------------|---------------|-----------------------------------|-------------|---------------|
 * | DEFAULT                | fetch MISS     | serve HIT     | fetch MISS                        | serve ERROR | fetch MISS    |
 * | CACHE_ONLY             | miss-error MISS| serve HIT     | serve STALE                       | serve ERROR | serve ERROR   |
 * | PREFER_CACHED          | fetch MISS     | serve HIT     | serve STALE                       | serve ERROR | fetch MISS    |
 * | BYPASS_CACHE           | fetch MISS     | fetch MISS    | fetch MISS                        | fetch MISS  | fetch MISS    |
 * | STALE_WHILE_REVALIDATE | fetch MISS     | serve HIT     | serve-and-refresh STALE (within the stale window, else fetch MISS) | serve ERROR | fetch MISS |
 *
 * An expired success with a "retry later" payer error kept beside it (`lastPayerError`, AAA 42/79/80) still inside
 * the error TTL: every mode but BYPASS_CACHE serves the success as STALE (with the error shown), without a Stedi
 * call and without a background refresh. That is the negative cache of a payer outage without losing the good
 * answer (before, the error replaced it). Once the kept error expires the entry is an expired success again.
 *
 * Choices where the doc is silent: a cached *error* inside its 5-minute TTL is served as ERROR by every
 * mode but BYPASS_CACHE (that is what negative caching is for: no Stedi call per retry during a payer
 * outage); an expired error is not "data", so only CACHE_ONLY serves it. STALE_WHILE_REVALIDATE caps how
 * stale an answer it returns (RFC 5861: the stale window, 24 h by default); PREFER_CACHED and CACHE_ONLY
 * serve any age the cache still holds, as the doc says ("even if past TTL").
 */

export type CacheMode = 'DEFAULT' | 'CACHE_ONLY' | 'PREFER_CACHED' | 'BYPASS_CACHE' | 'STALE_WHILE_REVALIDATE';
export const CACHE_MODES: readonly CacheMode[] = ['DEFAULT', 'CACHE_ONLY', 'PREFER_CACHED', 'BYPASS_CACHE', 'STALE_WHILE_REVALIDATE'];

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'ERROR';

/**
 * serve: answer from the entry. fetch: call Stedi now (through the single-flight refresh workflow) and
 * answer with its result. serve-and-refresh: answer from the entry and start one background refresh.
 * miss-error: answer "not cached" without calling Stedi (CACHE_ONLY miss; HTTP 504 semantics).
 */
export type CacheAction = 'serve' | 'fetch' | 'serve-and-refresh' | 'miss-error';

/** The parts of a cache entry the policy looks at. Times are epoch milliseconds. */
export interface CachePolicyEntry {
  readonly outcome: 'success' | 'error';
  readonly fetchedAt: number;
  readonly expiresAt: number;
  /** A "retry later" payer error kept beside an expired success (see the table above). */
  readonly lastPayerError?: { readonly expiresAt: number };
}

/** Whether `entry` is an expired success whose kept "retry later" payer error is still inside its TTL. */
export function hasFreshPayerError(entry: CachePolicyEntry | null | undefined, now: number): boolean {
  return !!entry && entry.outcome === 'success' && now >= entry.expiresAt && entry.lastPayerError !== undefined && now < entry.lastPayerError.expiresAt;
}

export interface CacheDecision {
  readonly action: CacheAction;
  /** Status to report when the answer is served as decided; a fetched answer reports MISS. */
  readonly cacheStatus: CacheStatus;
  /**
   * A fetch may fall back to the cached success if Stedi fails (stale-if-error). False for BYPASS_CACHE:
   * the caller asked for a live answer and should see the failure.
   */
  readonly staleFallbackAvailable: boolean;
}

export interface CachePolicyOptions {
  /** How long past its TTL an entry may be served by STALE_WHILE_REVALIDATE (and advertised over HTTP). */
  readonly staleWindowSeconds: number;
}

export const DEFAULT_CACHE_POLICY_OPTIONS: CachePolicyOptions = Object.freeze({ staleWindowSeconds: 24 * 3600 });

type EntryClass = 'none' | 'fresh-success' | 'expired-success' | 'fresh-error' | 'expired-error';

export function classifyEntry(entry: CachePolicyEntry | null | undefined, now: number): EntryClass {
  if (!entry) return 'none';
  const fresh = now < entry.expiresAt;
  if (entry.outcome === 'success') return fresh ? 'fresh-success' : 'expired-success';
  return fresh ? 'fresh-error' : 'expired-error';
}

export function decideCacheAction(
  mode: CacheMode,
  entry: CachePolicyEntry | null | undefined,
  now: number,
  options: CachePolicyOptions = DEFAULT_CACHE_POLICY_OPTIONS,
): CacheDecision {
  const cls = classifyEntry(entry, now);
  const fallback = mode !== 'BYPASS_CACHE' && (cls === 'fresh-success' || cls === 'expired-success');
  const d = (action: CacheAction, cacheStatus: CacheStatus): CacheDecision => ({ action, cacheStatus, staleFallbackAvailable: action === 'fetch' && fallback });
  if (mode !== 'BYPASS_CACHE' && hasFreshPayerError(entry, now)) return d('serve', 'STALE');
  switch (mode) {
    case 'BYPASS_CACHE':
      return d('fetch', 'MISS');
    case 'DEFAULT':
      if (cls === 'fresh-success') return d('serve', 'HIT');
      if (cls === 'fresh-error') return d('serve', 'ERROR');
      return d('fetch', 'MISS');
    case 'CACHE_ONLY':
      if (cls === 'none') return d('miss-error', 'MISS');
      if (cls === 'fresh-success') return d('serve', 'HIT');
      if (cls === 'expired-success') return d('serve', 'STALE');
      return d('serve', 'ERROR');
    case 'PREFER_CACHED':
      if (cls === 'fresh-success') return d('serve', 'HIT');
      if (cls === 'expired-success') return d('serve', 'STALE');
      if (cls === 'fresh-error') return d('serve', 'ERROR');
      return d('fetch', 'MISS');
    case 'STALE_WHILE_REVALIDATE':
      if (cls === 'fresh-success') return d('serve', 'HIT');
      if (cls === 'fresh-error') return d('serve', 'ERROR');
      if (cls === 'expired-success' && now - entry!.expiresAt <= options.staleWindowSeconds * 1000) return d('serve-and-refresh', 'STALE');
      return d('fetch', 'MISS');
    default: {
      const never: never = mode;
      throw new RangeError(`unknown cache mode ${String(never)}`);
    }
  }
}

/** Age of the entry in whole seconds (for the response's cache metadata). */
export function entryAgeSeconds(entry: CachePolicyEntry, now: number): number {
  return Math.max(0, Math.floor((now - entry.fetchedAt) / 1000));
}

/**
 * Response `Cache-Control` for an answer built from `entry` (or fetched and just stored as `entry`).
 * Always `private`: eligibility answers are member health data and must not sit in shared caches.
 * Success: `private, max-age=<seconds left>, stale-while-revalidate=<stale window left>`. Error: only
 * the remaining error TTL (errors are not served stale). No entry (e.g. a CACHE_ONLY miss): `no-store`.
 */
export function httpCacheControlHeader(
  entry: CachePolicyEntry | null | undefined,
  now: number,
  options: CachePolicyOptions = DEFAULT_CACHE_POLICY_OPTIONS,
): string {
  if (!entry) return 'no-store';
  const leftMs = entry.expiresAt - now;
  const maxAge = Math.max(0, Math.floor(leftMs / 1000));
  if (entry.outcome === 'error') return `private, max-age=${maxAge}`;
  const staleLeft = leftMs >= 0 ? options.staleWindowSeconds : Math.max(0, Math.floor((options.staleWindowSeconds * 1000 + leftMs) / 1000));
  return `private, max-age=${maxAge}, stale-while-revalidate=${staleLeft}`;
}

/**
 * Request `Cache-Control` → mode, or undefined when the header selects nothing (keep the request's mode).
 * `only-if-cached` → CACHE_ONLY (it wins: it forbids contacting the origin); `no-cache` / `no-store` / `max-age=0`
 * (RFC 9111: no stored answer is fresh enough; Firefox's reload sends it) → BYPASS_CACHE; `max-stale` →
 * PREFER_CACHED. Other directives (`max-age` above 0, `min-fresh`, `no-transform`) have no mode: the message's
 * mode decides. The same on every transport (Connect POST and GET, gRPC metadata).
 */
export function parseRequestCacheControl(header: string | readonly string[] | null | undefined): CacheMode | undefined {
  if (header === null || header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join(',');
  const directives = new Map(
    text
      .split(',')
      .map((d) => d.split('='))
      .map(([name, value]) => [name!.trim().toLowerCase(), value?.trim().replace(/^"(.*)"$/, '$1')] as const)
      .filter(([name]) => name.length > 0),
  );
  if (directives.has('only-if-cached')) return 'CACHE_ONLY';
  if (directives.has('no-cache') || directives.has('no-store')) return 'BYPASS_CACHE';
  if (directives.has('max-age') && Number(directives.get('max-age')) === 0 && directives.get('max-age') !== '') return 'BYPASS_CACHE';
  if (directives.has('max-stale')) return 'PREFER_CACHED';
  return undefined;
}
