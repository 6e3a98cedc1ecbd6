/**
 * Probe p18 F7: the request header `Cache-Control: only-if-cached` selects CACHE_ONLY on every transport, not only a
 * Connect GET. A client that sends it as its cheap probe must get not_found without a Stedi call, whether it speaks
 * Connect POST, Connect GET or gRPC; a cheap directive that contradicts an explicit cache_control is refused, naming
 * it. `no-cache` (a billed live call, and what browsers and proxies add unasked) counts on a GET only.
 */
import { createClient, Code, ConnectError, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import type { EligibilityCacheEntry } from '../../activities/cache';
import { ACTIVE_COVERAGE } from '../../test/helpers/coverage-fixtures';
import { mintDevToken } from '../../lib/dev-token';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import type { EligibilityRefreshInput } from '../../workflows/eligibility-refresh.defs';
import { createTokenVerifier, Scope } from '../auth';
import { createApiServer, type ApiServer } from '../server';
import { createEligibilityService } from './eligibility-service';

const SECRET = 'cache-control-header-test';
const NOW = Date.parse('2024-11-15T09:30:00Z');
const PATH = '/rte.v1.EligibilityService/CheckEligibility';
const fresh: EligibilityCacheEntry = { summary: ACTIVE_COVERAGE, fetchedAt: NOW - 60_000, expiresAt: NOW + 3_600_000, source: 'realtime', outcome: 'success' };

describe('CheckEligibility honours the Cache-Control request header on every transport', () => {
  let api: ApiServer;
  let url: string;
  let auth: string;
  const stored = new Map<string, EligibilityCacheEntry>();
  const liveChecks: EligibilityRefreshInput[] = [];
  beforeAll(async () => {
    const service = createEligibilityService({
      cache: { get: async (memberId, operation) => stored.get(`${memberId}/${operation}`) ?? null, tryClaimRefresh: async () => true },
      refresher: {
        // Stands in for the Stedi call: counted, and it stores a fresh answer as the refresh workflow would.
        refresh: async (input) => {
          liveChecks.push(input);
          stored.set(`${input.memberId}/${input.operation}`, fresh);
          return { outcome: 'success', fetchedAt: fresh.fetchedAt, expiresAt: fresh.expiresAt };
        },
        refreshInBackground: async () => undefined,
      },
      memberHashSecret: 'h',
      metrics: createMetrics('cache-control-header-service'),
      logger: silentLogger(),
      refreshWaitMs: 1000,
      now: () => NOW,
    });
    api = createApiServer({
      logger: silentLogger(),
      metrics: createMetrics('cache-control-header-server'),
      verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: SECRET }),
      routes: (router) => router.service(EligibilityService, service),
      checks: {},
    });
    url = `http://127.0.0.1:${await api.server.listen(0, '127.0.0.1')}`;
    auth = `Bearer ${await mintDevToken({ service: 'svc', scopes: [Scope.EligibilityRead], secret: SECRET })}`;
  });
  afterAll(async () => {
    await api.server.close(500);
  });
  beforeEach(() => {
    stored.clear();
    liveChecks.length = 0;
  });

  const post = (body: object, cacheControl: string) =>
    fetch(`${url}${PATH}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', 'cache-control': cacheControl }, body: JSON.stringify(body) });

  it('a Connect POST with only-if-cached and nothing cached answers not_found (rte-cache-status MISS) without a live check', async () => {
    const res = await post({ memberId: 'm_0000987' }, 'only-if-cached');
    expect(res.status).toBe(404);
    expect(res.headers.get('rte-cache-status')).toBe('MISS');
    expect(((await res.json()) as { code: string }).code).toBe('not_found');
    expect(liveChecks).toHaveLength(0);
  });

  it.each([
    ['Connect POST (binary)', (u: string) => createConnectTransport({ baseUrl: u, httpVersion: '1.1' })],
    ['Connect GET', (u: string) => createConnectTransport({ baseUrl: u, httpVersion: '1.1', useHttpGet: true })],
    ['gRPC metadata', (u: string) => createGrpcTransport({ baseUrl: u })],
  ])('%s: only-if-cached is a cache miss without a live check; max-stale serves the cached answer', async (_name, transport: (u: string) => Transport) => {
    const client = createClient(EligibilityService, transport(url));
    const miss = await client.checkEligibility({ memberId: 'm_1' }, { headers: { authorization: auth, 'cache-control': 'only-if-cached' } }).catch((e: unknown) => ConnectError.from(e));
    expect(miss).toBeInstanceOf(ConnectError);
    expect((miss as ConnectError).code).toBe(Code.NotFound);
    expect(liveChecks).toHaveLength(0);

    stored.set('m_1/check_eligibility', fresh);
    const served = await client.checkEligibility({ memberId: 'm_1' }, { headers: { authorization: auth, 'cache-control': 'max-stale' } });
    expect(served.cacheMetadata?.cached).toBe(true);
    expect(liveChecks).toHaveLength(0);
  });

  it.each([
    ['Connect POST (binary)', (u: string) => createConnectTransport({ baseUrl: u, httpVersion: '1.1' }), 0],
    ['gRPC metadata', (u: string) => createGrpcTransport({ baseUrl: u }), 0],
    ['Connect GET', (u: string) => createConnectTransport({ baseUrl: u, httpVersion: '1.1', useHttpGet: true }), 1],
  ])('%s: no-cache (what a browser with "Disable cache" or a proxy adds) makes a live check only on a GET; %d live check(s)', async (_name, transport: (u: string) => Transport, live: number) => {
    const client = createClient(EligibilityService, transport(url));
    stored.set('m_1/check_eligibility', fresh);
    const r = await client.checkEligibility({ memberId: 'm_1' }, { headers: { authorization: auth, 'cache-control': 'no-cache' } });
    expect(r.cacheMetadata?.cached).toBe(live === 0);
    expect(liveChecks).toHaveLength(live);
    // An explicit mode wins over no-cache everywhere, without a conflict (it may have been added unasked).
    const explicit = await client.checkEligibility({ memberId: 'm_1', cacheControl: 1 }, { headers: { authorization: auth, 'cache-control': 'no-cache' } });
    expect(explicit.cacheMetadata?.cached).toBe(true);
    expect(liveChecks).toHaveLength(live);
  });

  it('a header that contradicts an explicit cache_control is invalid_argument naming cache_control; one that agrees is served', async () => {
    const conflict = await post({ memberId: 'm_1', cacheControl: 'CACHE_CONTROL_BYPASS_CACHE' }, 'only-if-cached');
    expect(conflict.status).toBe(400);
    const body = (await conflict.json()) as { code: string; message: string };
    expect(body.code).toBe('invalid_argument');
    expect(body.message).toMatch(/^cache_control: CACHE_CONTROL_BYPASS_CACHE conflicts with the request header Cache-Control: only-if-cached/);
    expect(liveChecks).toHaveLength(0);

    const agree = await post({ memberId: 'm_1', cacheControl: 'CACHE_CONTROL_CACHE_ONLY' }, 'only-if-cached');
    expect(agree.status).toBe(404);
    expect(liveChecks).toHaveLength(0);
  });

  // Probe p18 F10: WarmCache warms `check_eligibility`; an app asking for get_benefits must be served that warm.
  it('operation get_benefits is served from the eligibility entry (the one WarmCache warms); an unknown operation is refused', async () => {
    stored.set('m_2/check_eligibility', fresh);
    const benefits = await post({ memberId: 'm_2', operation: 'get_benefits', cacheControl: 'CACHE_CONTROL_CACHE_ONLY' }, '');
    expect(benefits.status).toBe(200);
    expect(((await benefits.json()) as { cacheStatus: string }).cacheStatus).toBe('CACHE_STATUS_HIT');
    const unknown = await post({ memberId: 'm_2', operation: 'teleport' }, '');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/^operation: unknown operation "teleport" \(known: check_eligibility, get_coverage, get_benefits, estimate_cost\)/);
    expect(liveChecks).toHaveLength(0);
  });
});
