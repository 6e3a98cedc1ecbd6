/**
 * Stale serving when a live check meets a payer outage or a slow-failing Stedi, as a client sees it: through the real
 * API (the fast unary path for Connect JSON, connect-node for gRPC), worker, Temporal, Redis and the Stedi simulator's
 * fault injection. Review 13 findings 1 and 3. Its own platform: API_REFRESH_WAIT_MS is short here, and the injected
 * faults hit every member of a payer.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { batchClient, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { createRedisEligibilityCache } from '../../activities/cache';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { CoverageSummary_Status } from '../../gen/rte/v1/eligibility_pb';
import type { MemberRecord } from '../../lib/member-record';
import { verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { eventually } from '../helpers/sim-checks';
import { uniqueName } from '../helpers/temporal';

const REALTIME = 'POST /2024-04-01/change/medicalnetwork/eligibility/v3';
const OPERATION = 'check_eligibility';
const WAIT_MS = 3_000;

describe('CheckEligibility serves the cached answer as STALE when the live check cannot answer (integration)', () => {
  let p: TestPlatform;
  let headers: Record<string, string>;
  let active: MemberRecord[] = [];
  const realtimeCalls = () => Object.values(p.sim.stats().calls[REALTIME] ?? {}).reduce((a, b) => a + b, 0);
  const cache = () => createRedisEligibilityCache({ redis: p.redis, keySecret: p.config.cache.keySecret, keyPrefix: p.config.redisKeyPrefix });

  beforeAll(async () => {
    p = await startTestPlatform({ env: { API_REFRESH_WAIT_MS: String(WAIT_MS) } });
    active = p.members.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind === 'active');
    headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` };
  });
  afterAll(async () => {
    p.sim.setFaults({ reset: true });
    await p.close();
  });
  afterEach(() => {
    p.sim.setFaults({ reset: true });
  });

  /** Two active members of one payer, not used by another test (each test injects a fault for the whole payer). */
  const usedPayers = new Set<string>();
  function membersOfOnePayer(): [MemberRecord, MemberRecord] {
    for (const m of active) {
      if (usedPayers.has(m.payerId)) continue;
      const other = active.find((o) => o.payerId === m.payerId && o.memberId !== m.memberId);
      if (other) {
        usedPayers.add(m.payerId);
        return [m, other];
      }
    }
    throw new Error('no payer with two active members left');
  }

  function check(memberId: string, cacheControl: CacheControl, protocol: 'connect' | 'grpc' = 'connect') {
    return p.eligibilityClient(protocol).checkEligibility({ memberId, cacheControl }, { headers });
  }

  /** A real answer from the simulator, re-stored as fetched 23 h ago (past the 22 h TTL, inside the stale window). */
  async function seedExpired(m: MemberRecord): Promise<number> {
    const first = await check(m.memberId, CacheControl.BYPASS_CACHE);
    expect(first.coverage?.status).toBe(CoverageSummary_Status.ACTIVE);
    const entry = await cache().get(m.memberId, OPERATION);
    const oldFetchedAt = Date.now() - 23 * 3600 * 1000;
    await cache().invalidate(m.memberId, OPERATION);
    await cache().put({ memberId: m.memberId, operation: OPERATION, summary: entry!.summary, outcome: 'success', source: 'realtime', fetchedAt: oldFetchedAt });
    return oldFetchedAt;
  }

  it('a payer "retry later" (AAA 42) does not take the expired answer away: STALE with the error shown, no Stedi call per retry (finding 1)', async () => {
    const [m] = membersOfOnePayer();
    const oldFetchedAt = await seedExpired(m);
    p.sim.setFaults({ payerOutage: { payerId: m.payerId } });
    const before = realtimeCalls();

    for (const protocol of ['connect', 'grpc'] as const) {
      // The request that meets the outage, and every retry inside the error's 5-minute TTL (no new Stedi call).
      const res = await check(m.memberId, CacheControl.DEFAULT, protocol);
      expect(res.cacheStatus).toBe(CacheStatus.STALE);
      expect(res.coverage?.status).toBe(CoverageSummary_Status.ACTIVE);
      expect(Number(res.cacheMetadata?.fetchedAt?.seconds) * 1000).toBe(Math.floor(oldFetchedAt / 1000) * 1000);
      expect(res.errors.map((e) => [e.code, e.retryable])).toEqual([['42', true]]);
    }
    expect(realtimeCalls() - before).toBe(1);

    for (const mode of [CacheControl.PREFER_CACHED, CacheControl.CACHE_ONLY, CacheControl.STALE_WHILE_REVALIDATE]) {
      const res = await check(m.memberId, mode);
      expect([mode, res.cacheStatus, res.coverage?.status]).toEqual([mode, CacheStatus.STALE, CoverageSummary_Status.ACTIVE]);
    }
    expect(realtimeCalls() - before).toBe(1);

    // A DEFAULT batch asks for a current answer: the member fails with the payer's error, as before this change, without
    // a Stedi call; a CACHE_ONLY batch accepts the expired answer the cache still holds.
    const batches = await batchClient(p, 'svc-stale');
    const batch = async (cacheControl: CacheControl) => {
      const { batchId } = await batches.submitBatch(
        create(SubmitBatchRequestSchema, {
          clientJobId: uniqueName('stale'),
          memberSelector: { case: 'memberIds', value: { memberIds: [m.memberId] } },
          cacheControl,
          options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY },
        }),
      );
      return waitForBatchEnd(batches, batchId, 120_000);
    };
    const failed = await batch(CacheControl.DEFAULT);
    expect([failed.status, failed.errors.map((e) => e.errorCode)]).toEqual([BatchStatus.FAILED, ['CACHED_ERROR']]);
    expect(failed.errors[0]!.errorMessage).toContain('payer was unavailable (AAA 42)');
    const served = await batch(CacheControl.CACHE_ONLY);
    expect([served.status, served.progress?.completed, served.progress?.failed]).toEqual([BatchStatus.COMPLETED, 1, 0]);
    expect(realtimeCalls() - before).toBe(1);

    // BYPASS_CACHE asked for a live answer: it gets the payer's error, and the old answer is still kept.
    const live = await check(m.memberId, CacheControl.BYPASS_CACHE);
    expect(live.cacheStatus).toBe(CacheStatus.ERROR);
    expect(live.errors.map((e) => e.code)).toEqual(['42']);
    expect(realtimeCalls() - before).toBe(2);
    expect(await cache().get(m.memberId, OPERATION)).toMatchObject({ outcome: 'success', fetchedAt: oldFetchedAt });

    // The payer is back: the next live check replaces both.
    p.sim.setFaults({ payerOutage: { payerId: m.payerId, down: false } });
    const back = await check(m.memberId, CacheControl.BYPASS_CACHE);
    expect(back.cacheStatus).toBe(CacheStatus.MISS);
    expect(back.errors).toEqual([]);
    const hit = await check(m.memberId, CacheControl.DEFAULT);
    expect(hit.cacheStatus).toBe(CacheStatus.HIT);
  });

  it('a live check still failing (HTTP 500, retried with backoff) when the wait ends answers the cached answer as STALE; with nothing cached, deadline_exceeded says what happens (finding 3)', async () => {
    const [m, uncached] = membersOfOnePayer();
    await seedExpired(m);
    // Every call fails with HTTP 500: the refresh retries 5 times with 2+4+8+16 s of backoff, far past the wait.
    p.sim.setFaults({ failingPayer: { payerId: m.payerId, status: 500 } });

    for (const protocol of ['connect', 'grpc'] as const) {
      const started = Date.now();
      const res = await check(m.memberId, CacheControl.DEFAULT, protocol);
      expect(res.cacheStatus).toBe(CacheStatus.STALE);
      expect(res.coverage?.status).toBe(CoverageSummary_Status.ACTIVE);
      expect(Date.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 100);
    }

    const err = await check(uncached.memberId, CacheControl.DEFAULT).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.DeadlineExceeded);
    expect(err?.rawMessage).toContain('still running in the background');
    expect(err?.rawMessage).not.toContain('it will fill the cache');
    // Nothing was cached for it: an HTTP 5xx is never cached.
    expect(await cache().get(uncached.memberId, OPERATION)).toBeNull();

    // The payer recovers: the refreshes still retrying in the background answer and fill the cache. (Waited for here
    // so no refresh is still running when the platform closes: a Temporal call retrying on a closed connection would
    // throw in the next test file.)
    p.sim.setFaults({ reset: true });
    await eventually('the background refreshes to finish once the payer answers', async () => (await cache().get(uncached.memberId, OPERATION))?.outcome === 'success' && (await cache().get(m.memberId, OPERATION))!.expiresAt > Date.now(), 60_000, 250);
  }, 120_000);
});
