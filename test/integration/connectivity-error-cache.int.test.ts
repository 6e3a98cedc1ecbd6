import { create } from '@bufbuild/protobuf';
import { batchClient, simCounts, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { silentLogger } from '../../lib/logger';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * Payer connectivity answers (AAA 42/79/80 on HTTP 200: "unable to respond now, retry later") are cached with the
 * error TTL (design doc: 5 min for errors; CACHE_ERROR_TTL_SECONDS), like any payer error. Before this, each DEFAULT
 * request made 5 Stedi attempts (~2 min) and the next request did it all again. Counted from the simulator's own
 * per-route request counts, on the real platform (Temporal, Redis, PostgreSQL, the API over Connect).
 */
const ERROR_TTL_S = 20;

describe('payer connectivity errors are cached for the error TTL (integration)', () => {
  let p: TestPlatform;
  let connectivityMember: string;
  let code: string;

  beforeAll(async () => {
    p = await startTestPlatform({ population: 400, sim: { logger: silentLogger() }, env: { CACHE_ERROR_TTL_SECONDS: String(ERROR_TTL_S) } });
    // A member the simulator answers with a payer connectivity AAA code on HTTP 200 (42 or 80; 79 there means "unknown payer").
    const m = p.members.find((r) => {
      const v = verdictFor(`${r.payerId}|${r.payerMemberId}`);
      return v.kind === 'aaa' && isConnectivityCode(v.aaaCode) && v.aaaCode !== '79';
    });
    if (!m) throw new Error('the seeded population has no payer-connectivity member');
    connectivityMember = m.memberId;
    code = verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode!;
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 60_000);

  it('DEFAULT makes one Stedi call, then answers from the cache with the error, its status and age; CACHE_ONLY serves it; BYPASS calls; a batch counts it as a payer error; after the TTL DEFAULT calls again', async () => {
    const token = await p.token(['rte:eligibility:read']);
    const client = p.eligibilityClient();
    const headers = { authorization: `Bearer ${token}` };
    const check = (cacheControl: CacheControl) => client.checkEligibility({ memberId: connectivityMember, cacheControl }, { headers });
    const calls = () => simCounts(p.sim).realtimeCalls;
    p.sim.resetStats();

    const first = await check(CacheControl.DEFAULT);
    expect(first.cacheStatus).toBe(CacheStatus.ERROR);
    expect(first.errors.map((e) => [e.code, e.retryable])).toEqual([[code, true]]);
    expect(first.cacheMetadata?.cached).toBe(false);
    // One attempt, not five: the answer is the payer's own "retry later", cached, not retried by Temporal.
    expect(calls()).toBe(1);
    const ttlS = Number(first.cacheMetadata!.expiresAt!.seconds) - Number(first.cacheMetadata!.fetchedAt!.seconds);
    expect(ttlS).toBeGreaterThanOrEqual(ERROR_TTL_S - 1);
    expect(ttlS).toBeLessThanOrEqual(ERROR_TTL_S);

    await new Promise((r) => setTimeout(r, 1_100));
    const second = await check(CacheControl.DEFAULT);
    expect(second.cacheStatus).toBe(CacheStatus.ERROR);
    expect(second.cacheMetadata?.cached).toBe(true);
    expect(second.cacheMetadata?.ageSeconds).toBeGreaterThanOrEqual(1);
    expect(second.errors.map((e) => e.code)).toEqual([code]);
    expect(calls()).toBe(1);

    const cacheOnly = await check(CacheControl.CACHE_ONLY);
    expect([cacheOnly.cacheStatus, cacheOnly.cacheMetadata?.cached]).toEqual([CacheStatus.ERROR, true]);
    expect(calls()).toBe(1);

    // A DEFAULT batch serves the cached error as the member's payer error: no refresh, no Stedi call.
    const batches = await batchClient(p, 'svc-conn');
    const submitted = await batches.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('conn'),
        memberSelector: { case: 'memberIds', value: { memberIds: [connectivityMember] } },
        cacheControl: CacheControl.DEFAULT,
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY },
      }),
    );
    const done = await waitForBatchEnd(batches, submitted.batchId, 120_000);
    expect(done.status).toBe(BatchStatus.FAILED);
    // A FAILED batch says why even when it is only because every member failed.
    expect([done.failureCode, done.failureMessage]).toEqual(['ALL_MEMBERS_FAILED', expect.stringContaining('no member succeeded: 1 failed')]);
    expect([done.progress?.failed, done.progress?.cacheMisses, done.progress?.cacheHits]).toEqual([1, 0, 1]);
    expect(done.errors.map((e) => e.errorCode)).toEqual(['CACHED_ERROR']);
    expect(done.errors[0]!.errorMessage).toContain(`payer was unavailable (AAA ${code})`);
    expect(calls()).toBe(1);

    const bypass = await check(CacheControl.BYPASS_CACHE);
    expect([bypass.cacheStatus, bypass.cacheMetadata?.cached]).toEqual([CacheStatus.ERROR, false]);
    expect(calls()).toBe(2);

    // Once the error TTL has passed, DEFAULT asks Stedi again (once).
    const expiresAtMs = Number(bypass.cacheMetadata!.expiresAt!.seconds) * 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAtMs - Date.now()) + 1_500));
    const after = await check(CacheControl.DEFAULT);
    expect([after.cacheStatus, after.cacheMetadata?.cached]).toEqual([CacheStatus.ERROR, false]);
    expect(calls()).toBe(3);
  }, 240_000);
});
