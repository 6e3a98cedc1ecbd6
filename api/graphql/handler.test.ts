import pino from 'pino';
import { createHash } from 'node:crypto';
import { FieldError } from '../../lib/errors';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { CacheStatus } from '../../gen/rte/v1/common_pb';
import { CheckEligibilityResponseSchema } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry, MemberOperation } from '../../activities/cache';
import type { MemberQuery } from '../../gen/rte/v1/member_query_pb';
import { mintDevToken } from '../../lib/dev-token';
import { createMetrics } from '../../lib/metrics';
import { createTokenVerifier, Scope } from '../auth';
import { createGraphqlHandler, loadPersistedOperations, MAX_COVERAGE_FIELDS, type GraphqlDeps } from './handler';
import { memberQuerySdl } from './member-query-sdl';

const SECRET = 'unit-secret';
const NOW = Date.parse('2026-12-02T10:00:00Z');

function entry(at: number): EligibilityCacheEntry {
  return {
    summary: { status: 'active', payer: { id: 'P1', name: 'Aetna' }, plan: {}, coverage: {}, benefits: [], errors: [] } as never,
    fetchedAt: at,
    expiresAt: at + 22 * 3600_000,
    source: 'realtime',
    outcome: 'success',
  };
}

function setup(profile: 'local' | 'production' = 'local') {
  const logLines: Record<string, unknown>[] = [];
  const getManyCalls: MemberOperation[][] = [];
  const queries: MemberQuery[] = [];
  const members = Array.from({ length: 5 }, (_, i) => `m_${i}`);
  const metrics = createMetrics('graphql-unit');
  const deps: GraphqlDeps = {
    eligibility: {
      checkEligibility: async (req) => {
        if (req.memberId === 'm_missing') throw new ConnectError('cache miss', Code.NotFound);
        return create(CheckEligibilityResponseSchema, { memberId: req.memberId, cacheStatus: CacheStatus.HIT });
      },
    },
    cache: {
      getMany: async (pairs) => {
        getManyCalls.push([...pairs]);
        return pairs.map((p) => (p.memberId === 'm_0' ? null : entry(NOW - 60_000)));
      },
    },
    directory: {
      queryMembers: async (q) => {
        queries.push(q);
        // As the directory: a cursor it did not issue is refused naming the proto field.
        if (q.cursor === 'garbage') throw new FieldError('member_query.cursor', 'malformed cursor');
        return {
          members: members.slice(0, q.limit).map((memberId) => ({ memberId, sponsorId: 's1', timeZone: 'UTC' }) as never),
          nextCursor: q.limit < members.length ? 'c1' : null,
        };
      },
      getMemberRecords: async () => new Map(),
      // As the directory's check: a sponsor id it does not know is refused naming it.
      checkQuery: async (q) => {
        const i = q.sponsorIds.findIndex((id) => id !== 's1');
        if (i >= 0) throw new FieldError(`member_query.sponsor_ids[${i}]`, `unknown sponsor id ${JSON.stringify(q.sponsorIds[i])}`);
      },
    },
    verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: SECRET }),
    logger: pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) }),
    metrics,
    profile,
    now: () => NOW,
  };
  const yoga = createGraphqlHandler(deps);
  const call = async (body: unknown, scopes: string[] | null = [Scope.EligibilityRead]) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (scopes) headers['authorization'] = `Bearer ${await mintDevToken({ service: 'unit', scopes, secret: SECRET })}`;
    const res = await yoga.fetch('http://localhost/graphql', { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
  };
  return { yoga, call, getManyCalls, queries, metrics, logLines };
}

describe('GraphQL handler', () => {
  // Probe p18 F2: listing member ids by attributes (demographics among them) left no trace.
  it('a members page leaves an audit line: caller, the filters used (names, no values), how many ids; a refused one too', async () => {
    const { call, logLines } = setup();
    await call({ query: '{ members(query: { sponsorIds: ["s1"], demographicsFilter: { isLgbtqPlus: true, states: [] } }, first: 3) { nodes { memberId } } }' });
    await call({ query: '{ members(query: { sponsorIds: ["nope"] }, first: 3) { nodes { memberId } } }' });
    const audits = logLines.filter((l) => l['audit'] === true);
    expect(audits).toEqual([
      expect.objectContaining({ method: 'graphql:members', caller: 'unit', code: 'ok', filters: ['demographicsFilter.isLgbtqPlus', 'sponsorIds'], page: 'first', returned: 3 }),
      expect.objectContaining({ method: 'graphql:members', caller: 'unit', code: 'INVALID_ARGUMENT', filters: ['sponsorIds'], returned: 0 }),
    ]);
    expect(JSON.stringify(audits)).not.toMatch(/m_0|nope|"s1"/);
  });

  it('refuses a request without a token (UNAUTHENTICATED, 401) and without the scope (PERMISSION_DENIED)', async () => {
    const { call } = setup();
    const none = await call({ query: '{ coverage(memberId: "m_1") { cacheStatus } }' }, null);
    expect(none.status).toBe(401);
    expect(none.body.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const wrong = await call({ query: '{ coverage(memberId: "m_1") { cacheStatus } }' }, [Scope.BatchRead]);
    expect(wrong.body.errors?.[0]?.extensions?.['code']).toBe('PERMISSION_DENIED');
    expect(wrong.body.data ?? null).toBeNull();
  });

  it('names the argument of an unknown enum value, as a literal and through a variable', async () => {
    const { call } = setup();
    const lit = await call({ query: '{ coverage(memberId: "m_1", cacheControl: SOMETIMES) { cacheStatus } }' });
    expect(lit.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'coverage.cacheControl' });
    expect(lit.body.errors?.[0]?.extensions?.['http']).toBeUndefined();
    const mutation = await call({ query: 'mutation { coverage(memberId: "m_1") { cacheStatus } }' });
    expect(mutation.body.errors?.[0]?.extensions).toMatchObject({ code: 'PERMISSION_DENIED' });
    const v = await call({ query: 'query Q($m: CacheControl) { coverage(memberId: "m_1", cacheControl: $m) { cacheStatus } }', variables: { m: 'SOMETIMES' } });
    expect(v.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'coverage.cacheControl' });
    const bulk = await call({ query: '{ members { nodes { coverage(cacheControl: DEFAULT) { cacheStatus } } } }' });
    expect(bulk.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'members.nodes.coverage.cacheControl' });
  });

  it('refuses a query over the depth limit before running it', async () => {
    const { call, queries } = setup();
    const deep = await call({ query: '{ members { nodes { coverage { member { coverage { member { coverage { member { memberId } } } } } } } } }' });
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'QUERY_TOO_DEEP' });
    expect(queries).toHaveLength(0);
  });

  it('reads a page of member coverage with one getMany and reports misses per member', async () => {
    const { call, getManyCalls, queries } = setup();
    const r = await call({ query: '{ members(first: 5) { nodes { memberId coverage { cacheStatus error { code } data { status payer } } } pageInfo { hasNextPage } } }' });
    expect(r.body.errors).toBeUndefined();
    expect(getManyCalls).toHaveLength(1);
    expect(getManyCalls[0]).toHaveLength(5);
    expect(queries[0]?.limit).toBe(5);
    const nodes = (r.body.data?.['members'] as { nodes: { memberId: string; coverage: { cacheStatus: string; error: { code: string } | null; data: unknown } }[] }).nodes;
    expect(nodes[0]?.coverage).toEqual({ cacheStatus: 'MISS', error: { code: 'NOT_FOUND' }, data: null });
    expect(nodes[1]?.coverage).toEqual({ cacheStatus: 'HIT', error: null, data: { status: 'ACTIVE', payer: 'Aetna' } });
    const tooMany = await call({ query: '{ members(first: 1001) { nodes { memberId } } }' });
    expect(tooMany.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'first' });
    // A bad cursor is named as the client wrote it: the `after` argument.
    const badCursor = await call({ query: '{ members(first: 2, after: "garbage") { nodes { memberId } } }' });
    expect(badCursor.body.errors?.[0]).toMatchObject({ message: 'after: malformed cursor', extensions: { code: 'INVALID_ARGUMENT', field: 'after' } });
    const twoPages = await call({ query: '{ a: members { nodes { memberId } } b: members { nodes { memberId } } }' });
    expect(twoPages.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'members' });
  });

  it('answers a Connect NOT_FOUND as the member outcome, not a request error', async () => {
    const { call } = setup();
    const r = await call({ query: '{ coverage(memberId: "m_missing", cacheControl: CACHE_ONLY) { cacheStatus error { code } data { status } } }' });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data?.['coverage']).toMatchObject({ error: { code: 'NOT_FOUND' }, data: null });
  });

  it('production: only persisted operations, no GraphiQL', async () => {
    const { yoga, call } = setup('production');
    const arbitrary = await call({ query: '{ coverage(memberId: "m_1") { cacheStatus } }' });
    expect(arbitrary.body.errors?.[0]?.extensions?.['code']).toBe('PERMISSION_DENIED');
    const [hash] = [...loadPersistedOperations().entries()].find(([, q]) => q.startsWith('query Coverage(')) ?? [];
    const persisted = await call({ variables: { memberId: 'm_1' }, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(persisted.body.errors).toBeUndefined();
    expect(persisted.body.data?.['coverage']).toMatchObject({ cacheStatus: 'HIT' });
    const page = await yoga.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('<html');
    const localPage = await setup('local').yoga.fetch('http://localhost/graphql', { headers: { accept: 'text/html' } });
    expect(await localPage.text()).toContain('GraphiQL');
  });

  it('keeps the allow-list keyed by the sha256 of each operation and the generated MemberQueryInput current', () => {
    for (const [hash, text] of loadPersistedOperations()) expect(createHash('sha256').update(text).digest('hex')).toBe(hash);
    expect(readFileSync(join(__dirname, 'member-query.generated.graphql'), 'utf8')).toBe(memberQuerySdl());
  });

  it('counts every request in rte_rpc_requests_total as graphql:<root fields> with its code, refusals included', async () => {
    const { call, metrics, queries } = setup();
    await call({ query: 'query Anything { coverage(memberId: "m_1", cacheControl: CACHE_ONLY) { cacheStatus } }', operationName: 'Anything' });
    await call({ query: '{ coverage(memberId: "m_missing", cacheControl: CACHE_ONLY) { cacheStatus } }' });
    await call({ query: '{ members(first: 2) { nodes { memberId } } }' });
    await call({ query: '{ members(first: 1001) { nodes { memberId } } }' });
    await call({ query: '{ members { nodes { coverage { member { coverage { member { coverage { member { memberId } } } } } } } } }' });
    await call({ query: '{ coverage(memberId: "m_1") { cacheStatus } }' }, [Scope.BatchRead]);
    await call({ query: '{ coverage(memberId: "m_1") { cacheStatus } }' }, null);
    await call({ query: '{ coverage(' });
    const counted = (await metrics.rpcRequests.get()).values.map((v) => `${v.labels['method']} ${v.labels['code']} ${v.value}`).sort();
    expect(counted).toEqual([
      'graphql InvalidArgument 1',
      'graphql Unauthenticated 1',
      'graphql:coverage PermissionDenied 1',
      'graphql:coverage ok 2',
      'graphql:members InvalidArgument 2',
      'graphql:members ok 1',
    ]);
    expect((await metrics.rpcDuration.get()).values.find((v) => v.metricName === 'rte_rpc_duration_seconds_count' && v.labels['method'] === 'graphql:members')?.value).toBe(3);
    expect(queries).toHaveLength(1);
  });

  it('refuses an oversized `first` at once with its field, as a literal or a variable, before the directory is asked', async () => {
    const { call, queries } = setup();
    for (const r of [
      await call({ query: '{ members(first: 100000) { nodes { memberId } } }' }),
      await call({ query: 'query P($n: Int) { members(first: $n) { nodes { memberId } } }', variables: { n: 100000 } }),
      await call({ query: 'query P($n: Int) { members(first: $n) { nodes { memberId } } }', variables: { n: 0 } }),
    ]) {
      expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'first' });
      expect(r.body.errors?.[0]?.message).toContain('1..1000');
    }
    expect(queries).toHaveLength(0);
  });

  it('refuses more than MAX_COVERAGE_FIELDS root coverage fields (aliases, fragments) before any check runs', async () => {
    const { call } = setup();
    const aliases = (n: number) => Array.from({ length: n }, (_, i) => `c${i}: coverage(memberId: "m_${i}", cacheControl: PREFER_CACHED) { cacheStatus }`).join(' ');
    const ok = await call({ query: `{ ${aliases(MAX_COVERAGE_FIELDS)} }` });
    expect(ok.body.errors).toBeUndefined();
    expect(Object.keys(ok.body.data ?? {})).toHaveLength(MAX_COVERAGE_FIELDS);
    for (const query of [`{ ${aliases(MAX_COVERAGE_FIELDS + 1)} }`, `{ ...F a: members(first: 1) { nodes { memberId } } } fragment F on Query { ${aliases(MAX_COVERAGE_FIELDS + 1)} }`]) {
      const r = await call({ query });
      expect(r.body.data ?? null).toBeNull();
      expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'coverage' });
      expect(r.body.errors?.[0]?.message).toContain(`at most ${MAX_COVERAGE_FIELDS}`);
    }
  });

  it('adds no CORS headers of its own: the API server decides origins (CORS_ALLOWED_ORIGINS)', async () => {
    const { yoga } = setup();
    const pre = await yoga.fetch('http://localhost/graphql', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    const token = await mintDevToken({ service: 'unit', scopes: [Scope.EligibilityRead], secret: SECRET });
    const res = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ coverage(memberId: "m_1") { cacheStatus } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('refuses a members query with a sponsor id the directory does not know, naming it, before any page is read', async () => {
    const { call, queries, getManyCalls } = setup();
    const r = await call({ query: '{ members(query: { sponsorIds: ["s1", "SPONSOR_027"] }, first: 2) { nodes { memberId coverage(cacheControl: CACHE_ONLY) { cacheStatus } } } }' });
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(r.body.errors?.[0]?.message).toContain('SPONSOR_027');
    expect(r.body.errors?.[0]?.extensions?.['field']).toBe('query.sponsorIds[1]');
    expect(queries).toHaveLength(0);
    expect(getManyCalls).toHaveLength(0);
    const ok = await call({ query: '{ members(query: { sponsorIds: ["s1"] }, first: 2) { nodes { memberId } } }' });
    expect(ok.body.errors).toBeUndefined();
    expect(queries).toHaveLength(1);
  });

  it('refuses a subscription as a mutation is refused (PERMISSION_DENIED, read-only), even for a token without scopes', async () => {
    const { call } = setup();
    for (const scopes of [[], [Scope.EligibilityRead]]) {
      const r = await call({ query: 'subscription { coverage(memberId: "m_1") { cacheStatus } }' }, scopes);
      expect(r.status).toBe(403);
      expect(r.body.errors?.[0]?.extensions?.['code']).toBe('PERMISSION_DENIED');
    }
  });

  it("gives a Connect code to the GraphQL server's own request refusals (an unknown body key, a batched array)", async () => {
    const { call } = setup();
    for (const body of [{ query: '{ __typename }', turbo: 1 }, [{ query: '{ __typename }' }]]) {
      const r = await call(body);
      expect(r.body.errors?.[0]?.extensions?.['code']).toBe('INVALID_ARGUMENT');
    }
  });
});
