import { BlockList, isIP } from 'node:net';

/**
 * Which webhook targets the platform may call (SSRF guard). Pure: the DNS re-check lives in
 * activities/webhooks/target-guard.ts and reuses `isAddressAllowed`.
 *
 * Rules:
 * - https only; http only for allowlisted hosts when `allowHttp` is set (the local profile).
 * - the host must match the allowlist: an exact host ("hooks.example.com") or a suffix entry starting with a dot
 *   (".example.com" matches "a.example.com", not "example.com"). An empty allowlist allows no host. An entry may
 *   name a port or a port range ("hooks.example.com:8443", "127.0.0.1:9800-9899"; IPv6 "[fd00::5]:8443"); then only
 *   URLs on those ports match it (a URL without a port is on 443 for https, 80 for http).
 * - no credentials in the URL.
 * - IP literals in private, loopback, link-local, CGNAT, multicast or reserved ranges are refused unless that address
 *   is allowlisted **with its port(s)**: a bare "127.0.0.1" entry would let any client with `rte:batch:submit` make
 *   the worker POST to every service on that address (Redis, Temporal, the codec server, the API) and read back
 *   which ports answer (probe p18 F1). The same check applies to resolved addresses, on the URL's port.
 */

/** One parsed WEBHOOK_ALLOWED_HOSTS entry. */
export interface AllowEntry {
  /** Lower-case host without brackets; for a suffix entry, with its leading dot. */
  host: string;
  suffix: boolean;
  /** Inclusive port range; null = any port (never enough for a non-public address). */
  ports: readonly [number, number] | null;
}

const PORTS = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** Parses an entry ("host", ".suffix", "host:port", "host:lo-hi", "[v6]:port", bare "v6"); throws with the reason. */
export function parseAllowEntry(raw: string): AllowEntry {
  const e = raw.trim().toLowerCase();
  if (e.length === 0) throw new Error('empty entry');
  let host = e;
  let portText: string | undefined;
  if (e.startsWith('[')) {
    const end = e.indexOf(']');
    if (end < 0) throw new Error(`"${raw}": missing "]"`);
    host = e.slice(1, end);
    const rest = e.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new Error(`"${raw}": expected ":<port>" after "]"`);
      portText = rest.slice(1);
    }
  } else if (isIP(e) !== 6 && e.includes(':')) {
    const i = e.lastIndexOf(':');
    host = e.slice(0, i);
    portText = e.slice(i + 1);
  }
  if (host.length === 0 || host === '.') throw new Error(`"${raw}": no host`);
  let ports: [number, number] | null = null;
  if (portText !== undefined) {
    const m = PORTS.exec(portText);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!(lo >= 1 && hi <= 65_535 && lo <= hi)) throw new Error(`"${raw}": the port must be 1-65535, or a range lo-hi of them`);
    ports = [lo, hi];
  }
  return { host, suffix: host.startsWith('.'), ports };
}

/**
 * Parses and checks a whole allowlist (config load: a bad entry stops the process with its reason). A non-public IP
 * literal without a port is refused: it would open every port of that address, and the target checks would ignore it.
 */
export function parseAllowlist(entries: readonly string[]): AllowEntry[] {
  return entries.map((raw) => {
    const entry = parseAllowEntry(raw);
    if (!entry.suffix && isIP(entry.host) !== 0 && isNonPublicAddress(entry.host) && entry.ports === null) {
      const example = isIP(entry.host) === 6 ? `[${entry.host}]:8443` : `${entry.host}:8443`;
      throw new Error(`"${raw}" is a non-public address: name the receiver's port or port range (e.g. ${example}); a bare entry would open every port of it`);
    }
    return entry;
  });
}

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

/** Entries of the policy, parsed once per list. */
const parsed = new WeakMap<readonly string[], AllowEntry[]>();
function entriesOf(allowedHosts: readonly string[]): AllowEntry[] {
  let e = parsed.get(allowedHosts);
  if (!e) {
    // A malformed entry matches nothing here (config load refuses it with its reason before any request).
    e = allowedHosts.flatMap((raw) => {
      try {
        return [parseAllowEntry(raw)];
      } catch {
        return [];
      }
    });
    parsed.set(allowedHosts, e);
  }
  return e;
}

const inPorts = (entry: AllowEntry, port: number): boolean => entry.ports === null || (port >= entry.ports[0] && port <= entry.ports[1]);
const hostMatches = (entry: AllowEntry, h: string): boolean => (entry.suffix ? h.endsWith(entry.host) && h.length > entry.host.length : h === entry.host);

/** Whether `host` on `port` matches an allowlist entry (exact host or dot-suffix, and the entry's ports if it has any). */
export function isHostAllowlisted(host: string, port: number, allowedHosts: readonly string[]): boolean {
  const h = normalizeHost(host);
  return entriesOf(allowedHosts).some((entry) => hostMatches(entry, h) && inPorts(entry, port));
}

/** The port a URL connects to (443 / 80 when it names none). */
export function urlPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
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

/**
 * A resolved (or literal) address is usable on `port` when it is public, or when that exact address is allowlisted
 * with ports that include `port` (a portless entry never opens a non-public address).
 */
export function isAddressAllowed(address: string, port: number, policy: WebhookTargetPolicy): boolean {
  if (!isNonPublicAddress(address)) return true;
  const a = normalizeHost(address);
  return entriesOf(policy.allowedHosts).some((entry) => !entry.suffix && entry.ports !== null && entry.host === a && inPorts(entry, port));
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
  const port = urlPort(url);
  if (!isHostAllowlisted(host, port, policy.allowedHosts)) return { ok: false, reason: `host ${host} on port ${port} is not in the webhook allowlist` };
  if (url.protocol === 'http:' && !policy.allowHttp) return { ok: false, reason: 'URL scheme must be https' };
  if (isIP(host) !== 0 && !isAddressAllowed(host, port, policy)) return { ok: false, reason: `address ${host} is not public (allowlist it with its port to allow it)` };
  return { ok: true, url };
}
