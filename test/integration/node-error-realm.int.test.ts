import { Writable } from 'node:stream';

/**
 * The integration setup (test/helpers/setup-integration.ts) makes Node's own errors `instanceof Error`, as in a real
 * process: without it, connect-node classes a client that dropped a stream as internal and prints a jest-only
 * "handler for rpc … failed … ERR_STREAM_DESTROYED" line (test/helpers/node-error-realm.ts).
 */
test("Node's own errors are instanceof Error in the integration projects", async () => {
  const err = await new Promise<unknown>((resolve) => {
    const w = new Writable({ write: (_c, _e, cb) => cb() });
    w.on('error', () => undefined);
    w.destroy();
    w.write('x', (e) => resolve(e));
  });
  expect((err as { code?: string }).code).toBe('ERR_STREAM_DESTROYED');
  expect(err instanceof Error).toBe(true);
});
