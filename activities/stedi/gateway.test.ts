import { ErrorType } from '../../lib/errors';
import { createHttpStediGateway, type StediGateway } from './gateway';
import type { EligibilityCheckRequest } from './types';
import { failureOf } from './test-support';

interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

function fakeFetch(respond: (req: Recorded) => Response | Promise<Response>): { fetch: typeof fetch; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((init?.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = v;
    const rec: Recorded = {
      url: String(input),
      method: init?.method ?? 'GET',
      headers,
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
    };
    calls.push(rec);
    const signal = init?.signal;
    if (signal?.aborted) throw signal.reason;
    return await new Promise<Response>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason as Error));
      Promise.resolve(respond(rec)).then(resolve, reject);
    });
  }) as typeof fetch;
  return { fetch: f, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const request: EligibilityCheckRequest = {
  tradingPartnerServiceId: '60054',
  provider: { organizationName: 'Included Health', npi: '1999999984' },
  subscriber: { memberId: 'AETNA12345', firstName: 'Jane', lastName: 'Doe', dateOfBirth: '20040404' },
  encounter: { serviceTypeCodes: ['30'] },
};

describe('createHttpStediGateway', () => {
  it('posts the v3 request with Stedi\'s path and Key authorization', async () => {
    const { fetch, calls } = fakeFetch(() => json(200, { id: 'ec_1', benefitsInformation: [{ code: '1' }], errors: [] }, { 'stedi-request-id': 'req-9' }));
    const gw = createHttpStediGateway({ baseUrl: 'http://stedi.test/', apiKey: 'k1', fetch });
    const out = await gw.checkEligibility(request);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      url: 'http://stedi.test/2024-04-01/change/medicalnetwork/eligibility/v3',
      method: 'POST',
      headers: { authorization: 'Key k1', 'content-type': 'application/json', accept: 'application/json' },
      body: request,
    });
    expect(out.httpStatus).toBe(200);
    expect(out.classification.kind).toBe('ok');
    expect(out.response.id).toBe('ec_1');
    expect(out.requestId).toBe('req-9');
  });

  it('returns payer AAA rejections (HTTP 200 and 400) as classified verdicts', async () => {
    const bodies: Array<[number, unknown]> = [
      [200, { errors: [{ code: '42', followupAction: 'Resubmission Allowed' }] }],
      [400, { errors: [{ code: '79' }], status: 'ERROR' }],
      [200, { errors: [], subscriber: { aaaErrors: [{ code: '75' }] } }],
    ];
    let i = 0;
    const { fetch } = fakeFetch(() => {
      const [s, b] = bodies[i++]!;
      return json(s, b);
    });
    const gw = createHttpStediGateway({ baseUrl: 'http://stedi.test', apiKey: 'k', fetch });
    const a = await gw.checkEligibility(request);
    expect([a.httpStatus, a.classification.kind, a.classification.retryable]).toEqual([200, 'payer-unavailable', true]);
    const b = await gw.checkEligibility(request);
    expect([b.httpStatus, b.classification.kind, b.classification.retryable]).toEqual([400, 'do-not-resubmit', false]);
    const c = await gw.checkEligibility(request);
    expect([c.classification.kind, c.classification.aaaCodes]).toEqual(['do-not-resubmit', ['75']]);
  });

  const failures: Array<[string, () => Response, string, boolean]> = [
    ['429', () => json(429, { code: 'TOO_MANY_REQUESTS', message: 'throttled' }), ErrorType.StediThrottled, true],
    ['400 validation', () => json(400, { message: 'bad', fieldList: [{ path: '/provider/npi', message: 'x' }] }), ErrorType.StediValidation, false],
    ['401', () => json(401, { message: 'Unauthorized' }), ErrorType.StediAuth, false],
    ['403', () => json(403, { message: 'denied' }), ErrorType.StediAuth, false],
    ['500', () => json(500, { message: 'boom' }), ErrorType.StediServer, true],
    ['502 html', () => new Response('<html>bad gateway</html>', { status: 502 }), ErrorType.StediServer, true],
    ['503', () => json(503, { message: 'unavailable' }), ErrorType.StediPayerUnavailable, true],
    ['504', () => json(504, { message: 'gateway timeout' }), ErrorType.StediPayerUnavailable, true],
  ];
  it.each(failures)('throws a classified StediRequestError on %s', async (_n, respond, type, retryable) => {
    const { fetch } = fakeFetch(respond);
    const gw = createHttpStediGateway({ baseUrl: 'http://stedi.test', apiKey: 'k', fetch });
    const err = await failureOf(gw.checkEligibility(request));
    expect(err.classification.errorType).toBe(type);
    expect(err.classification.retryable).toBe(retryable);
  });

  it('turns a network error into a retryable server failure', async () => {
    const { fetch } = fakeFetch(() => {
      throw new TypeError('fetch failed');
    });
    const gw = createHttpStediGateway({ baseUrl: 'http://stedi.test', apiKey: 'k', fetch });
    const err = await failureOf(gw.checkEligibility(request));
    expect(err.classification).toMatchObject({ kind: 'server', retryable: true, errorType: ErrorType.StediServer });
  });

  it('times out a call that never answers and classifies it retryable', async () => {
    const { fetch } = fakeFetch(() => new Promise<Response>(() => undefined));
    const gw = createHttpStediGateway({ baseUrl: 'http://stedi.test', apiKey: 'k', fetch, timeoutMs: 20 });
    const err = await failureOf(gw.checkEligibility(request));
    expect(err.classification).toMatchObject({ kind: 'server', retryable: true });
    expect(err.classification.message).toMatch(/timed out/);
  });

  it('propagates the caller\'s own cancellation untouched', async () => {
    const { fetch } = fakeFetch(() => new Promise<Response>(() => undefined));
    const gw = createHttpStediGateway({ baseUrl: 'http://stedi.test', apiKey: 'k', fetch });
    const ac = new AbortController();
    const p = gw.checkEligibility(request, { signal: ac.signal });
    ac.abort(new Error('activity cancelled'));
    await expect(p).rejects.toThrow('activity cancelled');
  });

  describe('batch endpoints', () => {
    let gw: StediGateway;
    let calls: Recorded[];
    beforeEach(() => {
      const f = fakeFetch((req) => {
        if (req.method === 'POST') return json(200, { batchId: 'b-1', submittedAt: '2026-01-01T00:00:00Z' });
        if (req.url.includes('/polling/')) return json(200, { items: [{ batchId: 'b-1', submitterTransactionIdentifier: 't1' }], nextPageToken: 'tok2' });
        if (req.url.endsWith('/batch/missing')) return json(404, { message: 'not found' });
        return json(200, { id: 'b-1', name: 'n', batchType: 'ELIGIBILITY', status: 'IN_PROGRESS', createdAt: 'x', updatedAt: 'y' });
      });
      calls = f.calls;
      gw = createHttpStediGateway({ baseUrl: 'http://hc.test', managerBaseUrl: 'http://mgr.test', apiKey: 'k', fetch: f.fetch });
    });

    it('submits to the manager host', async () => {
      const items = [{ ...request, submitterTransactionIdentifier: 't1' }];
      await expect(gw.submitBatch({ name: 'n1', items })).resolves.toEqual({ batchId: 'b-1', submittedAt: '2026-01-01T00:00:00Z' });
      expect(calls[0]).toMatchObject({ url: 'http://mgr.test/2024-04-01/eligibility-manager/batch-eligibility', method: 'POST', body: { name: 'n1', items } });
    });

    it('polls with the query parameters the spec defines', async () => {
      const page = await gw.pollBatchResults({ batchId: 'b-1', pageSize: 50, pageToken: 'tok1', startDateTime: '2026-01-01T00:00:00Z' });
      expect(page.nextPageToken).toBe('tok2');
      const url = new URL(calls[0]!.url);
      expect(url.pathname).toBe('/2024-04-01/eligibility-manager/polling/batch-eligibility');
      expect(Object.fromEntries(url.searchParams)).toEqual({ batchId: 'b-1', pageSize: '50', pageToken: 'tok1', startDateTime: '2026-01-01T00:00:00Z' });
    });

    it('gets a batch and reports unknown batches as non-retryable', async () => {
      await expect(gw.getBatch('b-1')).resolves.toMatchObject({ status: 'IN_PROGRESS' });
      expect(calls[0]!.url).toBe('http://mgr.test/2024-04-01/eligibility-manager/batch/b-1');
      const err = await failureOf(gw.getBatch('missing'));
      expect(err.classification).toMatchObject({ retryable: false, httpStatus: 404 });
    });
  });
});
