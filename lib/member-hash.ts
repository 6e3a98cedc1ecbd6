import { createHmac } from 'node:crypto';

const MEMO_MAX = 10_000;
const memo = new Map<string, string>();

/**
 * Keyed hash of a member id, used in cache keys, lock keys and logs so raw member ids never leave the
 * member directory. The secret comes from config (CACHE_KEY_SECRET); rotating it orphans old cache keys.
 */
export function hashMemberId(secret: string, memberId: string): string {
  // Issue 14: a cache read hashes the same member twice (usage and cache key) and hot members are read again and
  // again; an HMAC costs a few µs of native crypto plus allocations, a Map lookup far less. Bounded, oldest out.
  const key = `${secret}\u0000${memberId}`;
  let hash = memo.get(key);
  if (hash === undefined) {
    hash = createHmac('sha256', secret).update(memberId).digest('base64url').slice(0, 32);
    if (memo.size >= MEMO_MAX) memo.delete(memo.keys().next().value as string);
    memo.set(key, hash);
  }
  return hash;
}
