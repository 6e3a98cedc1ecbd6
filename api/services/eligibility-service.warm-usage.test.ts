import { createClient, createRouterTransport } from '@connectrpc/connect';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry } from '../../activities/cache';
import type { InteractiveRead, WarmUsageRecorder } from '../../activities/warming-usage/recorder';
import type { CoverageSummary } from '../../lib/coverage-summary';
import { ACTIVE_COVERAGE } from '../../test/helpers/coverage-fixtures';
import { mintDevToken } from '../../lib/dev-token';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import { createMetrics } from '../../lib/metrics';
import { createAuthInterceptor, createTokenVerifier } from '../auth';
import { createObservabilityInterceptor } from '../interceptors';
import { createEligibilityService, REQUEST_SOURCE_HEADER } from './eligibility-service';

const SECRET = 'auth-secret-for-tests';
const HASH_SECRET = 'member-hash-secret-for-tests';
const NOW = Date.parse('2024-11-15T09:30:00Z');
const HOUR = 3_600_000;
const active: CoverageSummary = ACTIVE_COVERAGE;

function setup(entry: EligibilityCacheEntry | null) {
  const reads: InteractiveRead[] = [];
  const warmUsage: WarmUsageRecorder = {
    record: (r) => void reads.push(r),
    flush: async () => undefined,
    close: async () => undefined,
  };
  const metrics = createMetrics('test-api');
  const service = createEligibilityService({
    cache: { get: async () => entry, tryClaimRefresh: async () => false },
    refresher: { refresh: async () => Promise.reject(new Error('live check failed')), refreshInBackground: async () => undefined },
    memberHashSecret: HASH_SECRET,
    metrics,
    logger: silentLogger(),
    refreshWaitMs: 1000,
    now: () => NOW,
    nonInteractiveCallers: new Set(['rte-batch-verifier']),
    warmUsage,
  });
  const transport = createRouterTransport((router) => router.service(EligibilityService, service), {
    router: { interceptors: [createObservabilityInterceptor(silentLogger(), metrics), createAuthInterceptor(createTokenVerifier({ mode: 'dev-hs256', devSecret: SECRET }))] },
  });
  const client = createClient(EligibilityService, transport);
  const as = async (caller: string, extra: Record<string, string> = {}) => ({
    headers: { authorization: `Bearer ${await mintDevToken({ service: caller, scopes: ['rte:eligibility:read'], secret: SECRET })}`, ...extra },
  });
  return { client, as, reads };
}

const warmed: EligibilityCacheEntry = { summary: active, fetchedAt: NOW - HOUR, expiresAt: NOW + 21 * HOUR, source: 'warming', outcome: 'success' };
const expiredWarm: EligibilityCacheEntry = { ...warmed, fetchedAt: NOW - 23 * HOUR, expiresAt: NOW - HOUR };

describe('CheckEligibility feeds warm-usage recording', () => {
  it('an interactive HIT on a warmed entry is recorded with the entry it was served from', async () => {
    const { client, as, reads } = setup(warmed);
    const res = await client.checkEligibility({ memberId: 'MBR-1' }, await as('member-app'));
    expect(res.cacheStatus).toBe(CacheStatus.HIT);
    expect(reads).toEqual([{ memberHash: hashMemberId(HASH_SECRET, 'MBR-1'), operation: 'check_eligibility', at: NOW, result: 'HIT', entry: { source: 'warming', fetchedAt: NOW - HOUR } }]);
  });

  it('a failed live check that falls back to the expired warmed entry is a STALE read of it', async () => {
    const { client, as, reads } = setup(expiredWarm);
    const res = await client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.DEFAULT }, await as('member-app'));
    expect(res.cacheStatus).toBe(CacheStatus.STALE);
    expect(reads.map((r) => r.result)).toEqual(['STALE']);
  });

  it('a CACHE_ONLY miss is a MISS with no entry', async () => {
    const { client, as, reads } = setup(null);
    await expect(client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.CACHE_ONLY }, await as('member-app'))).rejects.toThrow();
    expect(reads).toMatchObject([{ result: 'MISS', entry: null }]);
  });

  it('BYPASS_CACHE, tooling (rte-request-source) and excluded callers are not recorded', async () => {
    const { client, as, reads } = setup(warmed);
    await client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.BYPASS_CACHE }, await as('member-app')).catch(() => undefined);
    await client.checkEligibility({ memberId: 'MBR-1' }, await as('member-app', { [REQUEST_SOURCE_HEADER]: 'batch' }));
    await client.checkEligibility({ memberId: 'MBR-1' }, await as('rte-batch-verifier'));
    expect(reads).toEqual([]);
  });
});
