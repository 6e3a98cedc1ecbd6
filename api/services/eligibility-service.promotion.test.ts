/**
 * Review13 #5: a live check (a person waiting) marks the member's refresh interactive, so a background revalidation it
 * joins (same workflow id, batch slot class) moves to the interactive slot class (activities/eligibility: the refresh
 * reads the mark while it waits). Answers served from the cache mark nothing.
 */
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry } from '../../activities/cache';
import { ACTIVE_COVERAGE } from '../../test/helpers/coverage-fixtures';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { createEligibilityService } from './eligibility-service';

const NOW = Date.parse('2024-11-15T09:30:00Z');
const HOUR = 3_600_000;
const expired: EligibilityCacheEntry = { summary: ACTIVE_COVERAGE, fetchedAt: NOW - 23 * HOUR, expiresAt: NOW - HOUR, source: 'realtime', outcome: 'success' };
const fresh: EligibilityCacheEntry = { ...expired, fetchedAt: NOW, expiresAt: NOW + 22 * HOUR };

function setup() {
  let stored: EligibilityCacheEntry | null = expired;
  const marks: [string, string, number][] = [];
  const started: { kind: 'live' | 'background'; input: EligibilityRefreshInput }[] = [];
  const service = createEligibilityService({
    cache: {
      get: async () => stored,
      tryClaimRefresh: async () => true,
      promoteRefresh: async (memberId, operation, ttl) => void marks.push([memberId, operation, ttl]),
    },
    refresher: {
      refresh: async (input) => {
        started.push({ kind: 'live', input });
        stored = fresh;
        return { outcome: 'success', fetchedAt: fresh.fetchedAt, expiresAt: fresh.expiresAt };
      },
      refreshInBackground: async (input) => void started.push({ kind: 'background', input }),
    },
    memberHashSecret: 'h',
    metrics: createMetrics('test-api'),
    logger: silentLogger(),
    refreshWaitMs: 1000,
    now: () => NOW,
  });
  const client = createClient(EligibilityService, createRouterTransport((router) => router.service(EligibilityService, service)));
  return { client, marks, started, reset: (e: EligibilityCacheEntry | null) => (stored = e) };
}

describe('CheckEligibility marks a live check interactive for a revalidation it joins', () => {
  it('a STALE_WHILE_REVALIDATE hit starts the revalidation unmarked; the DEFAULT live check after it marks the member + operation', async () => {
    const { client, marks, started, reset } = setup();
    const swr = await client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.STALE_WHILE_REVALIDATE });
    expect(swr.cacheStatus).toBe(CacheStatus.STALE);
    await new Promise((r) => setImmediate(r));
    expect(started.map((s) => [s.kind, s.input.requester])).toEqual([['background', { kind: 'batch', clientService: 'rte-revalidate', priority: 'HIGH' }]]);
    expect(marks).toEqual([]);

    reset(expired);
    const live = await client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.DEFAULT, serviceTypeCodes: ['35'] });
    expect(live.cacheStatus).toBe(CacheStatus.MISS);
    expect(marks).toEqual([['MBR-1', 'check_eligibility.stc-35', 120]]);
    expect(started[1]).toMatchObject({ kind: 'live', input: { requester: { kind: 'interactive' }, operation: 'check_eligibility.stc-35' } });
  });

  it('a cached answer marks nothing', async () => {
    const { client, marks, reset } = setup();
    reset(fresh);
    for (const mode of [CacheControl.DEFAULT, CacheControl.CACHE_ONLY, CacheControl.PREFER_CACHED]) await client.checkEligibility({ memberId: 'MBR-1', cacheControl: mode });
    expect(marks).toEqual([]);
  });
});
