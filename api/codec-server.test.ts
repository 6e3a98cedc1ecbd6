import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { createCodecServer } from './codec-server';
import { createTokenVerifier } from './auth';
import { mintDevToken } from '../lib/dev-token';
import { silentLogger } from '../lib/logger';
import { EncryptionCodec, parseCodecKeys } from '../lib/temporal/codec';

const secret = 'codec-test-secret';
const codec = new EncryptionCodec(parseCodecKeys(`k1:${randomBytes(32).toString('base64')}`));
const toJson = (p: { metadata?: Record<string, Uint8Array | null> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
  data: Buffer.from(p.data!).toString('base64'),
});

describe('codec server (Temporal codec-server protocol)', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createCodecServer({ codec, logger: silentLogger(), corsOrigins: ['http://127.0.0.1:8233'], verifyToken: createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }) });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const encrypted = async () => (await codec.encode([defaultPayloadConverter.toPayload({ memberId: 'm_0000042' })])).map(toJson);
  const post = async (path: string, body: unknown, token?: string) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', origin: 'http://127.0.0.1:8233', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('decodes for a caller with rte:codec:decode, with CORS for the Web UI origin', async () => {
    const token = await mintDevToken({ service: 'operator', scopes: ['rte:codec:decode'], secret });
    const res = await post('/decode', { payloads: await encrypted() }, token);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    const { payloads } = (await res.json()) as { payloads: { data: string }[] };
    expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString('utf8'))).toEqual({ memberId: 'm_0000042' });
  });

  it('refuses a missing token (401) and a token without the scope (403); answers the CORS preflight', async () => {
    expect((await post('/decode', { payloads: await encrypted() })).status).toBe(401);
    const reader = await mintDevToken({ service: 'app', scopes: ['rte:eligibility:read'], secret });
    expect((await post('/decode', { payloads: await encrypted() }, reader)).status).toBe(403);
    const pre = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:8233' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toContain('x-namespace');
    const other = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('encodes, and refuses a malformed body naming the field', async () => {
    const token = await mintDevToken({ service: 'operator', scopes: ['rte:admin'], secret });
    const plain = toJson(defaultPayloadConverter.toPayload('hello'));
    const enc = (await (await post('/encode', { payloads: [plain] }, token)).json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(enc.payloads[0]!.metadata['encoding']!, 'base64').toString()).toBe('binary/encrypted');
    const bad = await post('/decode', { nope: 1 }, token);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('payloads');
    const notArray = await post('/decode', { payloads: 'x' }, token);
    expect(notArray.status).toBe(400);
    expect(await notArray.text()).toContain('payloads: expected an array');
  });

  it('answers an empty payload list, which the temporal CLI sends as {} (a query or update with no arguments)', async () => {
    const token = await mintDevToken({ service: 'operator', scopes: ['rte:codec:decode'], secret });
    for (const path of ['/decode', '/encode']) {
      const res = await post(path, {}, token);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ payloads: [] });
    }
  });
});
