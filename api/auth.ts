import { Code, ConnectError, createContextKey, type Interceptor } from '@connectrpc/connect';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { CLIENT_SERVICE_PATTERN } from '../lib/batch/submit-validation';
import { methodPath } from './method-path';

/** Scopes from ARCHITECTURE.md §4. */
export const Scope = {
  EligibilityRead: 'rte:eligibility:read',
  BatchSubmit: 'rte:batch:submit',
  BatchRead: 'rte:batch:read',
  BatchCancel: 'rte:batch:cancel',
  WarmingWrite: 'rte:warming:write',
  WarmingRead: 'rte:warming:read',
  Admin: 'rte:admin',
  /** Decode/encode Temporal payloads through the codec server (operators). */
  CodecDecode: 'rte:codec:decode',
} as const;
export type ScopeName = (typeof Scope)[keyof typeof Scope];

export interface Principal {
  /** The caller's service identity (JWT `sub`). */
  service: string;
  scopes: ReadonlySet<string>;
}

export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'authenticated caller' });

/**
 * Scope each RPC requires, keyed by "<service typeName>/<method name>". An RPC missing from this table is
 * refused (deny by default), so adding an RPC to the proto forces a decision here.
 */
export const REQUIRED_SCOPES: Readonly<Record<string, ScopeName>> = {
  'rte.v1.EligibilityService/CheckEligibility': Scope.EligibilityRead,
  'rte.v1.BatchEligibilityService/SubmitBatch': Scope.BatchSubmit,
  'rte.v1.BatchEligibilityService/GetBatchStatus': Scope.BatchRead,
  'rte.v1.BatchEligibilityService/ListBatches': Scope.BatchRead,
  'rte.v1.BatchEligibilityService/WatchBatchStatus': Scope.BatchRead,
  'rte.v1.BatchEligibilityService/CancelBatch': Scope.BatchCancel,
  // Pausing and resuming stop and restart work the way cancelling does: the same scope.
  'rte.v1.BatchEligibilityService/PauseBatch': Scope.BatchCancel,
  'rte.v1.BatchEligibilityService/ResumeBatch': Scope.BatchCancel,
  // A submission first (its stream is the submitter's own batch, as SubmitBatch's answer is).
  'rte.v1.BatchEligibilityService/SubmitBatchStreaming': Scope.BatchSubmit,
  'rte.v1.CacheWarmingService/WarmCache': Scope.WarmingWrite,
  'rte.v1.CacheWarmingService/ScheduleWarming': Scope.WarmingWrite,
  'rte.v1.CacheWarmingService/GetWarmingStats': Scope.WarmingRead,
  // One warming job's state; a WarmCache job is further limited to the service that asked for it (warming-job.ts).
  'rte.v1.CacheWarmingService/GetWarmingJob': Scope.WarmingRead,
};

export type AuthSettings =
  | { mode: 'dev-hs256'; devSecret: string }
  | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };

export type TokenVerifier = ((token: string) => Promise<Principal>) & {
  /** The principal of a token verified before and still remembered (before its exp), without a promise; else undefined. */
  cached?: (token: string) => Principal | undefined;
};

export interface TokenVerifierOptions {
  /** Verified tokens remembered (by token string) so a client reusing its token skips signature checks. Default 10,000; 0 = off. */
  cacheSize?: number;
  /** Longest a verified token is remembered (a JWKS key removed by the identity provider stops working after this). Default 60 s. */
  cacheMaxMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * Bearer-token verification. A token that verified is remembered until the earlier of its `exp` and `cacheMaxMs`
 * (issue 14: HMAC/RSA verification and claim parsing were a large share of a cached CheckEligibility); a remembered
 * token past its `exp` is verified again and so refused. Refused tokens are never remembered.
 */
/** Longest remaining lifetime a token may have (rtectl token --ttl allows up to 30 days). */
export const MAX_TOKEN_LIFETIME_MS = 31 * 86_400_000;
const CLOCK_SKEW_MS = 60_000;

export function createTokenVerifier(settings: AuthSettings, opts: TokenVerifierOptions = {}): TokenVerifier {
  const cacheSize = opts.cacheSize ?? 10_000;
  const cacheMaxMs = opts.cacheMaxMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const verified = new Map<string, { principal: Principal; until: number }>();
  let key: Uint8Array | JWTVerifyGetKey;
  let options: Parameters<typeof jwtVerify>[2];
  if (settings.mode === 'dev-hs256') {
    key = new TextEncoder().encode(settings.devSecret);
    options = { algorithms: ['HS256'] };
  } else {
    key = createRemoteJWKSet(new URL(settings.jwksUrl));
    options = { issuer: settings.issuer, audience: settings.audience, algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'] };
  }
  const cached = (token: string): Principal | undefined => {
    const known = verified.get(token);
    return known && now() < known.until ? known.principal : undefined;
  };
  const verify = async (token: string): Promise<Principal> => {
    const at = now();
    const known = verified.get(token);
    if (known) {
      if (at < known.until) return known.principal;
      verified.delete(token);
    }
    const { principal, expiresAtMs } = await verifyOnce(token, at);
    if (cacheSize > 0) {
      // Oldest first out (Map keeps insertion order): bounded memory whatever tokens clients send.
      if (verified.size >= cacheSize) verified.delete(verified.keys().next().value as string);
      verified.set(token, { principal, until: Math.min(expiresAtMs, at + cacheMaxMs) });
    }
    return principal;
  };
  return Object.assign(verify, { cached });

  async function verifyOnce(token: string, at: number): Promise<{ principal: Principal; expiresAtMs: number }> {
    let payload: JWTPayload;
    const verifyOptions = { ...options, currentDate: new Date(at) };
    try {
      // jose's overloads differ only by key type; both branches are valid.
      ({ payload } = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions));
    } catch (cause) {
      throw new ConnectError('invalid or expired bearer token', Code.Unauthenticated, undefined, undefined, cause);
    }
    // A token without exp would be valid forever: refused (issue 10).
    if (typeof payload.exp !== 'number') {
      throw new ConnectError('bearer token has no exp (expiry) claim; tokens must expire', Code.Unauthenticated);
    }
    // "Must expire" means soon: a token valid for a century is as good as one without exp. And a token issued in the
    // future comes from a wrong clock or a forger (a minute of clock skew is allowed).
    if (payload.exp * 1000 - at > MAX_TOKEN_LIFETIME_MS) {
      throw new ConnectError(`bearer token expires more than ${MAX_TOKEN_LIFETIME_MS / 86_400_000} days from now; issue shorter-lived tokens`, Code.Unauthenticated);
    }
    if (typeof payload.iat === 'number' && payload.iat * 1000 > at + CLOCK_SKEW_MS) {
      throw new ConnectError('bearer token iat (issued at) is in the future', Code.Unauthenticated);
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new ConnectError('bearer token has no sub (service identity)', Code.Unauthenticated);
    }
    // The service identity ends up in batch and warming ids (`batch/<service>/<job>`) and visibility queries: one the
    // platform could not address again (a '/', a space) is refused here, before any call spends anything under it.
    if (!CLIENT_SERVICE_PATTERN.test(payload.sub)) {
      throw new ConnectError('bearer token sub (service identity) must be 1-128 letters, digits or . _ : @ -', Code.Unauthenticated);
    }
    return { principal: { service: payload.sub, scopes: scopesOf(payload) }, expiresAtMs: payload.exp * 1000 };
  }
}

/**
 * Scopes: space-separated in `scope` (RFC 8693 / RFC 9068). Some identity providers issue a JSON array instead, in
 * `scope` or `scp`; both are read, so a token that holds a scope is never refused for its spelling.
 */
function scopesOf(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  for (const claim of [payload['scope'], payload['scp']]) {
    const parts = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim.filter((c): c is string => typeof c === 'string') : [];
    for (const p of parts) if (p.trim()) out.add(p.trim());
  }
  return out;
}

export function hasScope(p: Principal, scope: ScopeName): boolean {
  return p.scopes.has(scope) || p.scopes.has(Scope.Admin);
}

/**
 * A caller acts for its own service name only, unless it holds rte:admin.
 * Returns the effective service name (the caller's own when the request leaves it empty).
 */
export function actingService(p: Principal, requested: string, fieldPath: string): string {
  if (requested === '' || requested === p.service) return p.service;
  if (p.scopes.has(Scope.Admin)) return requested;
  throw new ConnectError(
    `${fieldPath}: caller "${p.service}" may not act for service "${requested}" without ${Scope.Admin}`,
    Code.PermissionDenied,
  );
}

export function requirePrincipal(values: { get<T>(key: { id: symbol; defaultValue: T }): T }): Principal {
  const p = values.get(principalKey);
  if (!p) throw new ConnectError('not authenticated', Code.Unauthenticated);
  return p;
}

export function createAuthInterceptor(verify: TokenVerifier): Interceptor {
  return (next) => async (req) => {
    const method = methodPath(req);
    const required = REQUIRED_SCOPES[method];
    const header = req.header.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      throw new ConnectError('missing bearer token (Authorization: Bearer <JWT>)', Code.Unauthenticated);
    }
    // Issue 14: a remembered token is taken without a promise (the same check verify makes first).
    const principal = verify.cached?.(match[1]) ?? (await verify(match[1]));
    // Known before the scope check, so a permission-denied audit line names the caller.
    req.contextValues.set(principalKey, principal);
    if (!required) {
      throw new ConnectError(`no access policy for ${method}`, Code.PermissionDenied);
    }
    if (!hasScope(principal, required)) {
      throw new ConnectError(`scope ${required} required for ${method}`, Code.PermissionDenied);
    }
    return next(req);
  };
}
