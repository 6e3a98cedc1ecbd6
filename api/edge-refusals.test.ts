import pino from 'pino';
import { CacheWarmingService } from '../gen/rte/v1/warming_pb';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { createMetrics } from '../lib/metrics';
import { createTokenVerifier } from './auth';
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

  test('a GraphQL body over the 4 MiB cap is refused (413, RESOURCE_EXHAUSTED) before GraphQL reads it', async () => {
    const big = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"query":"${'x'.repeat(MAX_BODY_BYTES)}"}` });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('RESOURCE_EXHAUSTED');
    expect(graphqlCalls).toBe(0);
    await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(graphqlCalls).toBe(1);
  });
});
