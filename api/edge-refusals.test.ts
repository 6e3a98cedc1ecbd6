import { Code } from '@connectrpc/connect';
import pino from 'pino';
import { CacheWarmingService } from '../gen/rte/v1/warming_pb';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { createMetrics } from '../lib/metrics';
import { createTokenVerifier } from './auth';
import { refusalCode } from './edge-refusals';
import { createApiServer, MAX_BODY_BYTES, type ApiServer } from './server';
import { createWarmingService } from './services/warming-service';

describe('requests refused while their body is decoded (before the interceptors)', () => {
  let api: ApiServer;
  let url: string;
  const lines: Record<string, unknown>[] = [];
  const metrics = createMetrics('edge-refusals-test');
  let graphqlCalls = 0;
  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    api = createApiServer({
      logger,
      metrics,
      verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: 'edge-test' }),
      routes: (router) => {
        router.service(CacheWarmingService, createWarmingService());
        router.service(EligibilityService, { checkEligibility: () => Promise.reject(new Error('not reached')) } as never);
      },
      checks: {},
      graphql: () => (_req, res) => {
        graphqlCalls++;
        res.end('{}');
      },
    });
    url = `http://127.0.0.1:${await api.server.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await api.server.close(500);
  });

  const post = (method: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/rte.v1.${method}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const counted = async (method: string, code: string) =>
    (await metrics.rpcRequests.get()).values.find((v) => v.labels['method'] === `rte.v1.${method}` && v.labels['code'] === code)?.value ?? 0;

  test('a mutating call with an unknown field: request id, no-store, counted once, audited as refused', async () => {
    const before = await counted('CacheWarmingService/WarmCache', 'InvalidArgument');
    const res = await post('CacheWarmingService/WarmCache', '{"memberIds":["m_1"],"turbo":1}', { 'x-request-id': 'req-edge-1' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string; message: string }).message).toContain('turbo');
    expect(res.headers.get('x-request-id')).toBe('req-edge-1');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await counted('CacheWarmingService/WarmCache', 'InvalidArgument')).toBe(before + 1);
    expect(lines.filter((l) => l['audit'] === true && l['requestId'] === 'req-edge-1')).toEqual([
      expect.objectContaining({ method: 'rte.v1.CacheWarmingService/WarmCache', code: 'InvalidArgument' }),
    ]);
  });

  test('the fast path (CheckEligibility, Connect JSON) and malformed JSON: the same, with a generated request id; no audit for a read', async () => {
    const before = await counted('EligibilityService/CheckEligibility', 'InvalidArgument');
    const res = await post('EligibilityService/CheckEligibility', '{"memberId":', { 'content-length': '12' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await counted('EligibilityService/CheckEligibility', 'InvalidArgument')).toBe(before + 1);
    expect(lines.filter((l) => l['requestId'] === res.headers.get('x-request-id'))).toEqual([]);
  });

  // Probe p18 F3: the audit line took any x-request-id verbatim (an 8 KB one made an 8 KB audit line; bidi characters
  // reached the operator's terminal).
  test('an x-request-id longer than 128 characters or outside [A-Za-z0-9._:-] is replaced by a generated one, in the answer and the audit line', async () => {
    for (const given of ['r'.repeat(129), 'r'.repeat(8_000), 'req id', 'req"},{"audit":true', 'req%E2%80%AEevil']) {
      const res = await post('CacheWarmingService/WarmCache', '{"memberIds":["m_1"]}', { 'x-request-id': given });
      expect(res.status).toBe(401);
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines.filter((l) => l['audit'] === true && l['requestId'] === id)).toHaveLength(1);
    }
    const kept = 'req.edge:ok-' + 'x'.repeat(116);
    expect(kept).toHaveLength(128);
    const res = await post('CacheWarmingService/WarmCache', '{"memberIds":["m_1"]}', { 'x-request-id': kept });
    expect(res.headers.get('x-request-id')).toBe(kept);
    expect(lines.filter((l) => l['audit'] === true && l['requestId'] === kept)).toHaveLength(1);
  });

  test('a refusal the interceptors made (no token) is not counted twice; an unknown path is not counted at all', async () => {
    const before = await counted('CacheWarmingService/WarmCache', 'Unauthenticated');
    const res = await post('CacheWarmingService/WarmCache', '{"memberIds":["m_1"]}', { 'x-request-id': 'req-edge-2' });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toBe('req-edge-2');
    expect(await counted('CacheWarmingService/WarmCache', 'Unauthenticated')).toBe(before + 1);
    expect(lines.filter((l) => l['audit'] === true && l['requestId'] === 'req-edge-2')).toHaveLength(1);
    const unknown = await post('CacheWarmingService/NoSuchMethod', '{}');
    expect(unknown.status).toBe(404);
    expect((await metrics.rpcRequests.get()).values.some((v) => String(v.labels['method']).includes('NoSuchMethod'))).toBe(false);
  });

  test('HTTP 405 (a GET or a PUT on a mutating RPC, a preflight not granted) is counted and audited as Unimplemented, not Internal (probe p16 #3)', async () => {
    const before = await counted('CacheWarmingService/WarmCache', 'Unimplemented');
    const get = await fetch(`${url}/rte.v1.CacheWarmingService/WarmCache?encoding=json&message=%7B%7D`, { headers: { 'x-request-id': 'req-edge-405' } });
    expect(get.status).toBe(405);
    expect(get.headers.get('x-request-id')).toBe('req-edge-405');
    const put = await fetch(`${url}/rte.v1.CacheWarmingService/WarmCache`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(put.status).toBe(405);
    const preflight = await fetch(`${url}/rte.v1.EligibilityService/CheckEligibility`, {
      method: 'OPTIONS',
      headers: { origin: 'https://not-allowed.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    expect(await counted('CacheWarmingService/WarmCache', 'Unimplemented')).toBe(before + 2);
    expect(await counted('EligibilityService/CheckEligibility', 'Unimplemented')).toBeGreaterThanOrEqual(1);
    expect(lines.filter((l) => l['audit'] === true && l['requestId'] === 'req-edge-405')).toEqual([expect.objectContaining({ code: 'Unimplemented' })]);
    expect((await metrics.rpcRequests.get()).values.filter((v) => v.labels['code'] === 'Internal')).toEqual([]);
  });

  test('an unknown path answers 404 with x-request-id (the caller\'s, else a generated one) and no-store (probe p16 #11b)', async () => {
    const given = await post('EligibilityService/NoSuchMethod', '{}', { 'x-request-id': 'req-edge-404' });
    expect(given.status).toBe(404);
    expect(given.headers.get('x-request-id')).toBe('req-edge-404');
    expect(given.headers.get('cache-control')).toBe('no-store');
    const generated = await fetch(`${url}/nowhere`);
    expect(generated.status).toBe(404);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('a GraphQL body over the 4 MiB cap is refused (413, RESOURCE_EXHAUSTED) before GraphQL reads it', async () => {
    const big = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"query":"${'x'.repeat(MAX_BODY_BYTES)}"}` });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await big.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('RESOURCE_EXHAUSTED');
    expect(graphqlCalls).toBe(0);
    await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(graphqlCalls).toBe(1);
  });
});

describe('refusalCode: every HTTP refusal gets an honest code (probe p16 #3)', () => {
  test.each([
    [405, Code.Unimplemented],
    [415, Code.InvalidArgument],
    [400, Code.InvalidArgument],
    [413, Code.ResourceExhausted],
    [501, Code.Unimplemented],
    [500, Code.Internal],
    [418, Code.Unknown],
    [599, Code.Unknown],
  ])('HTTP %i → %s', (status, code) => {
    expect(refusalCode(status, {})).toBe(code);
  });
  test('no 4xx and no 5xx other than 500 is counted as Internal; success is no refusal; gRPC answers keep their grpc-status', () => {
    for (let s = 400; s < 600; s++) if (s !== 500) expect(refusalCode(s, {})).not.toBe(Code.Internal);
    expect(refusalCode(200, {})).toBeUndefined();
    expect(refusalCode(200, { 'grpc-status': '12' })).toBe(Code.Unimplemented);
  });
});
