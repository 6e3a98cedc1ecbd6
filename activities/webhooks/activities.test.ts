import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { silentLogger } from '../../lib/logger';
import { classifyResponse, createStaticWebhookSecretStore, createWebhookActivities, parseRetryAfter } from './activities';
import { generateWebhookSecret } from './signing';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('deliverWebhook against a local receiver', () => {
  const secret = generateWebhookSecret();
  const received: Received[] = [];
  let answers: Array<{ status: number; headers?: Record<string, string> }> = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        const a = answers.shift() ?? { status: 200 };
        res.writeHead(a.status, a.headers ?? {});
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    received.length = 0;
    answers = [];
  });

  const activities = (over: Partial<Parameters<typeof createWebhookActivities>[0]> = {}) =>
    createWebhookActivities({
      secrets: createStaticWebhookSecretStore({ 'svc-a': secret }),
      // The receiver's port, and port 1 for the connection-failure cases (a loopback address needs its ports).
      policy: { allowedHosts: [`127.0.0.1:${new URL(base).port}`, '127.0.0.1:1'], allowHttp: true },
      logger: silentLogger(),
      ...over,
    });
  const input = (over: Record<string, unknown> = {}) => ({
    url: `${base}/hooks`,
    webhookId: 'evt_batch-svc-a-job-1_3',
    body: JSON.stringify({ type: 'batch.completed', data: { batch_id: 'batch/svc-a/job-1' } }),
    eventType: 'COMPLETED',
    batchId: 'batch/svc-a/job-1',
    clientService: 'svc-a',
    attempt: 1,
    ...over,
  });

  test('a 2xx is delivered and the reference verifier accepts the signature over the exact body', async () => {
    const r = await activities().deliverWebhook(input());
    expect(r).toEqual({ outcome: 'delivered', httpStatus: 200 });
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(got.headers['webhook-id']).toBe('evt_batch-svc-a-job-1_3');
    expect(got.headers['x-batch-event-type']).toBe('COMPLETED');
    const verified = new Webhook(secret).verify(got.body, got.headers as Record<string, string>);
    expect(verified).toEqual({ type: 'batch.completed', data: { batch_id: 'batch/svc-a/job-1' } });
    // A different secret must not verify.
    expect(() => new Webhook(generateWebhookSecret()).verify(got.body, got.headers as Record<string, string>)).toThrow();
  });

  test('500 is a retry, 410 is gone, a redirect is not followed, 429 carries Retry-After', async () => {
    answers = [{ status: 500 }, { status: 410 }, { status: 302, headers: { location: 'http://10.0.0.1/' } }, { status: 429, headers: { 'retry-after': '120' } }];
    const a = activities();
    expect((await a.deliverWebhook(input())).outcome).toBe('retry');
    expect((await a.deliverWebhook(input())).outcome).toBe('gone');
    expect(await a.deliverWebhook(input())).toEqual({ outcome: 'retry', httpStatus: 302 });
    expect(await a.deliverWebhook(input())).toEqual({ outcome: 'retry', httpStatus: 429, retryAfterMs: 120_000 });
    expect(received).toHaveLength(4);
  });

  test('targets outside the allowlist and hosts resolving to private addresses are refused without a request', async () => {
    const a = activities({ policy: { allowedHosts: ['hooks.internal.test'], allowHttp: true }, resolve: (_h, cb) => cb(null, [{ address: '10.0.0.7', family: 4 }]) });
    expect((await a.deliverWebhook(input())).outcome).toBe('refused');
    const r = await a.deliverWebhook(input({ url: 'http://hooks.internal.test/cb' }));
    expect(r.outcome).toBe('refused');
    expect(r.error).toMatch(/refused address/);
    expect(received).toHaveLength(0);
  });

  test('no secret for the client: refused, nothing sent', async () => {
    expect((await activities().deliverWebhook(input({ clientService: 'svc-unknown' }))).outcome).toBe('refused');
    expect(received).toHaveLength(0);
  });

  test('connection failure is a retry', async () => {
    const r = await activities().deliverWebhook(input({ url: 'http://127.0.0.1:1/x' }));
    expect(r.outcome).toBe('retry');
  });

  // Probe p15 #7: BEST_EFFORT's single failed attempt (or an AT_LEAST_ONCE delivery's last) was logged and counted
  // `retry` although no retry follows; no series recorded a delivery given up.
  test('a failure on the final attempt is exhausted, in the result and the metric; a success or 410 keeps its outcome', async () => {
    const counted: string[] = [];
    const a = activities({ metrics: { onDelivery: (o) => void counted.push(o) } });
    answers = [{ status: 500 }, { status: 500 }, { status: 204 }, { status: 410 }];
    expect(await a.deliverWebhook(input({ finalAttempt: false }))).toEqual({ outcome: 'retry', httpStatus: 500 });
    expect(await a.deliverWebhook(input({ finalAttempt: true }))).toEqual({ outcome: 'exhausted', httpStatus: 500 });
    expect((await a.deliverWebhook(input({ finalAttempt: true }))).outcome).toBe('delivered');
    expect((await a.deliverWebhook(input({ finalAttempt: true }))).outcome).toBe('gone');
    const unreachable = await a.deliverWebhook(input({ url: 'http://127.0.0.1:1/x', finalAttempt: true }));
    expect(unreachable.outcome).toBe('exhausted');
    expect(unreachable.error).toMatch(/ECONNREFUSED/);
    expect(counted).toEqual(['retry', 'exhausted', 'delivered', 'gone', 'exhausted']);
  });
});

describe('response helpers', () => {
  test.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [301, 'retry'],
    [404, 'retry'],
    [410, 'gone'],
    [503, 'retry'],
  ] as const)('%d → %s', (status, outcome) => expect(classifyResponse(status)).toBe(outcome));

  test.each([
    [204, 'delivered'],
    [410, 'gone'],
    [302, 'exhausted'],
    [500, 'exhausted'],
    [429, 'exhausted'],
  ] as const)('final attempt: %d → %s', (status, outcome) => expect(classifyResponse(status, true)).toBe(outcome));

  test('Retry-After: seconds, HTTP date, garbage', () => {
    expect(parseRetryAfter('30', 0)).toBe(30_000);
    expect(parseRetryAfter(new Date(90_000).toUTCString(), 30_000)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter('999999999', 0)).toBe(24 * 3_600_000);
  });
});
