import { DEFAULT_CACHE_TTL, type CachePutInput, type CachePutResult, type CacheTtl, type EligibilityCache, type EligibilityCacheEntry } from './types';

/**
 * In-process EligibilityCache with the Redis adapter's write rules, for unit tests of activities and the
 * API. `now` drives claim expiry (physical retention is not modelled).
 */
export function createInMemoryEligibilityCache(options: { ttl?: CacheTtl; now?: () => number } = {}): EligibilityCache & {
  readonly entries: ReadonlyMap<string, EligibilityCacheEntry>;
} {
  const ttl = options.ttl ?? DEFAULT_CACHE_TTL;
  const now = options.now ?? Date.now;
  const entries = new Map<string, EligibilityCacheEntry>();
  const claims = new Map<string, number>();
  const k = (memberId: string, operation: string): string => `${memberId}\u0000${operation}`;
  return {
    entries,
    get: (memberId, operation) => Promise.resolve(entries.get(k(memberId, operation)) ?? null),
    getMany: (pairs) => Promise.resolve(pairs.map((p) => entries.get(k(p.memberId, p.operation)) ?? null)),
    put(input: CachePutInput): Promise<CachePutResult> {
      const key = k(input.memberId, input.operation);
      const entry: EligibilityCacheEntry = {
        summary: input.summary,
        fetchedAt: input.fetchedAt,
        expiresAt: input.fetchedAt + (input.outcome === 'success' ? ttl.successSeconds : ttl.errorSeconds) * 1000,
        source: input.source,
        ...(input.stediCheckId !== undefined ? { stediCheckId: input.stediCheckId } : {}),
        outcome: input.outcome,
      };
      const cur = entries.get(key);
      if (cur && cur.fetchedAt > input.fetchedAt) return Promise.resolve({ written: false, reason: 'newer-entry', entry: cur });
      if (cur && input.outcome === 'error' && cur.outcome === 'success' && cur.expiresAt > input.fetchedAt) {
        return Promise.resolve({ written: false, reason: 'fresh-success-kept', entry: cur });
      }
      entries.set(key, entry);
      return Promise.resolve({ written: true, entry });
    },
    invalidate(memberId, operation) {
      entries.delete(k(memberId, operation));
      return Promise.resolve();
    },
    tryClaimRefresh(memberId, operation, ttlSeconds) {
      const key = k(memberId, operation);
      const until = claims.get(key);
      if (until !== undefined && until > now()) return Promise.resolve(false);
      claims.set(key, now() + ttlSeconds * 1000);
      return Promise.resolve(true);
    },
    releaseRefresh(memberId, operation) {
      claims.delete(k(memberId, operation));
      return Promise.resolve();
    },
  };
}
