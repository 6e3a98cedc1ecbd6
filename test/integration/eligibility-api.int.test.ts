import { Code, ConnectError } from '@connectrpc/connect';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { CoverageSummary_Status } from '../../gen/rte/v1/eligibility_pb';
import { createRedisEligibilityCache } from '../../activities/cache';
import type { MemberRecord } from '../../lib/member-record';
import { verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

const REALTIME = 'POST /2024-04-01/change/medicalnetwork/eligibility/v3';
let members: MemberRecord[] = [];
const byVerdict = (kind: 'active' | 'inactive' | 'aaa', code?: string) =>
  members.filter((m) => {
    const v = verdictFor(`${m.payerId}|${m.payerMemberId}`);
    return v.kind === kind && (code === undefined || v.aaaCode === code);
  });
let next = 0;
/** A member no other test has touched (fresh cache). */
const freshActive = (): MemberRecord => byVerdict('active')[next++]!;

describe('CheckEligibility through the real API, worker, Temporal, Redis and the Stedi simulator (integration)', () => {
  let p: TestPlatform;
  let headers: Record<string, string>;
  const realtimeCalls = () => Object.values(p.sim.stats().calls[REALTIME] ?? {}).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    p = await startTestPlatform();
    members = p.members;
    headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` };
  });
  afterAll(async () => {
    await p.close();
  });

  async function check(memberId: string, cacheControl: CacheControl, protocol: 'connect' | 'grpc' = 'connect') {
    return p.eligibilityClient(protocol).checkEligibility({ memberId, cacheControl }, { headers });
  }

  it('refuses a call without a token (unauthenticated) and a token without the scope (permission_denied), over gRPC and Connect', async () => {
    const m = freshActive();
    for (const protocol of ['grpc', 'connect'] as const) {
      const none = await p
        .eligibilityClient(protocol)
        .checkEligibility({ memberId: m.memberId })
        .catch((e: unknown) => ConnectError.from(e));
      expect((none as ConnectError).code).toBe(Code.Unauthenticated);
      const wrongScope = { authorization: `Bearer ${await p.token(['rte:batch:read'])}` };
      const denied = await p
        .eligibilityClient(protocol)
        .checkEligibility({ memberId: m.memberId }, { headers: wrongScope })
        .catch((e: unknown) => ConnectError.from(e));
      expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    }
  });

  it('DEFAULT: a miss calls Stedi once and stores the answer; the next call is a cache hit', async () => {
    const m = freshActive();
    const before = realtimeCalls();
    const first = await check(m.memberId, CacheControl.DEFAULT);
    expect(first.cacheStatus).toBe(CacheStatus.MISS);
    expect(first.coverage?.status).toBe(CoverageSummary_Status.ACTIVE);
    expect(first.coverage?.payerId).toBe(m.payerId);
    expect(first.cacheMetadata?.cached).toBe(false);
    expect(first.stediCheckId).not.toBe('');
    const second = await check(m.memberId, CacheControl.DEFAULT, 'grpc');
    expect(second.cacheStatus).toBe(CacheStatus.HIT);
    expect(second.cacheMetadata?.cached).toBe(true);
    expect(second.stediCheckId).toBe(first.stediCheckId);
    expect(realtimeCalls() - before).toBe(1);
  });

  it('CACHE_ONLY: a miss is not_found with rte-cache-status MISS and never calls Stedi; a hit is served', async () => {
    const m = freshActive();
    const before = realtimeCalls();
    const err = await check(m.memberId, CacheControl.CACHE_ONLY).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.NotFound);
    expect(err?.metadata.get('rte-cache-status')).toBe('MISS');
    expect(realtimeCalls()).toBe(before);
    await check(m.memberId, CacheControl.DEFAULT);
    const hit = await check(m.memberId, CacheControl.CACHE_ONLY);
    expect(hit.cacheStatus).toBe(CacheStatus.HIT);
  });

  describe('with an expired cached answer', () => {
    const cache = () =>
      createRedisEligibilityCache({ redis: p.redis, keySecret: p.config.cache.keySecret, keyPrefix: p.config.redisKeyPrefix });
    async function seedExpired(m: MemberRecord): Promise<number> {
      const first = await check(m.memberId, CacheControl.BYPASS_CACHE);
      expect(first.coverage?.status).toBe(CoverageSummary_Status.ACTIVE);
      const entry = await cache().get(m.memberId, 'check_eligibility');
      const oldFetchedAt = Date.now() - 23 * 3600 * 1000; // past the 22 h TTL, inside the stale window
      await cache().invalidate(m.memberId, 'check_eligibility');
      await cache().put({ memberId: m.memberId, operation: 'check_eligibility', summary: entry!.summary, outcome: 'success', source: 'realtime', fetchedAt: oldFetchedAt });
      return oldFetchedAt;
    }

    it('PREFER_CACHED serves it as STALE with its age and no Stedi call; DEFAULT refreshes it', async () => {
      const m = freshActive();
      await seedExpired(m);
      const before = realtimeCalls();
      const stale = await check(m.memberId, CacheControl.PREFER_CACHED);
      expect(stale.cacheStatus).toBe(CacheStatus.STALE);
      expect(Number(stale.cacheMetadata?.ageSeconds)).toBeGreaterThanOrEqual(23 * 3600);
      expect(realtimeCalls()).toBe(before);
      const refreshed = await check(m.memberId, CacheControl.DEFAULT);
      expect(refreshed.cacheStatus).toBe(CacheStatus.MISS);
      expect(realtimeCalls()).toBe(before + 1);
    });

    it('STALE_WHILE_REVALIDATE answers STALE at once and starts exactly one background refresh', async () => {
      const m = freshActive();
      const oldFetchedAt = await seedExpired(m);
      const before = realtimeCalls();
      const answers = await Promise.all(Array.from({ length: 10 }, () => check(m.memberId, CacheControl.STALE_WHILE_REVALIDATE)));
      for (const a of answers) expect(a.cacheStatus).toBe(CacheStatus.STALE);
      await waitFor(async () => ((await cache().get(m.memberId, 'check_eligibility'))?.fetchedAt ?? 0) > oldFetchedAt);
      expect(realtimeCalls() - before).toBe(1);
      const after = await check(m.memberId, CacheControl.STALE_WHILE_REVALIDATE);
      expect(after.cacheStatus).toBe(CacheStatus.HIT);
    });
  });

  it('BYPASS_CACHE always calls Stedi and updates the cache', async () => {
    const m = freshActive();
    const before = realtimeCalls();
    const a = await check(m.memberId, CacheControl.BYPASS_CACHE);
    const b = await check(m.memberId, CacheControl.BYPASS_CACHE);
    expect(a.cacheStatus).toBe(CacheStatus.MISS);
    expect(b.cacheStatus).toBe(CacheStatus.MISS);
    expect(realtimeCalls() - before).toBe(2);
    expect(b.stediCheckId).not.toBe(a.stediCheckId);
    const hit = await check(m.memberId, CacheControl.CACHE_ONLY);
    expect(hit.stediCheckId).toBe(b.stediCheckId);
  });

  it('single flight: 50 concurrent DEFAULT misses for one member make one Stedi call', async () => {
    const m = freshActive();
    const before = realtimeCalls();
    const answers = await Promise.all(Array.from({ length: 50 }, () => check(m.memberId, CacheControl.DEFAULT)));
    expect(new Set(answers.map((a) => a.stediCheckId)).size).toBe(1);
    expect(realtimeCalls() - before).toBe(1);
  });

  it('reports inactive coverage and caches payer rejections as ERROR with their AAA codes', async () => {
    const inactive = byVerdict('inactive')[0]!;
    const res = await check(inactive.memberId, CacheControl.DEFAULT);
    expect(res.coverage?.status).toBe(CoverageSummary_Status.INACTIVE);

    const rejected = members.find((m) => {
      const v = verdictFor(`${m.payerId}|${m.payerMemberId}`);
      return v.kind === 'aaa' && v.aaaCode !== undefined && !['42', '79', '80'].includes(v.aaaCode);
    })!;
    const before = realtimeCalls();
    const err = await check(rejected.memberId, CacheControl.DEFAULT);
    expect(err.cacheStatus).toBe(CacheStatus.ERROR);
    expect(err.errors.length).toBeGreaterThan(0);
    const again = await check(rejected.memberId, CacheControl.DEFAULT);
    expect(again.cacheStatus).toBe(CacheStatus.ERROR);
    expect(again.cacheMetadata?.cached).toBe(true);
    expect(realtimeCalls() - before).toBe(1); // negative caching: 5 min error TTL
  });

  it('answers not_found for a member the directory does not know, and invalid_argument naming the field', async () => {
    const notFound = await check('m_does_not_exist', CacheControl.DEFAULT).catch((e: unknown) => ConnectError.from(e));
    expect((notFound as ConnectError).code).toBe(Code.NotFound);
    const bad = await p
      .eligibilityClient()
      .checkEligibility({ memberId: 'x', providerNpi: '12' }, { headers })
      .catch((e: unknown) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain('provider_npi');
    const badMode = await p
      .eligibilityClient()
      .checkEligibility({ memberId: 'x', cacheControl: 42 as CacheControl }, { headers })
      .catch((e: unknown) => ConnectError.from(e));
    expect((badMode as ConnectError).rawMessage).toContain('cache_control');
  });

  it('works over HTTP GET with Cache-Control request and response headers', async () => {
    const m = freshActive();
    const url = (memberId: string) =>
      `${p.apiUrl}/rte.v1.EligibilityService/CheckEligibility?encoding=json&message=${encodeURIComponent(JSON.stringify({ memberId }))}`;
    const before = realtimeCalls();
    const miss = await fetch(url(m.memberId), { headers: { ...headers, 'cache-control': 'only-if-cached' } });
    expect(miss.status).toBe(404);
    expect(realtimeCalls()).toBe(before);

    const live = await fetch(url(m.memberId), { headers });
    expect(live.status).toBe(200);
    const body = (await live.json()) as { cacheStatus: string };
    expect(body.cacheStatus).toBe('CACHE_STATUS_MISS');
    expect(live.headers.get('cache-control')).toMatch(/^private, max-age=(79[0-9]{3}), stale-while-revalidate=\d+$/);
    expect(live.headers.get('vary')).toBe('Authorization, Origin'); // CORS headers depend on Origin too

    const cached = await fetch(url(m.memberId), { headers: { ...headers, 'cache-control': 'only-if-cached' } });
    expect(((await cached.json()) as { cacheStatus: string }).cacheStatus).toBe('CACHE_STATUS_HIT');
    const bypass = await fetch(url(m.memberId), { headers: { ...headers, 'cache-control': 'no-cache' } });
    expect(((await bypass.json()) as { cacheStatus: string }).cacheStatus).toBe('CACHE_STATUS_MISS');
    expect(realtimeCalls() - before).toBe(2);
    const postWith = (cacheControl: string, memberId: string) =>
      fetch(`${p.apiUrl}/rte.v1.EligibilityService/CheckEligibility`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'cache-control': cacheControl },
        body: JSON.stringify({ memberId, cacheControl: 'CACHE_CONTROL_DEFAULT' }),
      });
    // Only the GET form reads the costly directives: a POST (a browser fetch, a proxy adding no-cache) keeps the message's mode.
    const post = await postWith('no-cache', m.memberId);
    expect(((await post.json()) as { cacheStatus: string }).cacheStatus).toBe('CACHE_STATUS_HIT');
    expect(realtimeCalls() - before).toBe(2);
    // only-if-cached can only spare a call: a POST honours it too (probe p18 F7: it made a live call).
    const uncached = freshActive();
    const postMiss = await postWith('only-if-cached', uncached.memberId);
    expect(postMiss.status).toBe(404);
    expect(postMiss.headers.get('rte-cache-status')).toBe('MISS');
    expect(realtimeCalls() - before).toBe(2);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
