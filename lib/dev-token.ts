import { SignJWT } from 'jose';

/**
 * Mints an HS256 bearer token for the local profile (AUTH_MODE=dev-hs256). Used by tests, the main job
 * and `rtectl token`; production tokens come from the identity provider (JWKS mode).
 */
export async function mintDevToken(opts: { service: string; scopes: string[]; secret: string; expiresInSeconds?: number }): Promise<string> {
  return new SignJWT({ scope: opts.scopes.join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.service)
    .setIssuedAt()
    .setExpirationTime(`${opts.expiresInSeconds ?? 3600}s`)
    .sign(new TextEncoder().encode(opts.secret));
}
