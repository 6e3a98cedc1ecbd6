import { create, toJson } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { CacheMetadataSchema, CacheStatus } from '../gen/rte/v1/common_pb';
import { CheckEligibilityResponseSchema, CoverageSummary_Status, CoverageSummarySchema, EligibilityErrorDetailSchema, EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { FieldError } from '../lib/errors';
import { mintDevToken } from '../lib/dev-token';
import { silentLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { createTokenVerifier, Scope } from './auth';
import { createMemoSerializer } from './fast-unary';
import { createApiServer, type ApiServer } from './server';

/**
 * api/fast-unary.ts must answer CheckEligibility exactly as connect-node does: the same request is sent to a server
 * with the fast path and to one without it, and status, body and headers are compared (request ids and dates aside).
 */
const SECRET = 'fast-unary-test';
const PATH = '/rte.v1.EligibilityService/CheckEligibility';

// Reused across calls, as the eligibility service reuses a cached entry's messages (the fast path memoizes their JSON).
const SHARED = {
  coverage: create(CoverageSummarySchema, { status: CoverageSummary_Status.ACTIVE, payerId: 'P1', payerName: 'Payer "One"', planName: 'Plan ü' }),
  errors: [create(EligibilityErrorDetailSchema, { code: '72', description: 'Invalid member id' })],
  cacheMetadata: create(CacheMetadataSchema, { cached: true, ageSeconds: 7, expiresAt: timestampFromMs(1_732_000_000_123), fetchedAt: timestampFromMs(1_731_990_000_000), source: 'warming' }),
};

function routes(calls: string[]) {
  return (router: Parameters<Parameters<typeof createApiServer>[0]['routes']>[0]) =>
    router.service(EligibilityService, {
      checkEligibility(req, ctx) {
        calls.push(req.memberId);
        if (req.memberId === 'FIELD') throw new FieldError('member_id', 'is not a member we know');
        if (req.memberId === 'MISS') throw new ConnectError('cache miss', Code.NotFound, { 'rte-cache-status': 'MISS' });
        if (req.memberId === 'BOOM') throw new Error('unexpected');
        ctx.responseHeader.set('rte-cache-status', 'HIT');
        ctx.responseHeader.set('cache-control', 'private, max-age=60');
        ctx.responseTrailer.set('x-note', 'trailing');
        // BIG: a response over connect-node's 1 KiB compression threshold.
        const stediCheckId = req.memberId === 'BIG' ? 'x'.repeat(3000) : `ec_${req.memberId}`;
        if (req.memberId === 'SHARED') return create(CheckEligibilityResponseSchema, { memberId: req.memberId, stediCheckId, cacheStatus: CacheStatus.HIT, ...SHARED });
        return create(CheckEligibilityResponseSchema, { memberId: req.memberId, stediCheckId, cacheStatus: CacheStatus.HIT });
      },
    });
}

describe('the CheckEligibility fast path answers like connect-node', () => {
  const servers: ApiServer[] = [];
  const calls: Record<'fast' | 'connect', string[]> = { fast: [], connect: [] };
  const urls: Record<'fast' | 'connect', string> = { fast: '', connect: '' };
  let token: string;
  let wrongScope: string;
  beforeAll(async () => {
    token = await mintDevToken({ service: 'svc', scopes: [Scope.EligibilityRead], secret: SECRET });
    wrongScope = await mintDevToken({ service: 'svc', scopes: ['rte:batch:read'], secret: SECRET });
    for (const kind of ['fast', 'connect'] as const) {
      const api = createApiServer({
        logger: silentLogger(),
        metrics: createMetrics(`fast-unary-${kind}`),
        verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: SECRET }),
        routes: routes(calls[kind]),
        checks: {},
        fastUnary: kind === 'fast',
      });
      servers.push(api);
      urls[kind] = `http://127.0.0.1:${await api.server.listen(0, '127.0.0.1')}`;
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.server.close(500);
  });

  async function both(body: string, headers: Record<string, string> = {}) {
    const out = [];
    for (const kind of ['fast', 'connect'] as const) {
      const res = await fetch(`${urls[kind]}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body });
      const raw = Buffer.from(await res.arrayBuffer());
      const h = Object.fromEntries([...res.headers].filter(([k]) => k !== 'date' && k !== 'x-request-id' && k !== 'keep-alive' && k !== 'connection'));
      out.push({ status: res.status, headers: h, body: raw.toString('utf8'), requestId: res.headers.get('x-request-id') });
    }
    expect({ ...out[0], requestId: undefined }).toEqual({ ...out[1], requestId: undefined });
    // Each path makes up its own request id (or echoes the caller's), present exactly when Connect's is.
    expect(out[0]!.requestId === null).toBe(out[1]!.requestId === null);
    return out[0]!;
  }

  test('an answer: status, body, headers and trailers (as trailer- headers) are the same', async () => {
    const r = await both(JSON.stringify({ memberId: 'M1', cacheControl: 'CACHE_CONTROL_CACHE_ONLY' }));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ memberId: 'M1', stediCheckId: 'ec_M1', cacheStatus: 'CACHE_STATUS_HIT' });
    expect(r.headers).toMatchObject({ 'content-type': 'application/json', 'rte-cache-status': 'HIT', 'trailer-x-note': 'trailing' });
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('an answer with reused coverage and error messages: the same bytes on first and later calls', async () => {
    const first = await both(JSON.stringify({ memberId: 'SHARED' }));
    const again = await both(JSON.stringify({ memberId: 'SHARED' }));
    expect(again.body).toBe(first.body);
    expect(JSON.parse(first.body)).toMatchObject({
      coverage: { status: 'STATUS_ACTIVE', payerName: 'Payer "One"', planName: 'Plan ü' },
      errors: [{ code: '72' }],
      cacheMetadata: { cached: true, ageSeconds: 7, expiresAt: '2024-11-19T07:06:40.123Z', fetchedAt: '2024-11-19T04:20:00Z', source: 'warming' },
    });
  });

  test('a caller-sent x-request-id is echoed by both', async () => {
    const r = await both(JSON.stringify({ memberId: 'M2' }), { 'x-request-id': 'req-123' });
    expect(r.requestId).toBe('req-123');
  });

  test.each([
    // Errors thrown past the interceptors are marked no-store by the observability interceptor; a body that cannot be
    // parsed is refused before them, by both paths alike, and marked no-store by api/edge-refusals.ts.
    ['a field error from the implementation', JSON.stringify({ memberId: 'FIELD' }), 400, 'no-store'],
    ['a not_found with metadata', JSON.stringify({ memberId: 'MISS' }), 404, 'no-store'],
    ['an unexpected error (internal)', JSON.stringify({ memberId: 'BOOM' }), 500, 'no-store'],
    ['an unknown field', JSON.stringify({ memberId: 'M3', bogus: 1 }), 400, 'no-store'],
    ['an unknown enum string', JSON.stringify({ memberId: 'M3', cacheControl: 'CACHE_CONTROL_NOPE' }), 400, 'no-store'],
    ['a body that is not JSON', '{"memberId":', 400, 'no-store'],
    ['a wrongly typed field', JSON.stringify({ memberId: 5 }), 400, 'no-store'],
  ])('%s: same Connect error JSON and status', async (_name, body, status, cacheControl) => {
    const r = await both(body);
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body)).toHaveProperty('code');
    expect(r.headers['cache-control']).toBe(cacheControl);
  });

  test('no token, a bad token and a missing scope are refused the same way, before the implementation', async () => {
    const before = { fast: calls.fast.length, connect: calls.connect.length };
    expect((await both('{"memberId":"M4"}', { authorization: '' })).status).toBe(401);
    expect((await both('{"memberId":"M4"}', { authorization: 'Bearer not-a-jwt' })).status).toBe(401);
    expect((await both('{"memberId":"M4"}', { authorization: `Bearer ${wrongScope}` })).status).toBe(403);
    expect(calls.fast.length).toBe(before.fast);
    expect(calls.connect.length).toBe(before.connect);
  });

  test('a large answer is gzip-compressed for a client that accepts it, like connect-node', async () => {
    const r = await both(JSON.stringify({ memberId: 'BIG' }), { 'accept-encoding': 'gzip' });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe('gzip');
    const raw = await fetch(`${urls.fast}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' }, body: '{"memberId":"BIG"}' });
    expect(raw.headers.get('content-encoding')).toBe('gzip');
    // fetch decodes it: the body is the full answer.
    expect(JSON.parse(Buffer.from(await raw.arrayBuffer()).toString('utf8')).stediCheckId).toHaveLength(3000);
  });

  test('requests the fast path does not take still work through Connect (binary, GET)', async () => {
    const bin = await fetch(`${urls.fast}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/proto', authorization: `Bearer ${token}` }, body: new Uint8Array([10, 2, 77, 53]) });
    expect(bin.status).toBe(200);
    expect(bin.headers.get('content-type')).toBe('application/proto');
    const get = await fetch(`${urls.fast}${PATH}?encoding=json&message=${encodeURIComponent('{"memberId":"M6"}')}`, { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(200);
    expect(calls.fast).toContain('M5');
    expect(calls.fast).toContain('M6');
  });
});

describe('createMemoSerializer', () => {
  it('writes the same bytes as toJson + JSON.stringify (strings, enums, unknown enum numbers, memoized parts; both implicit-field options)', () => {
    const messages = [
      create(CheckEligibilityResponseSchema, { memberId: 'M "1" ü', stediCheckId: 'ec_1', cacheStatus: CacheStatus.HIT, ...SHARED }),
      create(CheckEligibilityResponseSchema, { memberId: '', stediCheckId: '', cacheStatus: CacheStatus.UNSPECIFIED }),
      create(CheckEligibilityResponseSchema, { memberId: 'M2', cacheStatus: 99 as CacheStatus, errors: SHARED.errors }),
    ];
    for (const jsonOptions of [{ alwaysEmitImplicit: true }, { alwaysEmitImplicit: false }]) {
      const serialize = createMemoSerializer(CheckEligibilityResponseSchema, ['coverage', 'errors', 'cacheMetadata'], jsonOptions);
      for (const m of [...messages, ...messages]) {
        expect(Buffer.from(serialize(m)).toString()).toBe(JSON.stringify(toJson(CheckEligibilityResponseSchema, m, jsonOptions)));
      }
    }
  });

  it('a remembered answer is reused only for the same field values (another member, status, id or metadata on the same coverage: rewritten)', () => {
    const serialize = createMemoSerializer(CheckEligibilityResponseSchema, ['coverage', 'errors', 'cacheMetadata'], {});
    const base = { memberId: 'M1', stediCheckId: 'ec_1', cacheStatus: CacheStatus.HIT, ...SHARED };
    const variants = [
      base,
      { ...base, memberId: 'M2' },
      { ...base, cacheStatus: CacheStatus.STALE },
      { ...base, stediCheckId: 'ec_2' },
      { ...base, cacheMetadata: create(CacheMetadataSchema, { cached: true, ageSeconds: 8, source: 'warming' }) },
      { ...base, errors: [] },
      base,
    ].map((v) => create(CheckEligibilityResponseSchema, v));
    const outputs = [...variants, ...variants].map((m) => {
      const out = serialize(m);
      expect(out).toBe(JSON.stringify(toJson(CheckEligibilityResponseSchema, m)));
      return out;
    });
    expect(new Set(outputs).size).toBe(6);
  });

  it('a message created again with the same values (a fresh errors list of the same objects) gets the remembered answer; another error in the list does not', () => {
    const serialize = createMemoSerializer(CheckEligibilityResponseSchema, ['coverage', 'errors', 'cacheMetadata'], {});
    const base = { memberId: 'M1', stediCheckId: 'ec_1', cacheStatus: CacheStatus.HIT, ...SHARED };
    const first = serialize(create(CheckEligibilityResponseSchema, base));
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      // protobuf-es's create copies a repeated field into a new array: the answer is still the remembered one.
      expect(serialize(create(CheckEligibilityResponseSchema, base))).toBe(first);
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
    // As bytes (what the fast path writes): the same JSON, first as the string, then as its remembered UTF-8 bytes.
    const again = create(CheckEligibilityResponseSchema, { ...base, memberId: 'M "3" ü' });
    const expected = JSON.stringify(toJson(CheckEligibilityResponseSchema, again));
    for (let i = 0; i < 3; i++) expect(Buffer.from(serialize.bytes(create(CheckEligibilityResponseSchema, { ...base, memberId: 'M "3" ü' }))).toString('utf8')).toBe(expected);
    expect(serialize.bytes(again)).toBeInstanceOf(Uint8Array);
    const otherError = create(EligibilityErrorDetailSchema, { code: '75', description: 'Subscriber/Insured Not Found' });
    for (const errors of [[otherError], [...SHARED.errors, otherError]]) {
      const m = create(CheckEligibilityResponseSchema, { ...base, errors });
      expect(serialize(m)).toBe(JSON.stringify(toJson(CheckEligibilityResponseSchema, m)));
    }
  });
});
