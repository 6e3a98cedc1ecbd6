import { createMetrics } from '../../lib/metrics';
import { createHttpStediGateway } from './gateway';
import { meterStediBatchCalls, stediBatchCallRecorder } from './metered-gateway';

/** probe p16 #6: stedi_requests_total counted only real-time calls; batch submit / poll / status now count too. */
describe('meterStediBatchCalls over the HTTP gateway (fake HTTP layer)', () => {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

  function setup(respond: (url: string, method: string) => Response | Promise<Response>) {
    const fetch = (async (input: string | URL | Request, init?: RequestInit) => respond(String(input), init?.method ?? 'GET')) as typeof globalThis.fetch;
    const metrics = createMetrics('metered-gateway-test');
    const gw = meterStediBatchCalls(createHttpStediGateway({ baseUrl: 'http://stedi.test', apiKey: 'k', fetch }), stediBatchCallRecorder(metrics));
    const count = async (api: string, outcome: string) =>
      (await metrics.stediRequests.get()).values.find((v) => v.labels.api === api && v.labels.outcome === outcome)?.value ?? 0;
    const observed = async (api: string) =>
      (await metrics.stediDuration.get()).values.find((v) => v.labels.api === api && (v as { metricName?: string }).metricName === 'stedi_request_duration_seconds_count')?.value ?? 0;
    return { gw, metrics, count, observed };
  }

  it('counts ok submits, polls and status reads under their api with outcome ok, and times them', async () => {
    const { gw, count, observed } = setup((url, method) => {
      if (method === 'POST') return json(200, { batchId: 'b1', submittedAt: '2026-12-04T00:00:00Z' });
      if (url.includes('/polling/')) return json(200, { items: [] });
      return json(200, { batchId: 'b1', status: 'COMPLETED' });
    });
    await gw.submitBatch({ name: 'n', items: [] } as never);
    await gw.pollBatchResults({ pageSize: 10 });
    await gw.pollBatchResults({ pageSize: 10 });
    await gw.getBatch('b1');
    expect(await count('batch_submit', 'ok')).toBe(1);
    expect(await count('batch_poll', 'ok')).toBe(2);
    expect(await count('batch_status', 'ok')).toBe(1);
    expect(await observed('batch_poll')).toBe(2);
  });

  it('labels failures with the Stedi classification (the words the alerts match) and rethrows them', async () => {
    let status = 500;
    const { gw, count } = setup(() => json(status, { message: 'nope' }, status === 429 ? { 'retry-after': '1' } : {}));
    await expect(gw.submitBatch({ name: 'n', items: [] } as never)).rejects.toThrow(/submitBatch/);
    status = 429;
    await expect(gw.pollBatchResults({})).rejects.toThrow(/pollBatchResults/);
    expect(await count('batch_submit', 'server')).toBe(1);
    expect(await count('batch_poll', 'throttled')).toBe(1);
  });

  it('counts a network failure as server and leaves real-time checks to the eligibility activity', async () => {
    const { gw, metrics, count } = setup(() => Promise.reject(new TypeError('fetch failed')));
    await expect(gw.getBatch('b1')).rejects.toThrow();
    expect(await count('batch_status', 'server')).toBe(1);
    await expect(gw.checkEligibility({} as never)).rejects.toThrow();
    expect((await metrics.stediRequests.get()).values.filter((v) => v.labels.api === 'realtime')).toEqual([]);
  });
});
