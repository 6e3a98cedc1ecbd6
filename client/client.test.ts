import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from '@connectrpc/connect';
import { BatchEligibilityService, BatchStatusUpdateSchema, GetBatchStatusResponseSchema, SubmitBatchResponseSchema } from '../gen/rte/v1/batch_pb';
import { CheckEligibilityResponseSchema, EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { CacheWarmingService, WarmCacheResponseSchema } from '../gen/rte/v1/warming_pb';
import { createRetryInterceptor, createRteClient, createRteInterceptors, createServiceClient, DEFAULT_UNARY_TIMEOUT_MS, isConnectionReset, isRetryable, parseRetryAfterMs, type RetryInfo, type RetryOptions } from './index';

/** The client's interceptor chain over an in-memory Connect router (fake services that fail on cue). */
function harness(opts: { failures: ConnectError[]; retry?: RetryOptions | false; token?: string; tokenProvider?: () => Promise<string> }) {
  const seen: { method: string; auth: string | null; idem: string | null }[] = [];
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  const failures = [...opts.failures];
  const step = (method: string, auth: string | null, idem: string | null) => {
    seen.push({ method, auth, idem });
    const f = failures.shift();
    if (f) throw f;
  };
  const transport = createRouterTransport(
    (router) => {
      router.service(EligibilityService, {
        checkEligibility: (req, ctx) => {
          step('CheckEligibility', ctx.requestHeader.get('authorization'), null);
          return create(CheckEligibilityResponseSchema, { memberId: req.memberId });
        },
      });
      router.service(BatchEligibilityService, {
        submitBatch: (_req, ctx) => {
          step('SubmitBatch', ctx.requestHeader.get('authorization'), null);
          return create(SubmitBatchResponseSchema, { batchId: 'batch/x/1' });
        },
        getBatchStatus: (req, ctx) => {
          step('GetBatchStatus', ctx.requestHeader.get('authorization'), null);
          return create(GetBatchStatusResponseSchema, { batchId: req.batchId });
        },
        async *watchBatchStatus(_req, ctx) {
          step('WatchBatchStatus', ctx.requestHeader.get('authorization'), null);
          yield* [];
        },
      } as Partial<ServiceImpl<typeof BatchEligibilityService>>);
      router.service(CacheWarmingService, {
        warmCache: (_req, ctx) => {
          step('WarmCache', ctx.requestHeader.get('authorization'), ctx.requestHeader.get('idempotency-key'));
          return create(WarmCacheResponseSchema, { warmingJobId: 'warming/x/1' });
        },
      });
    },
    {
      transport: {
        interceptors: createRteInterceptors({
          token: opts.token ?? 'tok-1',
          ...(opts.tokenProvider ? { tokenProvider: opts.tokenProvider } : {}),
          retry:
            opts.retry === false
              ? false
              : {
                  ...opts.retry,
                  sleep: async (ms) => void sleeps.push(ms),
                  random: () => 0.5,
                  onRetry: (i) => retries.push(i),
                },
        }),
      },
    },
  );
  return {
    seen,
    sleeps,
    retries,
    eligibility: createClient(EligibilityService, transport),
    batch: createClient(BatchEligibilityService, transport),
    warming: createClient(CacheWarmingService, transport),
  };
}

const exhausted = (retryAfter?: string) => new ConnectError('rate limited', Code.ResourceExhausted, retryAfter ? { 'retry-after': retryAfter } : undefined);
const unavailable = (retryAfter?: string) => new ConnectError('down', Code.Unavailable, retryAfter ? { 'retry-after': retryAfter } : undefined);

describe('typed client: auth interceptor', () => {
  it('sends the bearer token on every call, from a static token or a provider called per request', async () => {
    const h = harness({ failures: [] });
    await h.eligibility.checkEligibility({ memberId: 'm1' });
    expect(h.seen[0]?.auth).toBe('Bearer tok-1');
    let n = 0;
    const p = harness({ failures: [], tokenProvider: async () => `fresh-${++n}` });
    await p.eligibility.checkEligibility({ memberId: 'm1' });
    await p.eligibility.checkEligibility({ memberId: 'm1' });
    expect(p.seen.map((s) => s.auth)).toEqual(['Bearer fresh-1', 'Bearer fresh-2']);
  });

  it('leaves an explicit authorization header alone, and refuses to build without a token', async () => {
    const h = harness({ failures: [] });
    await h.eligibility.checkEligibility({ memberId: 'm1' }, { headers: { authorization: 'Bearer mine' } });
    expect(h.seen[0]?.auth).toBe('Bearer mine');
    expect(() => createRteClient({ baseUrl: 'http://127.0.0.1:1' })).toThrow(/token or tokenProvider is required/);
    expect(() => createRteClient({ baseUrl: '', token: 't' })).toThrow(/baseUrl is required/);
  });
});

describe('typed client: retries', () => {
  it('waits out retry-after on resource_exhausted, then succeeds (one more attempt, same token)', async () => {
    const h = harness({ failures: [exhausted('2')] });
    const r = await h.batch.submitBatch({ clientJobId: 'j1' });
    expect(r.batchId).toBe('batch/x/1');
    expect(h.seen.map((s) => s.method)).toEqual(['SubmitBatch', 'SubmitBatch']);
    expect(h.sleeps).toEqual([2_000]);
    expect(h.retries[0]).toMatchObject({ method: 'rte.v1.BatchEligibilityService/SubmitBatch', attempt: 1, code: Code.ResourceExhausted, fromRetryAfter: true });
    expect(h.seen.every((s) => s.auth === 'Bearer tok-1')).toBe(true);
  });

  it('retries unavailable on reads with retry-after, else exponential backoff; bounded by maxAttempts', async () => {
    const h = harness({ failures: [unavailable('5'), unavailable(), unavailable()] });
    const err = await h.batch.getBatchStatus({ batchId: 'b' }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect(h.seen).toHaveLength(3); // maxAttempts 3 by default
    expect(h.sleeps).toEqual([5_000, 500]); // retry-after 5 s, then 250 ms × 2 (attempt 2), no jitter at random 0.5
  });

  it('does not retry resource_exhausted without retry-after (a body over the size limit, not a rate limit)', async () => {
    const h = harness({ failures: [new ConnectError('message size 4500058 is larger than configured readMaxBytes 4194304', Code.ResourceExhausted)] });
    const err = ConnectError.from(await h.batch.submitBatch({ clientJobId: 'j' }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(h.seen).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('does not wait a retry-after longer than maxRetryAfterMs: the caller gets the error and the header', async () => {
    const h = harness({ failures: [exhausted('3600')], retry: { maxRetryAfterMs: 10_000 } });
    const err = ConnectError.from(await h.batch.submitBatch({ clientJobId: 'j' }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.metadata.get('retry-after')).toBe('3600');
    expect(h.seen).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('never retries other codes, streams, or WarmCache on unavailable without an idempotency-key', async () => {
    const bad = harness({ failures: [new ConnectError('member_id: required', Code.InvalidArgument)] });
    await expect(bad.eligibility.checkEligibility({ memberId: '' })).rejects.toThrow(/member_id/);
    expect(bad.seen).toHaveLength(1);

    const warm = harness({ failures: [unavailable('1')] });
    await expect(warm.warming.warmCache({ memberIds: ['m1'] })).rejects.toThrow(/down/);
    expect(warm.seen).toHaveLength(1);

    const keyed = harness({ failures: [unavailable('1')] });
    const r = await keyed.warming.warmCache({ memberIds: ['m1'] }, { headers: { 'idempotency-key': 'k1' } });
    expect(r.warmingJobId).toBe('warming/x/1');
    expect(keyed.seen.map((s) => s.idem)).toEqual(['k1', 'k1']);

    const stream = harness({ failures: [unavailable('1')] });
    const consume = async () => {
      for await (const _ of stream.batch.watchBatchStatus({ batchId: 'b' })) void _;
    };
    await expect(consume()).rejects.toThrow(/down/);
    expect(stream.seen).toHaveLength(1);
  });

  it('retries a connection reset (the API process died: connect-node says aborted or internal, caused by ECONNRESET) like unavailable, and no other aborted or internal', async () => {
    // A reset happens in the client's transport, below the interceptors: a fake `next` stands in for it.
    const reset = () => {
      const e = new ConnectError('socket hang up', Code.Aborted);
      e.cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return e;
    };
    const call = async (method: string, failures: ConnectError[]) => {
      const retries: RetryInfo[] = [];
      let attempts = 0;
      const next = async () => {
        attempts++;
        const f = failures.shift();
        if (f) throw f;
        return 'answer';
      };
      const [service, name] = method.split('/');
      const req = { stream: false, service: { typeName: service }, method: { name }, header: new Headers(), signal: new AbortController().signal };
      const intercepted = createRetryInterceptor({ sleep: async () => undefined, onRetry: (i) => retries.push(i) })(next as never);
      const result = await (intercepted(req as never) as Promise<unknown>).catch((e: unknown) => ConnectError.from(e));
      return { result, attempts, retries };
    };
    const read = await call('rte.v1.EligibilityService/CheckEligibility', [reset()]);
    expect(read.result).toBe('answer');
    expect(read.attempts).toBe(2);
    expect(read.retries[0]).toMatchObject({ code: Code.Unavailable, attempt: 1 });
    expect(isConnectionReset(reset())).toBe(true);
    // A stream or a request still being written: connect-node says internal, with the same cause.
    const streamReset = new ConnectError('read ECONNRESET', Code.Internal);
    streamReset.cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isConnectionReset(streamReset)).toBe(true);
    expect(isConnectionReset(new ConnectError('boom', Code.Internal))).toBe(false);
    const written = await call('rte.v1.BatchEligibilityService/GetBatchStatus', [streamReset]);
    expect(written.result).toBe('answer');

    const serverAborted = await call('rte.v1.EligibilityService/CheckEligibility', [new ConnectError('aborted by the server', Code.Aborted)]);
    expect((serverAborted.result as ConnectError).code).toBe(Code.Aborted);
    expect(serverAborted.attempts).toBe(1);

    const warm = await call('rte.v1.CacheWarmingService/WarmCache', [reset()]);
    expect((warm.result as ConnectError).code).toBe(Code.Aborted);
    expect(warm.attempts).toBe(1);
  });

  it('retry: false turns retries off', async () => {
    const h = harness({ failures: [exhausted('1')], retry: false });
    await expect(h.eligibility.checkEligibility({ memberId: 'm' })).rejects.toThrow(/rate limited/);
    expect(h.seen).toHaveLength(1);
  });

  it('classifies methods and parses retry-after', () => {
    expect(isRetryable('rte.v1.EligibilityService/CheckEligibility', Code.Unavailable)).toBe(true);
    expect(isRetryable('rte.v1.CacheWarmingService/WarmCache', Code.Unavailable)).toBe(false);
    expect(isRetryable('rte.v1.CacheWarmingService/WarmCache', Code.ResourceExhausted)).toBe(true);
    expect(isRetryable('rte.v1.BatchEligibilityService/GetBatchStatus', Code.DeadlineExceeded)).toBe(false);
    expect(parseRetryAfterMs('5')).toBe(5_000);
    expect(parseRetryAfterMs('0.5')).toBe(500);
    expect(parseRetryAfterMs(null)).toBeUndefined();
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    expect(parseRetryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
  });
});

describe('typed client: default unary deadline', () => {
  /** A service whose unary calls never answer (until the caller's deadline aborts them) and whose stream answers after 150 ms. */
  const hanging = () =>
    createRouterTransport((router) => {
      router.service(BatchEligibilityService, {
        getBatchStatus: (_req, ctx) =>
          new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new ConnectError('gone', Code.Canceled)))),
        async *watchBatchStatus(req) {
          await new Promise((r) => setTimeout(r, 150));
          yield create(BatchStatusUpdateSchema, { batchId: req.batchId });
        },
      } as Partial<ServiceImpl<typeof BatchEligibilityService>>);
    });

  it('ends a unary call that never answers at the default deadline, deadline_exceeded; a call may set its own', async () => {
    const batch = createServiceClient(BatchEligibilityService, hanging(), 80);
    const t0 = Date.now();
    const err = await batch.getBatchStatus({ batchId: 'b' }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const own = await batch.getBatchStatus({ batchId: 'b' }, { timeoutMs: 30 }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(own?.code).toBe(Code.DeadlineExceeded);
  });

  it('gives streams no default deadline (a watch lasts as long as its batch), and 0 turns the default off', async () => {
    const batch = createServiceClient(BatchEligibilityService, hanging(), 30);
    const got: string[] = [];
    for await (const u of batch.watchBatchStatus({ batchId: 'b1' })) got.push(u.batchId);
    expect(got).toEqual(['b1']);
    const none = createServiceClient(BatchEligibilityService, hanging(), 0);
    const ac = new AbortController();
    const pending = none.getBatchStatus({ batchId: 'b' }, { signal: ac.signal }).then(() => 'answered', (e: unknown) => Code[ConnectError.from(e).code]);
    const early = await Promise.race([pending, new Promise((r) => setTimeout(() => r('still waiting'), 200))]);
    expect(early).toBe('still waiting');
    ac.abort();
    expect(await pending).toBe('Canceled');
  });

  it('createRteClient: 120 s by default; a bad unaryTimeoutMs is refused when the client is built', () => {
    expect(DEFAULT_UNARY_TIMEOUT_MS).toBe(120_000);
    expect(() => createServiceClient(BatchEligibilityService, hanging(), -1)).toThrow(/unaryTimeoutMs must be 0 \(none\) or a positive number/);
    expect(() => createRteClient({ baseUrl: 'http://127.0.0.1:1', token: 't', unaryTimeoutMs: Number.NaN })).toThrow(/unaryTimeoutMs/);
  });
});
