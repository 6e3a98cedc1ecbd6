import { BlockList, isIP } from 'node:net';

/**
 * Which webhook targets the platform may call (SSRF guard). Pure: the DNS re-check lives in
 * activities/webhooks/target-guard.ts and reuses `isAddressAllowed`.
 *
 * Rules:
 * - https only; http only for allowlisted hosts when `allowHttp` is set (the local profile).
 * - the host must match the allowlist: an exact host ("hooks.example.com") or a suffix entry starting with a dot
 *   (".example.com" matches "a.example.com", not "example.com"). An empty allowlist allows no host.
 * - no credentials in the URL; port any.
 * - IP literals in private, loopback, link-local, CGNAT, multicast or reserved ranges are refused unless the
 *   literal itself is allowlisted (tests allowlist 127.0.0.1). The same check applies to resolved addresses.
 */

export interface WebhookTargetPolicy {
  allowedHosts: readonly string[];
  allowHttp: boolean;
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** Strips IPv6 brackets and lower-cases. */
export function normalizeHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

export function isHostAllowlisted(host: string, allowedHosts: readonly string[]): boolean {
  const h = normalizeHost(host);
  return allowedHosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e.length === 0) return false;
    if (e.startsWith('.')) return h.endsWith(e) && h.length > e.length;
    return h === normalizeHost(e);
  });
}

/** True for addresses in non-public ranges (IPv4-mapped IPv6 is checked as IPv4). */
export function isNonPublicAddress(address: string): boolean {
  const a = normalizeHost(address);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return BLOCKED.check(mapped[1]!, 'ipv4');
  const family = isIP(a);
  if (family === 4) return BLOCKED.check(a, 'ipv4');
  if (family === 6) return BLOCKED.check(a, 'ipv6');
  return true;
}

/** A resolved (or literal) address is usable when it is public, or when that exact address is allowlisted. */
export function isAddressAllowed(address: string, policy: WebhookTargetPolicy): boolean {
  return !isNonPublicAddress(address) || isHostAllowlisted(address, policy.allowedHosts);
}

export type TargetCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Static checks of a callback URL (no DNS). */
export function checkWebhookTarget(raw: string, policy: WebhookTargetPolicy): TargetCheck {
  if (raw.length > 2048) return { ok: false, reason: 'URL is longer than 2048 characters' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'URL must not contain credentials' };
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'URL scheme must be https' };
  const host = normalizeHost(url.hostname);
  if (!isHostAllowlisted(host, policy.allowedHosts)) return { ok: false, reason: `host ${host} is not in the webhook allowlist` };
  if (url.protocol === 'http:' && !policy.allowHttp) return { ok: false, reason: 'URL scheme must be https' };
  if (isIP(host) !== 0 && !isAddressAllowed(host, policy)) return { ok: false, reason: `address ${host} is not public` };
  return { ok: true, url };
}
