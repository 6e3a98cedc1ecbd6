/**
 * CheckEligibility waits for a live check at most API_REFRESH_WAIT_MS, or until the caller goes away. When it stops
 * waiting it tells the refresher (the abort signal ends the Temporal result long-poll; api/eligibility-refresher.int).
 */
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry } from '../../activities/cache';
import { ACTIVE_COVERAGE } from '../../test/helpers/coverage-fixtures';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { createEligibilityService } from './eligibility-service';

const NOW = Date.parse('2024-11-15T09:30:00Z');
const HOUR = 3_600_000;
const fresh: EligibilityCacheEntry = { summary: ACTIVE_COVERAGE, fetchedAt: NOW, expiresAt: NOW + 22 * HOUR, source: 'realtime', outcome: 'success' };

function setup(refreshMs: number | 'never') {
  let stored: EligibilityCacheEntry | null = null;
  const signals: AbortSignal[] = [];
  const service = createEligibilityService({
    cache: { get: async () => stored, tryClaimRefresh: async () => true },
    refresher: {
      refresh: (_input, signal) => {
        if (signal) signals.push(signal);
        return new Promise((resolve, reject) => {
          signal?.addEventListener('abort', () => reject(new Error('long-poll cancelled')), { once: true });
          if (refreshMs !== 'never')
            setTimeout(() => {
              stored = fresh;
              resolve({ outcome: 'success', fetchedAt: fresh.fetchedAt, expiresAt: fresh.expiresAt });
            }, refreshMs);
        });
      },
      refreshInBackground: async () => undefined,
    },
    memberHashSecret: 'h',
    metrics: createMetrics('test-api'),
    logger: silentLogger(),
    refreshWaitMs: 200,
    now: () => NOW,
  });
  const client = createClient(EligibilityService, createRouterTransport((router) => router.service(EligibilityService, service)));
  return { client, signals };
}

describe('CheckEligibility ends its wait for a live check', () => {
  it('at API_REFRESH_WAIT_MS: the client gets deadline_exceeded and the refresher is told to stop waiting', async () => {
    const { client, signals } = setup('never');
    const err = await client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.DEFAULT }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.DeadlineExceeded);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(true);
  });

  it('when the caller goes away first', async () => {
    const { client, signals } = setup('never');
    const gone = new AbortController();
    const call = client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.DEFAULT }, { signal: gone.signal }).catch(() => undefined);
    while (signals.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(signals[0]!.aborted).toBe(false);
    gone.abort();
    await call;
    await new Promise((r) => setTimeout(r, 20));
    expect(signals[0]!.aborted).toBe(true);
  });

  it('a check that answers within the wait is served as a MISS', async () => {
    const { client, signals } = setup(20);
    const answer = await client.checkEligibility({ memberId: 'MBR-1', cacheControl: CacheControl.DEFAULT });
    expect(answer.cacheStatus).toBe(CacheStatus.MISS);
    expect(signals).toHaveLength(1);
  });
});
