import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { isAddressAllowed, normalizeHost, type WebhookTargetPolicy } from '../../lib/batch/webhook-target';

/**
 * DNS re-check for webhook targets. The static URL check (lib/batch/webhook-target.ts) runs at submission; this
 * runs inside the socket's own lookup, so the address we check is the address we connect to (no window for DNS
 * rebinding between check and connect). Every resolved address must be allowed, not just the first.
 */
export class WebhookTargetRefused extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`webhook target ${host} resolves to a refused address`);
    this.name = 'WebhookTargetRefused';
  }
}

type Resolver = (host: string, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const defaultResolver: Resolver = (host, cb) => dnsLookup(host, { all: true, verbatim: true }, cb);

/** A socket lookup for a connection to `port` that refuses any resolved address the policy does not allow on it. */
export function guardedLookup(policy: WebhookTargetPolicy, port: number, resolve: Resolver = defaultResolver): LookupFunction {
  return (hostname, options, callback) => {
    const host = normalizeHost(hostname);
    const finish = (addresses: LookupAddress[]) => {
      const refused = addresses.find((a) => !isAddressAllowed(a.address, port, policy));
      if (refused || addresses.length === 0) {
        callback(new WebhookTargetRefused(host, refused?.address ?? '(none)') as NodeJS.ErrnoException, '', 4);
        return;
      }
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    if (isIP(host) !== 0) {
      finish([{ address: host, family: isIP(host) }]);
      return;
    }
    resolve(host, (err, addresses) => {
      if (err) {
        callback(err, '', 4);
        return;
      }
      finish(addresses);
    });
  };
}
