import { createClient, createRouterTransport } from '@connectrpc/connect';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry } from '../../activities/cache';
import type { CoverageSummary } from '../../lib/coverage-summary';
import { ACTIVE_COVERAGE } from '../../test/helpers/coverage-fixtures';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { createEligibilityService } from './eligibility-service';

const NOW = Date.parse('2024-11-15T09:30:00Z');
const summary: CoverageSummary = ACTIVE_COVERAGE;

/** Issue 14: a frozen (memoized) cache entry's metadata message is shared only while its age in seconds is the same. */
describe('CheckEligibility cache metadata of a memoized entry', () => {
  it('answers within one second share the metadata; the next second shows the new age', async () => {
    const entry: EligibilityCacheEntry = Object.freeze({ summary, fetchedAt: NOW - 10_500, expiresAt: NOW + 3_600_000, source: 'warming', outcome: 'success' });
    let now = NOW;
    const service = createEligibilityService({
      cache: { get: async () => entry, tryClaimRefresh: async () => false },
      refresher: { refresh: async () => Promise.reject(new Error('no refresh')), refreshInBackground: async () => undefined },
      memberHashSecret: 'memo-test',
      metrics: createMetrics('memo-test'),
      logger: silentLogger(),
      refreshWaitMs: 1000,
      now: () => now,
    });
    const client = createClient(EligibilityService, createRouterTransport((router) => router.service(EligibilityService, service)));
    const a = await client.checkEligibility({ memberId: 'MBR-1' });
    now += 400; // 10.9 s old: still 10 whole seconds
    const b = await client.checkEligibility({ memberId: 'MBR-1' });
    now += 200; // 11.1 s
    const c = await client.checkEligibility({ memberId: 'MBR-1' });
    expect([a.cacheMetadata?.ageSeconds, b.cacheMetadata?.ageSeconds, c.cacheMetadata?.ageSeconds]).toEqual([10, 10, 11]);
    expect(c.cacheMetadata).toMatchObject({ cached: true, source: 'warming', fetchedAt: { seconds: BigInt(Math.floor((NOW - 10_500) / 1000)), nanos: 500_000_000 } });
  });
});
