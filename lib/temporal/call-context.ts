import { AsyncLocalStorage } from 'node:async_hooks';
import type { Connection } from '@temporalio/client';

/**
 * Issue 14: the Temporal client keeps each call's metadata, deadline and abort signal in an AsyncLocalStorage
 * (`Connection.callContextStorage`: `withMetadata`, `withDeadline`, `withAbortSignal`, and the namespace header the
 * client adds to every call). On Node 22 an enabled AsyncLocalStorage turns on Node's promise hooks for every promise
 * in the process, whether a Temporal call is running or not: the API's cache reads, which never call Temporal, paid
 * an init, before and after hook per promise (a few µs and ~5 % of the allocations of a cached read).
 *
 * The store is only read while a call is made, inside `run` (the SDK's RPC implementation reads it synchronously
 * when it starts the gRPC call), so this disables the storage whenever no `run` is in progress; the next `run`
 * enables it again, and Node turns the hooks back on with it. Every call keeps its metadata, deadline and abort signal
 * exactly as before; between Temporal calls (most of the API's time) no hook runs. Hand-written because the SDK has
 * no option for it; Node 24's AsyncLocalStorage (async context frames) needs no promise hooks and makes it moot.
 *
 * Returns false and changes nothing if the connection does not carry its storage where this SDK version keeps it.
 */
export function releaseCallContextWhenIdle(connection: Connection): boolean {
  const storage: unknown = (connection as unknown as { callContextStorage?: unknown }).callContextStorage;
  if (!(storage instanceof AsyncLocalStorage)) return false;
  const als = storage as AsyncLocalStorage<unknown>;
  const run = als.run.bind(als) as (store: unknown, callback: (...args: unknown[]) => unknown, ...args: unknown[]) => unknown;
  let active = 0;
  const done = (): void => {
    if (--active === 0) als.disable();
  };
  const released = (store: unknown, callback: (...args: unknown[]) => unknown, ...args: unknown[]): unknown => {
    active++;
    let result: unknown;
    try {
      result = run(store, callback, ...args);
    } catch (err) {
      done();
      throw err;
    }
    // The caller awaits `result` itself; this only notes when the call's scope ends (never an unhandled rejection).
    if (isThenable(result)) result.then(done, done);
    else done();
    return result;
  };
  (als as unknown as { run: typeof released }).run = released;
  // Connection.connect already made its first call (getSystemInfo under a deadline), which enabled the storage.
  if (active === 0) als.disable();
  return true;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
