import { createHmac } from 'node:crypto';

/**
 * Keyed hash of a member id, used in cache keys, lock keys and logs so raw member ids never leave the
 * member directory. The secret comes from config (CACHE_KEY_SECRET); rotating it orphans old cache keys.
 */
export function hashMemberId(secret: string, memberId: string): string {
  return createHmac('sha256', secret).update(memberId).digest('base64url').slice(0, 32);
}
