import { Connection, type ConnectionOptions } from '@temporalio/client';
import { InterceptingCall } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { releaseCallContextWhenIdle } from './call-context';

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];

interface Seen {
  method: string;
  deadline: unknown;
  metadata: Record<string, unknown>;
}

/** A lazy connection to a closed port whose calls record the deadline and metadata they were started with. */
function recordingConnection(): { connection: Connection; seen: Seen[] } {
  const seen: Seen[] = [];
  const record: GrpcInterceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        seen.push({ method: options.method_definition.path.split('/').pop() ?? '', deadline: options.deadline, metadata: metadata.getMap() });
        next(metadata, listener);
      },
    });
  // No retry interceptor: a refused connection fails the call at once.
  return { connection: Connection.lazy({ address: '127.0.0.1:1', interceptors: [record] }), seen };
}

/**
 * Whether Node's promise hooks are on at each step of a plain node process (jest's own environment keeps them on):
 * Node adds its async id to every new promise while they are.
 */
const HOOKS_PROBE = `
const { Connection } = require('@temporalio/client');
const { releaseCallContextWhenIdle } = require('./lib/temporal/call-context.ts');
const on = () => Object.getOwnPropertySymbols(Promise.resolve()).some((s) => s.description === 'async_id_symbol');
const tick = () => new Promise((r) => setTimeout(r, 1));
(async () => {
  const steps = {};
  const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
  await connection.withDeadline(Date.now() + 1000, async () => undefined);
  await tick();
  steps.sdkAlone = on();
  releaseCallContextWhenIdle(connection);
  await tick();
  steps.released = on();
  const call = connection.withMetadata({ 'x-call': '1' }, async () => { await tick(); steps.duringCall = on(); });
  await call;
  await tick();
  steps.afterCall = on();
  await connection.close();
  process.stdout.write(JSON.stringify(steps));
})();
`;

describe('releaseCallContextWhenIdle (issue 14)', () => {
  it('keeps every call’s deadline and metadata, across awaits and overlapping calls', async () => {
    const { connection, seen } = recordingConnection();
    try {
      expect(releaseCallContextWhenIdle(connection)).toBe(true);

      const deadline = Date.now() + 60_000;
      const slow = connection.withDeadline(deadline, () =>
        connection.withMetadata({ 'x-call': 'slow' }, async () => {
          await sleep(20);
          // The other call below has started and ended by now: this one's scope is still there.
          return connection.workflowService.getSystemInfo({});
        }),
      );
      const quick = connection.withMetadata({ 'x-call': 'quick' }, () => connection.workflowService.getClusterInfo({}));
      await Promise.allSettled([quick]);
      await Promise.allSettled([slow]);

      const slowCall = seen.find((s) => s.method === 'GetSystemInfo');
      const quickCall = seen.find((s) => s.method === 'GetClusterInfo');
      expect(slowCall?.metadata['x-call']).toBe('slow');
      expect(slowCall?.deadline).toBe(deadline);
      expect(quickCall?.metadata['x-call']).toBe('quick');
      expect(quickCall?.deadline).not.toBe(deadline);

      // A scope that throws synchronously ends too, and the next call still gets its own metadata.
      expect(() =>
        connection.callContextStorage.run({}, () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      await Promise.allSettled([connection.withMetadata({ 'x-call': 'after' }, () => connection.workflowService.getSystemInfo({}))]);
      expect(seen.at(-1)?.metadata['x-call']).toBe('after');
    } finally {
      await connection.close();
    }
  });

  it('Node’s promise hooks are on only while a Temporal call is in progress (a plain node process)', () => {
    const root = path.resolve(__dirname, '../..');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', HOOKS_PROBE], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    // Without it, the SDK's first call leaves the hooks on for good.
    expect(JSON.parse(out)).toEqual({ sdkAlone: true, released: false, duringCall: true, afterCall: false });
  });
});
