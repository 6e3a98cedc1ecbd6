import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { CacheStatus } from '../../gen/rte/v1/common_pb';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry } from '../../activities/cache';
import { createPredictionUsageObserver } from '../../activities/prediction-accuracy/metrics';
import { InMemoryPredictionOutcomeStore } from '../../activities/prediction-accuracy/in-memory-prediction-outcome-store';
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
const fresh: EligibilityCacheEntry = { summary: active, fetchedAt: NOW - HOUR, expiresAt: NOW + 20 * HOUR, source: 'warming', outcome: 'success' };

/** A member-cron run at 06:00 predicted MBR-1 (high confidence); the app calls at 09:30. */
async function setup(store = new InMemoryPredictionOutcomeStore()) {
  await store.recordPredictions(
    { runKey: 'daily-rte-warmup@2024-11-15T06:00:00.000Z', predictedAt: NOW - 3.5 * HOUR, horizonEnd: NOW + 20.5 * HOUR },
    [{ memberHash: hashMemberId(HASH_SECRET, 'MBR-1'), probability: 0.7 }],
    NOW - 3.5 * HOUR,
  );
  const metrics = createMetrics('test-api');
  const service = createEligibilityService({
    cache: { get: async () => fresh, tryClaimRefresh: async () => false },
    refresher: {
      refresh: async () => Promise.reject(new Error('a fresh cache hit must not refresh')),
      refreshInBackground: async () => undefined,
    },
    memberHashSecret: HASH_SECRET,
    metrics,
    logger: silentLogger(),
    refreshWaitMs: 1000,
    now: () => NOW,
    predictionUsage: createPredictionUsageObserver({ store, registry: metrics.registry, logger: silentLogger() }),
    nonInteractiveCallers: new Set(['rte-batch-verifier']),
  });
  const transport = createRouterTransport((router) => router.service(EligibilityService, service), {
    router: { interceptors: [createObservabilityInterceptor(silentLogger(), metrics), createAuthInterceptor(createTokenVerifier({ mode: 'dev-hs256', devSecret: SECRET }))] },
  });
  const client = createClient(EligibilityService, transport);
  const as = async (caller: string, extra: Record<string, string> = {}) => ({
    headers: { authorization: `Bearer ${await mintDevToken({ service: caller, scopes: ['rte:eligibility:read'], secret: SECRET })}`, ...extra },
  });
  /** Used/predicted of the run, after the fire-and-forget observation settled. */
  const run = async () => {
    await new Promise((r) => setImmediate(r));
    return store.runs.get('daily-rte-warmup@2024-11-15T06:00:00.000Z');
  };
  return { client, as, run, metrics };
}

describe('CheckEligibility feeds the prediction accuracy loop', () => {
  it('an interactive check marks the member’s open prediction used, once', async () => {
    const { client, as, run } = await setup();
    const res = await client.checkEligibility({ memberId: 'MBR-1' }, await as('member-app'));
    expect(res.cacheStatus).toBe(CacheStatus.HIT);
    expect(await run()).toMatchObject({ predicted: 1, used: 1 });
    await client.checkEligibility({ memberId: 'MBR-1' }, await as('member-app', { [REQUEST_SOURCE_HEADER]: 'interactive' }));
    expect(await run()).toMatchObject({ predicted: 1, used: 1 });
  });

  it.each(['batch', 'warming', 'verification'])('a check marked %s is not usage', async (source) => {
    const { client, as, run } = await setup();
    const res = await client.checkEligibility({ memberId: 'MBR-1' }, await as('member-app', { [REQUEST_SOURCE_HEADER]: source }));
    expect(res.cacheStatus).toBe(CacheStatus.HIT);
    expect(await run()).toMatchObject({ used: 0 });
  });

  it('a check by a configured non-interactive caller is not usage', async () => {
    const { client, as, run } = await setup();
    await client.checkEligibility({ memberId: 'MBR-1' }, await as('rte-batch-verifier'));
    expect(await run()).toMatchObject({ used: 0 });
  });

  it('an invalid request is not usage', async () => {
    const { client, as, run } = await setup();
    const err = await client.checkEligibility({ memberId: 'MBR-1', providerNpi: '12' }, await as('member-app')).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
    expect(await run()).toMatchObject({ used: 0 });
  });

  it('a failing prediction store never fails or changes the user’s answer', async () => {
    const store = new InMemoryPredictionOutcomeStore();
    const { client, as, metrics } = await setup(store);
    store.failNext = 1;
    const res = await client.checkEligibility({ memberId: 'MBR-1' }, await as('member-app'));
    expect(res.cacheStatus).toBe(CacheStatus.HIT);
    expect(res.coverage).toBeDefined();
    await new Promise((r) => setImmediate(r));
    expect(await metrics.registry.metrics()).toMatch(/^rte_cache_warming_prediction_usage_observations_total\{[^}]*result="error"[^}]*\} 1$/m);
  });
});
