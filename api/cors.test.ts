import { CacheWarmingService } from '../gen/rte/v1/warming_pb';
import { silentLogger } from '../lib/logger';
import { createMetrics } from '../lib/metrics';
import { createTokenVerifier } from './auth';
import { createApiServer, type ApiServer } from './server';
import { createWarmingService } from './services/warming-service';

describe('CORS for browser clients (Connect / gRPC-Web) from configured origins', () => {
  let api: ApiServer;
  let url: string;
  beforeAll(async () => {
    api = createApiServer({
      logger: silentLogger(),
      metrics: createMetrics('cors-test'),
      verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: 'cors-test' }),
      routes: (router) => router.service(CacheWarmingService, createWarmingService()),
      checks: {},
      corsAllowedOrigins: ['https://app.example.com'],
    });
    url = `http://127.0.0.1:${await api.server.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await api.server.close(500);
  });

  const preflight = (origin: string) =>
    fetch(`${url}/rte.v1.CacheWarmingService/GetWarmingStats`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization,connect-protocol-version' },
    });

  test('a preflight from an allowed origin is answered with Connect/gRPC-Web methods and headers', async () => {
    const r = await preflight('https://app.example.com');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(r.headers.get('access-control-allow-methods')).toContain('POST');
    const allowHeaders = r.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['content-type', 'authorization', 'connect-protocol-version', 'x-grpc-web']) expect(allowHeaders).toContain(h);
  });

  test('an actual call from an allowed origin carries CORS headers; other origins get none', async () => {
    const call = (origin: string) =>
      fetch(`${url}/rte.v1.CacheWarmingService/GetWarmingStats`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{}' });
    const ok = await call('https://app.example.com');
    expect(ok.status).toBe(401); // no token: the answer itself is unchanged, but the browser may read it
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(ok.headers.get('access-control-expose-headers')!.toLowerCase()).toContain('grpc-status');
    const other = await call('https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
  });
});
