import { CACHE_MODES, decideCacheAction, entryAgeSeconds, httpCacheControlHeader, parseRequestCacheControl, type CacheMode, type CachePolicyEntry } from './cache-policy';

const NOW = Date.parse('2026-03-02T08:00:00Z');
const H = 3600_000;
const entries: Record<string, CachePolicyEntry | null> = {
  'no entry': null,
  'fresh success': { outcome: 'success', fetchedAt: NOW - 2 * H, expiresAt: NOW + 20 * H },
  'expired success': { outcome: 'success', fetchedAt: NOW - 23 * H, expiresAt: NOW - 1 * H },
  'fresh error': { outcome: 'error', fetchedAt: NOW - 60_000, expiresAt: NOW + 240_000 },
  'expired error': { outcome: 'error', fetchedAt: NOW - 600_000, expiresAt: NOW - 300_000 },
  // Finding 13.1: a "retry later" payer error kept beside the expired answer instead of replacing it.
  'expired success + fresh kept error': { outcome: 'success', fetchedAt: NOW - 23 * H, expiresAt: NOW - 1 * H, lastPayerError: { expiresAt: NOW + 240_000 } },
  'expired success + expired kept error': { outcome: 'success', fetchedAt: NOW - 23 * H, expiresAt: NOW - 1 * H, lastPayerError: { expiresAt: NOW - 1 } },
};

// [mode, entry, action, cacheStatus]
const table: [CacheMode, keyof typeof entries, string, string][] = [
  ['DEFAULT', 'no entry', 'fetch', 'MISS'],
  ['DEFAULT', 'fresh success', 'serve', 'HIT'],
  ['DEFAULT', 'expired success', 'fetch', 'MISS'],
  ['DEFAULT', 'fresh error', 'serve', 'ERROR'],
  ['DEFAULT', 'expired error', 'fetch', 'MISS'],
  ['CACHE_ONLY', 'no entry', 'miss-error', 'MISS'],
  ['CACHE_ONLY', 'fresh success', 'serve', 'HIT'],
  ['CACHE_ONLY', 'expired success', 'serve', 'STALE'],
  ['CACHE_ONLY', 'fresh error', 'serve', 'ERROR'],
  ['CACHE_ONLY', 'expired error', 'serve', 'ERROR'],
  ['PREFER_CACHED', 'no entry', 'fetch', 'MISS'],
  ['PREFER_CACHED', 'fresh success', 'serve', 'HIT'],
  ['PREFER_CACHED', 'expired success', 'serve', 'STALE'],
  ['PREFER_CACHED', 'fresh error', 'serve', 'ERROR'],
  ['PREFER_CACHED', 'expired error', 'fetch', 'MISS'],
  ['BYPASS_CACHE', 'no entry', 'fetch', 'MISS'],
  ['BYPASS_CACHE', 'fresh success', 'fetch', 'MISS'],
  ['BYPASS_CACHE', 'expired success', 'fetch', 'MISS'],
  ['BYPASS_CACHE', 'fresh error', 'fetch', 'MISS'],
  ['BYPASS_CACHE', 'expired error', 'fetch', 'MISS'],
  ['STALE_WHILE_REVALIDATE', 'no entry', 'fetch', 'MISS'],
  ['STALE_WHILE_REVALIDATE', 'fresh success', 'serve', 'HIT'],
  ['STALE_WHILE_REVALIDATE', 'expired success', 'serve-and-refresh', 'STALE'],
  ['STALE_WHILE_REVALIDATE', 'fresh error', 'serve', 'ERROR'],
  ['STALE_WHILE_REVALIDATE', 'expired error', 'fetch', 'MISS'],
  // Inside the kept error's TTL: the old answer as STALE without a Stedi call (no background refresh either); only
  // BYPASS_CACHE calls Stedi. After it, an expired success like any other.
  ['DEFAULT', 'expired success + fresh kept error', 'serve', 'STALE'],
  ['CACHE_ONLY', 'expired success + fresh kept error', 'serve', 'STALE'],
  ['PREFER_CACHED', 'expired success + fresh kept error', 'serve', 'STALE'],
  ['BYPASS_CACHE', 'expired success + fresh kept error', 'fetch', 'MISS'],
  ['STALE_WHILE_REVALIDATE', 'expired success + fresh kept error', 'serve', 'STALE'],
  ['DEFAULT', 'expired success + expired kept error', 'fetch', 'MISS'],
  ['CACHE_ONLY', 'expired success + expired kept error', 'serve', 'STALE'],
  ['PREFER_CACHED', 'expired success + expired kept error', 'serve', 'STALE'],
  ['BYPASS_CACHE', 'expired success + expired kept error', 'fetch', 'MISS'],
  ['STALE_WHILE_REVALIDATE', 'expired success + expired kept error', 'serve-and-refresh', 'STALE'],
];

describe('decideCacheAction', () => {
  it('covers every mode × entry state', () => {
    expect(table).toHaveLength(CACHE_MODES.length * Object.keys(entries).length);
  });

  it.each(table)('%s with %s → %s %s', (mode, entry, action, cacheStatus) => {
    const d = decideCacheAction(mode, entries[entry], NOW);
    expect({ action: d.action, cacheStatus: d.cacheStatus }).toEqual({ action, cacheStatus });
  });

  it('a kept payer error on a still-fresh success changes nothing (the fresh answer is a HIT)', () => {
    const e: CachePolicyEntry = { outcome: 'success', fetchedAt: NOW - 2 * H, expiresAt: NOW + 20 * H, lastPayerError: { expiresAt: NOW + 240_000 } };
    for (const mode of CACHE_MODES) expect(decideCacheAction(mode, e, NOW)).toEqual(decideCacheAction(mode, entries['fresh success'], NOW));
  });

  it('a fetch once the kept error expired may fall back to the expired answer; BYPASS_CACHE never does', () => {
    expect(decideCacheAction('DEFAULT', entries['expired success + expired kept error'], NOW).staleFallbackAvailable).toBe(true);
    expect(decideCacheAction('BYPASS_CACHE', entries['expired success + fresh kept error'], NOW).staleFallbackAvailable).toBe(false);
  });

  it('CACHE_ONLY never asks for a Stedi call', () => {
    for (const e of Object.values(entries)) expect(decideCacheAction('CACHE_ONLY', e, NOW).action).not.toBe('fetch');
  });

  it('treats the exact expiry instant as expired', () => {
    const e: CachePolicyEntry = { outcome: 'success', fetchedAt: NOW - 22 * H, expiresAt: NOW };
    expect(decideCacheAction('DEFAULT', e, NOW).action).toBe('fetch');
    expect(decideCacheAction('DEFAULT', e, NOW - 1).action).toBe('serve');
  });

  it('STALE_WHILE_REVALIDATE stops serving stale data past the stale window and fetches instead', () => {
    const veryOld: CachePolicyEntry = { outcome: 'success', fetchedAt: NOW - 72 * H, expiresAt: NOW - 50 * H };
    expect(decideCacheAction('STALE_WHILE_REVALIDATE', veryOld, NOW)).toMatchObject({ action: 'fetch', cacheStatus: 'MISS' });
    expect(decideCacheAction('STALE_WHILE_REVALIDATE', veryOld, NOW, { staleWindowSeconds: 7 * 24 * 3600 })).toMatchObject({ action: 'serve-and-refresh' });
    // PREFER_CACHED and CACHE_ONLY still serve it ("even if past TTL").
    expect(decideCacheAction('PREFER_CACHED', veryOld, NOW).action).toBe('serve');
    expect(decideCacheAction('CACHE_ONLY', veryOld, NOW).action).toBe('serve');
  });

  it('offers a stale fallback for a failed fetch only when a success is cached and the caller did not bypass', () => {
    expect(decideCacheAction('DEFAULT', entries['expired success'], NOW).staleFallbackAvailable).toBe(true);
    expect(decideCacheAction('BYPASS_CACHE', entries['fresh success'], NOW).staleFallbackAvailable).toBe(false);
    expect(decideCacheAction('DEFAULT', entries['expired error'], NOW).staleFallbackAvailable).toBe(false);
    expect(decideCacheAction('DEFAULT', null, NOW).staleFallbackAvailable).toBe(false);
  });

  it('reports the entry age in seconds', () => {
    expect(entryAgeSeconds(entries['fresh success']!, NOW)).toBe(7200);
  });
});

describe('httpCacheControlHeader', () => {
  it.each([
    ['fresh success', 'private, max-age=72000, stale-while-revalidate=86400'],
    ['expired success', 'private, max-age=0, stale-while-revalidate=82800'],
    ['fresh error', 'private, max-age=240'],
    ['expired error', 'private, max-age=0'],
    ['no entry', 'no-store'],
  ] as const)('%s → %s', (entry, header) => {
    expect(httpCacheControlHeader(entries[entry], NOW)).toBe(header);
  });

  it('advertises no stale window once the entry is past it', () => {
    const veryOld: CachePolicyEntry = { outcome: 'success', fetchedAt: NOW - 72 * H, expiresAt: NOW - 50 * H };
    expect(httpCacheControlHeader(veryOld, NOW)).toBe('private, max-age=0, stale-while-revalidate=0');
  });
});

describe('parseRequestCacheControl', () => {
  it.each([
    ['only-if-cached', 'CACHE_ONLY'],
    ['no-cache', 'BYPASS_CACHE'],
    ['no-store', 'BYPASS_CACHE'],
    ['No-Cache, max-age=0', 'BYPASS_CACHE'],
    ['max-stale=3600', 'PREFER_CACHED'],
    ['no-cache, only-if-cached', 'CACHE_ONLY'],
    ['max-age=60', undefined],
    ['max-age=0', 'BYPASS_CACHE'],
    ['max-age="0", max-stale', 'BYPASS_CACHE'],
    ['max-age', undefined],
    ['', undefined],
  ] as const)('%j → %s', (header, mode) => {
    expect(parseRequestCacheControl(header)).toBe(mode);
  });

  it('accepts repeated headers and a missing header', () => {
    expect(parseRequestCacheControl(['max-age=0', 'only-if-cached'])).toBe('CACHE_ONLY');
    expect(parseRequestCacheControl(undefined)).toBeUndefined();
  });
});
