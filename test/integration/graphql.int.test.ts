import { Client, fetchExchange, type AnyVariables, type OperationResult } from '@urql/core';
import { Redis } from 'ioredis';
import { createConfiguredEligibilityCache, type EligibilityCache } from '../../activities/cache';
import type { CoverageSummary } from '../../lib/coverage-summary';
import { silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { DEFAULT_ELIGIBILITY_OPERATION } from '../../lib/operations';
import { eventually, plainMembers } from '../helpers/sim-checks';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

const REALTIME = 'POST /2024-04-01/change/medicalnetwork/eligibility/v3';
const OP = DEFAULT_ELIGIBILITY_OPERATION;
const POPULATION = 1000;
const HOUR = 3600_000;

const COVERAGE = /* GraphQL */ `
  query Coverage($memberId: ID!, $cacheControl: CacheControl) {
    coverage(memberId: $memberId, cacheControl: $cacheControl) {
      cacheStatus
      error { code message }
      data { memberId status payer payerId _metadata { cached age_seconds expires_at fetched_at source } }
    }
  }`;
const EXPORT = /* GraphQL */ `
  query BulkCoverageExport($first: Int, $after: String) {
    members(first: $first, after: $after) {
      nodes { memberId coverage(cacheControl: CACHE_ONLY) { cacheStatus error { code } data { status payer } } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

interface CoverageAnswer {
  cacheStatus: string | null;
  error: { code: string; message: string } | null;
  data: { memberId: string; status: string; payer: string | null; payerId: string | null; _metadata: { cached: boolean; age_seconds: number; expires_at: string; fetched_at: string; source: string } } | null;
}
interface ExportPage {
  members: { nodes: { memberId: string; coverage: { cacheStatus: string; error: { code: string } | null; data: { status: string; payer: string | null } | null } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

function summary(m: MemberRecord): CoverageSummary {
  return {
    status: 'active',
    payer: { id: m.payerId, name: m.payerName },
    plan: { name: 'Gold PPO', number: null, groupNumber: null, insuranceType: null },
    coverage: { start: '2026-01-01', end: null },
    benefits: [],
    errors: [],
  };
}

describe('GraphQL on the real API: every cache mode, the bulk CACHE_ONLY export, auth and limits (integration)', () => {
  let p: TestPlatform;
  let cache: EligibilityCache;
  let client: (token: string | null) => Client;
  let reader: Client;
  let plain: MemberRecord[];
  let next = 0;
  const fresh = () => plain[next++]!;
  const realtimeCalls = () => Object.values(p.sim.stats().calls[REALTIME] ?? {}).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    p = await startTestPlatform({ population: POPULATION });
    cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
    plain = plainMembers(p.members);
    client = (token) =>
      new Client({
        url: `${p.apiUrl}/graphql`,
        exchanges: [fetchExchange],
        requestPolicy: 'network-only',
        preferGetMethod: false,
        fetchOptions: (): RequestInit => ({ headers: token ? { authorization: `Bearer ${token}` } : ({} as Record<string, string>) }),
      });
    reader = client(await p.token(['rte:eligibility:read']));
  });
  afterAll(async () => {
    await p?.close();
  });

  const coverage = async (memberId: string, cacheControl: string, c: Client = reader): Promise<OperationResult<{ coverage: CoverageAnswer }, AnyVariables>> =>
    c.query<{ coverage: CoverageAnswer }>(COVERAGE, { memberId, cacheControl }).toPromise();
  const put = (m: MemberRecord, fetchedAt: number) =>
    cache.put({ memberId: m.memberId, operation: OP, summary: summary(m), outcome: 'success', source: 'realtime', fetchedAt });
  const extensions = (r: OperationResult) => r.error?.graphQLErrors[0]?.extensions;

  it('DEFAULT: a miss is a live check (MISS, one Stedi call), then a HIT from the cache with its metadata', async () => {
    const m = fresh();
    const before = realtimeCalls();
    const first = await coverage(m.memberId, 'DEFAULT');
    expect(first.error).toBeUndefined();
    expect(first.data?.coverage).toMatchObject({ cacheStatus: 'MISS', error: null, data: { memberId: m.memberId, status: 'ACTIVE', payerId: m.payerId, _metadata: { cached: false } } });
    const second = await coverage(m.memberId, 'DEFAULT');
    expect(second.data?.coverage).toMatchObject({ cacheStatus: 'HIT', data: { _metadata: { cached: true, source: 'realtime' } } });
    expect(realtimeCalls() - before).toBe(1);
  });

  it('CACHE_ONLY: a miss is NOT_FOUND in the result with cacheStatus MISS and no Stedi call; an expired entry is STALE', async () => {
    const [missing, expired] = [fresh(), fresh()];
    await put(expired, Date.now() - 23 * HOUR);
    const before = realtimeCalls();
    const miss = await coverage(missing.memberId, 'CACHE_ONLY');
    expect(miss.error).toBeUndefined();
    expect(miss.data?.coverage).toMatchObject({ cacheStatus: 'MISS', data: null, error: { code: 'NOT_FOUND' } });
    const stale = await coverage(expired.memberId, 'CACHE_ONLY');
    expect(stale.data?.coverage.cacheStatus).toBe('STALE');
    expect(stale.data?.coverage.data?._metadata.age_seconds).toBeGreaterThanOrEqual(23 * 3600);
    expect(realtimeCalls()).toBe(before);
  });

  it('PREFER_CACHED serves an expired entry as STALE without Stedi; BYPASS_CACHE calls Stedi even for a fresh entry', async () => {
    const [expired, cached] = [fresh(), fresh()];
    await put(expired, Date.now() - 23 * HOUR);
    await put(cached, Date.now() - 60_000);
    const before = realtimeCalls();
    const stale = await coverage(expired.memberId, 'PREFER_CACHED');
    expect(stale.data?.coverage).toMatchObject({ cacheStatus: 'STALE', data: { _metadata: { cached: true } } });
    expect(realtimeCalls()).toBe(before);
    const live = await coverage(cached.memberId, 'BYPASS_CACHE');
    expect(live.data?.coverage).toMatchObject({ cacheStatus: 'MISS', data: { status: 'ACTIVE', _metadata: { cached: false } } });
    expect(realtimeCalls() - before).toBe(1);
  });

  it('STALE_WHILE_REVALIDATE answers STALE at once and refreshes the entry in the background (one Stedi call)', async () => {
    const m = fresh();
    const old = Date.now() - 23 * HOUR;
    await put(m, old);
    const before = realtimeCalls();
    const r = await coverage(m.memberId, 'STALE_WHILE_REVALIDATE');
    expect(r.data?.coverage.cacheStatus).toBe('STALE');
    await eventually('the background refresh to rewrite the entry', async () => ((await cache.get(m.memberId, OP))?.fetchedAt ?? 0) > old, 30_000);
    expect(realtimeCalls() - before).toBe(1);
    expect((await coverage(m.memberId, 'STALE_WHILE_REVALIDATE')).data?.coverage.cacheStatus).toBe('HIT');
  });

  it('exports 1,000 members in CACHE_ONLY in one request with one Redis MGET per page and no Stedi call', async () => {
    // Every member but 20 gets a fresh entry, 30 of them an expired one (STALE); the other 20 are misses.
    const ids = (await p.directory.pool.query<{ member_id: string }>('select member_id from members order by member_id')).rows.map((r) => r.member_id);
    expect(ids).toHaveLength(POPULATION);
    const byId = new Map(p.members.map((m) => [m.memberId, m]));
    const touched = new Set(plain.slice(0, next).map((m) => m.memberId));
    const candidates = ids.filter((id) => !touched.has(id));
    const uncached = new Set(candidates.slice(0, 20));
    const expired = new Set(candidates.slice(20, 50));
    await Promise.all(
      candidates.filter((id) => !uncached.has(id)).map((id) => put(byId.get(id)!, expired.has(id) ? Date.now() - 23 * HOUR : Date.now() - 60_000)),
    );

    // Redis MONITOR sees every command from every client; count the ones on this test's key prefix.
    // ioredis' monitor() opens a second connection of its own: both are closed below.
    const base = new Redis(p.config.redisUrl);
    const monitor = await base.monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.slice(1).some((a) => a.startsWith(`${p.config.redisKeyPrefix}elig:`))) seen.push(args);
    });
    const sync = async () => {
      // MONITOR lines trail the replies a little: a GET of a marker key, issued after the request, marks "everything before is in".
      const marker = `${p.config.redisKeyPrefix}elig:marker:${Date.now()}`;
      await p.redis.get(marker);
      await eventually('MONITOR to catch up', () => seen.some((a) => a[1] === marker), 10_000, 20);
      const out = seen.filter((a) => a[1] !== marker);
      seen.length = 0;
      return out;
    };
    try {
      await sync();
      const before = realtimeCalls();
      const t0 = Date.now();
      const one = await reader.query<ExportPage>(EXPORT, { first: 1000 }).toPromise();
      const ms = Date.now() - t0;
      expect(one.error).toBeUndefined();
      const nodes = one.data!.members.nodes;
      expect(nodes).toHaveLength(POPULATION);
      expect(one.data!.members.pageInfo.hasNextPage).toBe(false);
      const commands = await sync();
      expect(commands.map((c) => c[0]!.toLowerCase())).toEqual(['mget']);
      expect(commands[0]!.length - 1).toBe(POPULATION);
      const statuses = nodes.reduce<Record<string, number>>((acc, n) => ({ ...acc, [n.coverage.cacheStatus]: (acc[n.coverage.cacheStatus] ?? 0) + 1 }), {});
      const status = new Map(nodes.map((n) => [n.memberId, n.coverage]));
      for (const id of uncached) expect(status.get(id)).toEqual({ cacheStatus: 'MISS', error: { code: 'NOT_FOUND' }, data: null });
      // Misses are the 20 left out, plus members earlier tests touched without caching them.
      expect(statuses['MISS']! - uncached.size).toBeLessThanOrEqual(touched.size);
      for (const id of expired) expect(status.get(id)?.cacheStatus).toBe('STALE');
      expect(nodes.find((n) => n.coverage.cacheStatus === 'HIT')?.coverage.data).toMatchObject({ status: 'ACTIVE' });
      expect(realtimeCalls()).toBe(before);

      // The same export in pages of 250: four requests, one MGET each, the same members.
      const paged: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const r: OperationResult<ExportPage, AnyVariables> = await reader.query<ExportPage>(EXPORT, { first: 250, after }).toPromise();
        expect(r.error).toBeUndefined();
        paged.push(...r.data!.members.nodes.map((n) => n.memberId));
        after = r.data!.members.pageInfo.endCursor;
        pages++;
      } while (after);
      const pagedCommands = await sync();
      expect(pages).toBe(4);
      expect(paged).toEqual(nodes.map((n) => n.memberId));
      expect(pagedCommands.map((c) => c[0]!.toLowerCase())).toEqual(['mget', 'mget', 'mget', 'mget']);
      expect(realtimeCalls()).toBe(before);
      console.log(`[graphql] 1,000-member CACHE_ONLY export: ${ms} ms, ${commands.length} Redis command (MGET of ${commands[0]!.length - 1} keys); statuses ${JSON.stringify(statuses)}; pages of 250: ${pagedCommands.length} MGETs`);
    } finally {
      monitor.disconnect();
      base.disconnect();
    }
  });

  it('refuses a request without a token (UNAUTHENTICATED) and a token without the scope (PERMISSION_DENIED)', async () => {
    const m = fresh();
    const none = await coverage(m.memberId, 'CACHE_ONLY', client(null));
    expect(extensions(none)).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(none.error?.response?.status).toBe(401);
    const wrong = await coverage(m.memberId, 'CACHE_ONLY', client(await p.token(['rte:batch:read'])));
    expect(extensions(wrong)).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(wrong.data?.coverage ?? null).toBeNull();
    const bulk = await client(await p.token(['rte:batch:submit'])).query(EXPORT, { first: 10 }).toPromise();
    expect(extensions(bulk)).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('refuses an unknown enum value naming its field, and a query over the depth limit, before touching anything', async () => {
    const m = fresh();
    const before = realtimeCalls();
    const badEnum = await coverage(m.memberId, 'SOMETIMES');
    expect(extensions(badEnum)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'coverage.cacheControl' });
    const literal = await reader.query(`{ coverage(memberId: "${m.memberId}", cacheControl: FRESHEST) { cacheStatus } }`, {}).toPromise();
    expect(extensions(literal)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'coverage.cacheControl' });
    const badId = await coverage('not a member id!', 'CACHE_ONLY');
    expect(extensions(badId)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'memberId' });
    const badAge = await reader.query(`{ members(query: { demographicsFilter: { minAge: -3 } }) { nodes { memberId } } }`, {}).toPromise();
    expect(extensions(badAge)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'query.demographicsFilter.minAge' });
    const badQuery = await reader.query(`{ members(query: { demographicsFilter: { ageGroups: [TODDLER] } }) { nodes { memberId } } }`, {}).toPromise();
    expect(extensions(badQuery)).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'members.query.demographicsFilter.ageGroups' });
    const deep = await reader
      .query(`{ coverage(memberId: "${m.memberId}") { member { coverage { member { coverage { member { coverage { member { memberId } } } } } } } } }`, {})
      .toPromise();
    expect(extensions(deep)).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'QUERY_TOO_DEEP' });
    expect(deep.error?.graphQLErrors[0]?.message).toMatch(/depth limit of 8 exceeded/);
    expect(realtimeCalls()).toBe(before);
    expect(await cache.get(m.memberId, OP)).toBeNull();
  });
});
