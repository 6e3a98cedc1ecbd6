/**
 * The typed client of the RTE API (docs/client.md): the generated Connect clients of every service
 * (gen/rte/v1/*), with a bearer-token interceptor and retries that honour `retry-after` (client/retry.ts).
 *
 *   const rte = createRteClient({ baseUrl: 'http://127.0.0.1:8080', token: process.env.RTE_TOKEN });
 *   const r = await rte.eligibility.checkEligibility({ memberId: 'm_0000001' });
 */
import type { DescService } from '@bufbuild/protobuf';
import { createClient, type CallOptions, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { BatchEligibilityService } from '../gen/rte/v1/batch_pb';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { CacheWarmingService } from '../gen/rte/v1/warming_pb';
import { createRetryInterceptor, type RetryOptions } from './retry';

export { createRetryInterceptor, isConnectionReset, isRetryable, parseRetryAfterMs, RETRY_SAFE_ON_UNAVAILABLE, type RetryInfo, type RetryOptions } from './retry';
export { BatchEligibilityService, EligibilityService, CacheWarmingService };

export type TokenProvider = () => string | Promise<string>;

export interface RteClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A bearer token (JWT). Either this or tokenProvider (called per request, e.g. to refresh) is required. */
  token?: string;
  tokenProvider?: TokenProvider;
  /** Wire protocol (default `connect`, JSON over HTTP/1.1). `grpc` uses HTTP/2; `grpc-web` HTTP/1.1. */
  protocol?: 'connect' | 'grpc' | 'grpc-web';
  /** Connect protocol: binary protobuf instead of JSON (default false). */
  useBinaryFormat?: boolean;
  /** Retry settings (client/retry.ts); `false` turns retries off. Default: 3 attempts, retry-after up to 30 s. */
  retry?: RetryOptions | false;
  /** More interceptors, run inside auth and retry (each retry attempt passes through them). */
  interceptors?: Interceptor[];
  /**
   * Deadline in ms of a unary call that sets no `timeoutMs` of its own (default 120 000; 0 = none). It covers the
   * whole call, retries and their waits included, so a connection lost where neither side notices cannot hang a
   * caller forever. The default is above the longest a healthy call takes: CheckEligibility waits up to
   * API_REFRESH_WAIT_MS (60 s) for a live check. Streams (WatchBatchStatus, SubmitBatchStreaming) get none: they
   * last as long as their batch. Ignored when `defaultTimeoutMs` is set.
   */
  unaryTimeoutMs?: number;
  /** Per-call timeout default in ms (Connect `timeoutMs`) for every call, streams included; unset = none. */
  defaultTimeoutMs?: number;
}

/** The unary deadline createRteClient gives a call that sets none (RteClientOptions.unaryTimeoutMs). */
export const DEFAULT_UNARY_TIMEOUT_MS = 120_000;

export interface RteClient {
  eligibility: Client<typeof EligibilityService>;
  batch: Client<typeof BatchEligibilityService>;
  warming: Client<typeof CacheWarmingService>;
  /** The transport, to build clients of other services on the same connection settings. */
  transport: Transport;
}

/** Sets `authorization: Bearer <token>` on every call (a header the caller set explicitly wins). */
export function createAuthInterceptor(token: TokenProvider): Interceptor {
  return (next) => async (req) => {
    if (!req.header.has('authorization')) {
      const t = await token();
      if (!t) throw new Error('rte client: the token provider returned an empty token');
      req.header.set('authorization', `Bearer ${t}`);
    }
    return next(req);
  };
}

/** The interceptor chain createRteClient installs: auth outermost (sets the header once), then retry, then the caller's. */
export function createRteInterceptors(opts: Pick<RteClientOptions, 'token' | 'tokenProvider' | 'retry' | 'interceptors'>): Interceptor[] {
  const provider: TokenProvider | undefined = opts.tokenProvider ?? (opts.token ? () => opts.token as string : undefined);
  if (!provider) throw new Error('rte client: token or tokenProvider is required');
  return [createAuthInterceptor(provider), ...(opts.retry === false ? [] : [createRetryInterceptor(opts.retry)]), ...(opts.interceptors ?? [])];
}

export function createRteClient(opts: RteClientOptions): RteClient {
  if (!opts.baseUrl) throw new Error('rte client: baseUrl is required');
  const interceptors = createRteInterceptors(opts);
  const common = {
    baseUrl: opts.baseUrl,
    interceptors,
    ...(opts.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: opts.defaultTimeoutMs } : {}),
  };
  const protocol = opts.protocol ?? 'connect';
  const transport =
    protocol === 'grpc'
      ? createGrpcTransport(common)
      : protocol === 'grpc-web'
        ? createGrpcWebTransport({ ...common, httpVersion: '1.1' })
        : createConnectTransport({ ...common, httpVersion: '1.1', useBinaryFormat: opts.useBinaryFormat ?? false });
  const unaryTimeoutMs = opts.defaultTimeoutMs !== undefined ? 0 : (opts.unaryTimeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS);
  return {
    eligibility: createServiceClient(EligibilityService, transport, unaryTimeoutMs),
    batch: createServiceClient(BatchEligibilityService, transport, unaryTimeoutMs),
    warming: createServiceClient(CacheWarmingService, transport, unaryTimeoutMs),
    transport,
  };
}

/**
 * A Connect client of `service` whose unary calls get `timeoutMs: unaryTimeoutMs` unless the call sets its own
 * (0 = no default). Hand-written: Connect's `defaultTimeoutMs` is per transport and would cut streams too.
 */
export function createServiceClient<T extends DescService>(service: T, transport: Transport, unaryTimeoutMs: number): Client<T> {
  if (!Number.isFinite(unaryTimeoutMs) || unaryTimeoutMs < 0) throw new Error(`rte client: unaryTimeoutMs must be 0 (none) or a positive number of ms, got ${unaryTimeoutMs}`);
  const client = createClient(service, transport);
  if (unaryTimeoutMs === 0) return client;
  const methods = client as unknown as Record<string, (req: unknown, options?: CallOptions) => unknown>;
  for (const m of service.methods) {
    if (m.methodKind !== 'unary') continue;
    const call = methods[m.localName]!;
    methods[m.localName] = (req, options) => call(req, options?.timeoutMs !== undefined ? options : { ...options, timeoutMs: unaryTimeoutMs });
  }
  return client;
}
