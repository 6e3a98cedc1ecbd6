import { Code } from '@connectrpc/connect';
import { codeFromString } from '@connectrpc/connect/protocol-connect';
import { randomUUID } from 'node:crypto';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { CASES, CONTRACT_SCHEDULE_PREFIX, RPCS, type ContractCase } from './cases';

/**
 * The client contract, walked the way a client nobody on the team wrote would: raw Connect JSON, Connect binary
 * and gRPC (HTTP/2) requests against the real API (real Temporal, Redis, PostgreSQL, Stedi simulator). For every
 * row of the table in ./cases.ts and every encoding it defines: the documented code, within 1 s, with the field
 * path in the message; and afterwards no side effect at all (no workflow on the platform's task queue, no
 * rate-limit unit spent, no Stedi call). Errors a client can get are listed in docs/api-errors.md.
 */

type Protocol = 'connect-json' | 'connect-proto' | 'grpc';
interface Answer {
  code: Code | 'ok';
  message: string;
  ms: number;
}

const CLIENT = 'contract-svc';
let platform: TestPlatform;
let token: string;
let h2: ClientHttp2Session;

function envelope(flags: number, data: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, Buffer.from(data)]);
}

function bodyOf(c: ContractCase, protocol: Protocol): Uint8Array | undefined {
  if (protocol === 'connect-json') return c.json === undefined ? undefined : Buffer.from(typeof c.json === 'string' ? c.json : JSON.stringify(c.json));
  return c.bin;
}

async function callConnect(c: ContractCase, body: Uint8Array, json: boolean): Promise<Answer> {
  const rpc = RPCS[c.rpc];
  const stream = 'stream' in rpc && rpc.stream === true;
  const contentType = stream ? (json ? 'application/connect+json' : 'application/connect+proto') : json ? 'application/json' : 'application/proto';
  const t0 = Date.now();
  const res = await fetch(`${platform.apiUrl}${rpc.path}`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'connect-protocol-version': '1', authorization: `Bearer ${token}`, ...c.headers },
    body: new Uint8Array(stream ? envelope(0, body) : body),
    signal: AbortSignal.timeout(30_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const ms = Date.now() - t0;
  if (!stream) {
    if (res.status === 200) return { code: 'ok', message: '', ms };
    const e = JSON.parse(bytes.toString('utf8')) as { code: string; message?: string };
    return { code: codeFromString(e.code) ?? Code.Unknown, message: e.message ?? '', ms };
  }
  // Streaming: the end-of-stream envelope (flag 0x02) carries the error, if any.
  for (let off = 0; off + 5 <= bytes.length; ) {
    const flags = bytes.readUInt8(off);
    const len = bytes.readUInt32BE(off + 1);
    const data = bytes.subarray(off + 5, off + 5 + len);
    off += 5 + len;
    if (flags & 0x02) {
      const end = JSON.parse(data.toString('utf8') || '{}') as { error?: { code: string; message?: string } };
      if (!end.error) return { code: 'ok', message: '', ms };
      return { code: codeFromString(end.error.code) ?? Code.Unknown, message: end.error.message ?? '', ms };
    }
  }
  return { code: res.status === 200 ? 'ok' : Code.Unknown, message: `http ${res.status}`, ms };
}

function callGrpc(c: ContractCase, body: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = h2.request({
      ':method': 'POST',
      ':path': RPCS[c.rpc].path,
      'content-type': 'application/grpc+proto',
      te: 'trailers',
      authorization: `Bearer ${token}`,
      ...c.headers,
    });
    let status: string | undefined;
    let message = '';
    const take = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) {
        status = String(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined);
    req.on('error', reject);
    req.setTimeout(30_000, () => req.close());
    req.on('close', () => {
      if (status === undefined) return reject(new Error(`no grpc-status for ${c.rpc} ${c.what}`));
      const n = Number(status);
      resolve({ code: n === 0 ? 'ok' : (n as Code), message, ms: Date.now() - t0 });
    });
    req.end(envelope(0, body));
  });
}

function call(c: ContractCase, protocol: Protocol, body: Uint8Array): Promise<Answer> {
  return protocol === 'grpc' ? callGrpc(c, body) : callConnect(c, body, protocol === 'connect-json');
}

function expectedField(c: ContractCase, protocol: Protocol): string | undefined {
  if (c.field === undefined || typeof c.field === 'string') return c.field;
  return protocol === 'connect-json' ? c.field.json : c.field.bin;
}

beforeAll(async () => {
  platform = await startTestPlatform({ population: 50 });
  token = await platform.token(['rte:admin', 'rte:eligibility:read', 'rte:batch:submit', 'rte:batch:read', 'rte:batch:cancel', 'rte:warming:write', 'rte:warming:read'], CLIENT);
  h2 = h2connect(platform.apiUrl);
  // Warm every code path once (connections, catalogs) so the 1 s bound measures the contract, not cold starts.
  await callConnect({ rpc: 'ListBatches', what: 'warm-up', code: Code.InvalidArgument }, Buffer.from('{}'), true);
  await callGrpc({ rpc: 'ListBatches', what: 'warm-up', code: Code.InvalidArgument }, new Uint8Array());
  platform.sim.resetStats();
});

afterAll(async () => {
  h2?.close();
  await platform?.close();
});

const PROTOCOLS: Protocol[] = ['connect-json', 'connect-proto', 'grpc'];
const table = CASES.flatMap((c) => PROTOCOLS.filter((p) => bodyOf(c, p) !== undefined).map((p) => [c.rpc, c.what, p, c] as const));

describe('client contract: every malformed input is refused at once with its field', () => {
  test.each(table)('%s: %s (%s)', async (_rpc, _what, protocol, c) => {
    const a = await call(c, protocol, bodyOf(c, protocol)!);
    expect({ code: a.code === 'ok' ? 'ok' : Code[a.code], message: a.message }).toEqual({ code: Code[c.code], message: expect.any(String) });
    const field = expectedField(c, protocol);
    if (field !== undefined) expect(a.message).toContain(field);
    expect(a.ms).toBeLessThan(1_000);
  });

  test('every Connect error answer is marked Cache-Control: no-store, the CACHE_ONLY miss (404) included', async () => {
    const get = (msg: unknown, extra: Record<string, string> = {}) =>
      fetch(`${platform.apiUrl}${RPCS.CheckEligibility.path}?encoding=json&connect=v1&message=${encodeURIComponent(JSON.stringify(msg))}`, {
        headers: { authorization: `Bearer ${token}`, ...extra },
      });
    const miss = await get({ memberId: platform.members[1]!.memberId, cacheControl: 'CACHE_CONTROL_CACHE_ONLY' });
    expect(miss.status).toBe(404);
    expect(miss.headers.get('rte-cache-status')).toBe('MISS');
    expect(miss.headers.get('cache-control')).toBe('no-store');
    const bad = await get({ memberId: '' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('cache-control')).toBe('no-store');
  });

  test('a request the API cannot decode at all (wrong content type) is refused without reaching a handler', async () => {
    const res = await fetch(`${platform.apiUrl}${RPCS.SubmitBatch.path}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
      body: 'clientJobId=x',
    });
    expect(res.status).toBe(415);
  });

  test('no side effect: no workflow started, no rate-limit unit spent, no Stedi call — and the detectors do see a real one', async () => {
    const tq = platform.config.temporal.taskQueue;
    const workflowsOnQueue = async () => {
      let n = 0;
      for await (const _ of platform.temporal.workflow.list({ query: `TaskQueue = '${tq}'` })) n++;
      return n;
    };
    // SubmitBatch's and WarmCache's rate limiters (their own key prefixes).
    const rateKeys = async () => [
      ...(await platform.redis.keys(`${platform.config.redisKeyPrefix}*submit*`)),
      ...(await platform.redis.keys(`${platform.config.redisKeyPrefix}warm-cache:*`)),
    ];
    // ScheduleWarming rows use a per-run name prefix: no schedule with it may exist.
    const contractSchedules = async () => {
      const ids: string[] = [];
      for await (const sch of platform.temporal.schedule.list()) if (sch.scheduleId.includes(CONTRACT_SCHEDULE_PREFIX)) ids.push(sch.scheduleId);
      return ids;
    };
    const stediCalls = () => Object.values(platform.sim.stats().calls).reduce((s, byStatus) => s + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
    // Visibility is eventually consistent: give it a moment before concluding "nothing".
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await workflowsOnQueue()).toBe(0);
    expect(await rateKeys()).toEqual([]);
    expect(stediCalls()).toBe(0);
    expect(await contractSchedules()).toEqual([]);

    // Positive control: one valid submission is seen by each detector that applies.
    const ok = await callConnect(
      { rpc: 'SubmitBatch', what: 'valid', code: Code.InvalidArgument },
      Buffer.from(JSON.stringify({ clientJobId: `contract-ok-${randomUUID()}`, memberIds: { memberIds: [platform.members[0]!.memberId] }, cacheControl: 'CACHE_CONTROL_CACHE_ONLY' })),
      true,
    );
    expect(ok.code).toBe('ok');
    expect((await rateKeys()).length).toBeGreaterThan(0);
    const deadline = Date.now() + 20_000;
    while ((await workflowsOnQueue()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(await workflowsOnQueue()).toBeGreaterThan(0);
  });
});
