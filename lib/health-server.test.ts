import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createHealthServer, type HealthHandlers } from './health-server';

async function readyz(h: HealthHandlers): Promise<{ status: number; body: { status: string; degraded: string[]; ready: boolean; draining: boolean } }> {
  const server = createHealthServer(h);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
    return { status: res.status, body: (await res.json()) as never };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const ok = async () => undefined;
const down = async () => {
  throw new Error('no worker polling task queue rte-main');
};

describe('/readyz with degraded dependencies', () => {
  it('stays 200 and names the degraded dependency when only an optional one fails (cache reads still work)', async () => {
    const r = await readyz({ registry: new Registry(), checks: { redis: ok }, degradedChecks: { worker: down, temporal: ok }, isAccepting: () => true });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('degraded');
    expect(r.body.degraded).toEqual(['worker']);
  });

  it('is 503 when a required dependency fails or the process drains; ok when everything answers', async () => {
    expect((await readyz({ registry: new Registry(), checks: { redis: down }, degradedChecks: { worker: ok }, isAccepting: () => true })).status).toBe(503);
    const draining = await readyz({ registry: new Registry(), checks: { redis: ok }, isAccepting: () => false });
    // The body says why: shutting down, not a dependency down.
    expect([draining.status, draining.body.status, draining.body.draining]).toEqual([503, 'draining', true]);
    const fine = await readyz({ registry: new Registry(), checks: { redis: ok }, degradedChecks: { worker: ok }, isAccepting: () => true });
    expect([fine.status, fine.body.status, fine.body.degraded]).toEqual([200, 'ok', []]);
  });
});
