import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { BatchEligibilityService } from '../gen/rte/v1/batch_pb';
import { CacheWarmingService } from '../gen/rte/v1/warming_pb';
import { SignJWT } from 'jose';
import { mintDevToken } from '../lib/dev-token';
import { SubmitBatchRequestSchema } from '../gen/rte/v1/batch_pb';
import { actingService, createAuthInterceptor, createTokenVerifier, REQUIRED_SCOPES, Scope } from './auth';
import { createBatchService, type BatchServiceDeps } from './services/batch-service';
import { createInMemoryBatchErrorStore, createInMemoryMemberListStore } from '../activities/batch/memory-stores';
import { createInMemorySubmitRateLimiter } from '../lib/batch/submit-rate-limiter';
import { createWarmingService } from './services/warming-service';

const secret = 'unit-test-secret';
// The handlers behind auth are irrelevant here: a refused call must never reach Temporal.
const unreachable = () => {
  throw new Error('auth let a call through to the handler');
};
const batchDeps: BatchServiceDeps = {
  temporal: { start: unreachable, startAndAccept: unreachable, exists: unreachable, accepted: unreachable, status: unreachable, cancel: unreachable, pause: unreachable, resume: unreachable, list: unreachable },
  lists: createInMemoryMemberListStore(),
  errors: createInMemoryBatchErrorStore(),
  rateLimiter: createInMemorySubmitRateLimiter({ limit: 10, windowMs: 3_600_000 }),
  taskQueue: 'rte-main',
};
const verify = createTokenVerifier({ mode: 'dev-hs256', devSecret: secret });

function clients(token?: string) {
  const transport = createRouterTransport(
    (router) => {
      router.service(BatchEligibilityService, createBatchService(batchDeps));
      router.service(CacheWarmingService, createWarmingService());
    },
    { router: { interceptors: [createAuthInterceptor(verify)] } },
  );
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    batch: createClient(BatchEligibilityService, transport),
    warming: createClient(CacheWarmingService, transport),
    headers,
  };
}

async function codeOf(p: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe('auth interceptor', () => {
  it('refuses a call without a token with unauthenticated', async () => {
    const { batch } = clients();
    expect(await codeOf(batch.listBatches({}))).toBe(Code.Unauthenticated);
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await mintDevToken({ service: 'svc', scopes: [Scope.BatchRead], secret: 'not-the-secret' });
    const { batch, headers } = clients(forged);
    expect(await codeOf(batch.listBatches({}, { headers }))).toBe(Code.Unauthenticated);
  });

  it('refuses a token whose sub could not name its batches (a / or a space), before any handler runs', async () => {
    for (const service of ['edge/r5', 'spiffe://example.org/ns/a', 'two words']) {
      const token = await mintDevToken({ service, scopes: [Scope.BatchSubmit, Scope.BatchRead], secret });
      const { batch, headers } = clients(token);
      const err = await batch.listBatches({}, { headers }).catch((e: unknown) => ConnectError.from(e));
      expect((err as ConnectError).code).toBe(Code.Unauthenticated);
      expect((err as ConnectError).rawMessage).toContain('sub');
    }
  });

  it('reads scopes given as a JSON array in scope or scp, as some identity providers issue them', async () => {
    for (const claims of [{ scope: [Scope.WarmingRead] }, { scp: [Scope.WarmingRead] }, { scp: Scope.WarmingRead }]) {
      const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setExpirationTime('60s').sign(new TextEncoder().encode(secret));
      expect((await verify(token)).scopes.has(Scope.WarmingRead)).toBe(true);
    }
  });

  it('refuses a token valid for longer than 31 days, or issued in the future', async () => {
    const key = new TextEncoder().encode(secret);
    const nowS = Math.floor(Date.now() / 1000);
    const century = await new SignJWT({ scope: Scope.BatchRead }).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setIssuedAt().setExpirationTime(nowS + 100 * 365 * 86_400).sign(key);
    await expect(verify(century)).rejects.toThrow(/more than 31 days/);
    const future = await new SignJWT({ scope: Scope.BatchRead }).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setIssuedAt(nowS + 86_400).setExpirationTime(nowS + 2 * 86_400).sign(key);
    await expect(verify(future)).rejects.toThrow(/in the future/);
    const month = await new SignJWT({ scope: Scope.BatchRead }).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setIssuedAt().setExpirationTime(nowS + 30 * 86_400).sign(key);
    expect((await verify(month)).service).toBe('svc');
  });

  it('refuses an expired token', async () => {
    const expired = await mintDevToken({ service: 'svc', scopes: [Scope.BatchRead], secret, expiresInSeconds: -60 });
    const { batch, headers } = clients(expired);
    expect(await codeOf(batch.listBatches({}, { headers }))).toBe(Code.Unauthenticated);
  });

  it('refuses a valid token without the method scope with permission_denied', async () => {
    const token = await mintDevToken({ service: 'svc', scopes: [Scope.BatchRead], secret });
    const { batch, headers } = clients(token);
    const req = create(SubmitBatchRequestSchema, { clientServiceName: 'svc', clientJobId: 'j1' });
    expect(await codeOf(batch.submitBatch(req, { headers }))).toBe(Code.PermissionDenied);
  });

  it('lets a scoped caller through to the handler', async () => {
    const token = await mintDevToken({ service: 'svc', scopes: [Scope.WarmingRead], secret });
    const { warming, headers } = clients(token);
    // The handler itself answers unimplemented until cache warming lands: auth passed.
    expect(await codeOf(warming.getWarmingStats({}, { headers }))).toBe(Code.Unimplemented);
  });

  it('treats rte:admin as every scope', async () => {
    const token = await mintDevToken({ service: 'ops', scopes: [Scope.Admin], secret });
    const { warming, headers } = clients(token);
    expect(await codeOf(warming.warmCache({}, { headers }))).toBe(Code.Unimplemented);
  });

  it('has a policy for every RPC of every service', () => {
    for (const svc of [BatchEligibilityService, CacheWarmingService]) {
      for (const m of svc.methods) expect(REQUIRED_SCOPES[`${svc.typeName}/${m.name}`]).toBeDefined();
    }
  });
});

describe('actingService', () => {
  const p = (scopes: string[]) => ({ service: 'medication-service', scopes: new Set(scopes) });
  it('defaults to the caller and allows its own name', () => {
    expect(actingService(p([]), '', 'client_service_name')).toBe('medication-service');
    expect(actingService(p([]), 'medication-service', 'client_service_name')).toBe('medication-service');
  });
  it('refuses acting for another service without rte:admin, naming the field', () => {
    expect(() => actingService(p([Scope.BatchSubmit]), 'billing', 'client_service_name')).toThrow(/client_service_name.*billing/);
  });
  it('allows admins to act for any service', () => {
    expect(actingService(p([Scope.Admin]), 'billing', 'client_service_name')).toBe('billing');
  });
});

describe('token verifier cache (issue 14)', () => {
  it('remembers a verified token only until its exp: past it the token is refused', async () => {
    let clock = Date.now();
    const v = createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }, { now: () => clock, cacheMaxMs: 3_600_000 });
    const token = await mintDevToken({ service: 'svc', scopes: [Scope.BatchRead], secret, expiresInSeconds: 60 });
    expect((await v(token)).service).toBe('svc');
    clock += 30_000;
    expect((await v(token)).scopes.has(Scope.BatchRead)).toBe(true);
    clock += 31_000;
    await expect(v(token)).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it('cached() gives a remembered token\'s principal only before its exp, and nothing for a token never verified', async () => {
    let clock = Date.now();
    const v = createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }, { now: () => clock, cacheMaxMs: 3_600_000 });
    const token = await mintDevToken({ service: 'svc', scopes: [Scope.BatchRead], secret, expiresInSeconds: 60 });
    const forged = await mintDevToken({ service: 'svc', scopes: [Scope.Admin], secret: 'another-secret' });
    expect(v.cached?.(token)).toBeUndefined();
    await v(token);
    expect(v.cached?.(token)?.service).toBe('svc');
    await expect(v(forged)).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(v.cached?.(forged)).toBeUndefined();
    clock += 61_000;
    expect(v.cached?.(token)).toBeUndefined();
  });

  it('never remembers a refused token, and forgets the oldest beyond its size', async () => {
    const v = createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }, { cacheSize: 1 });
    const forged = await mintDevToken({ service: 'svc', scopes: [Scope.Admin], secret: 'another-secret' });
    await expect(v(forged)).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(v(forged)).rejects.toMatchObject({ code: Code.Unauthenticated });
    const a = await mintDevToken({ service: 'a', scopes: [], secret });
    const b = await mintDevToken({ service: 'b', scopes: [], secret });
    expect((await v(a)).service).toBe('a');
    expect((await v(b)).service).toBe('b');
    expect((await v(a)).service).toBe('a');
  });
});
