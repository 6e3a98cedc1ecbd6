/**
 * Jest runs each test file in its own VM context, whose global `Error` is not the one Node's core modules build their
 * errors from: inside jest, `err instanceof Error` is false for a socket's ERR_STREAM_DESTROYED or ECONNRESET. Library
 * code that classifies errors that way then misreads them; connect-node, for one, classes a client that dropped a
 * stream as `internal` and console.errors "handler for rpc … failed" with ERR_STREAM_DESTROYED, which a real process
 * (one realm) never prints (docs/api-errors.md).
 *
 * This makes `x instanceof Error` true again for errors of any realm (`[object Error]`), as in a plain Node process.
 * Only `Error` itself is widened: a subclass (FieldError, ConnectError, …) keeps its own prototype-chain answer.
 * Returns a function that restores the previous behaviour.
 */
export function acceptErrorsOfEveryRealm(): () => void {
  const previous = Object.getOwnPropertyDescriptor(Error, Symbol.hasInstance);
  const byPrototype = Function.prototype[Symbol.hasInstance];
  Object.defineProperty(Error, Symbol.hasInstance, {
    configurable: true,
    value: function hasInstance(this: unknown, v: unknown): boolean {
      if (byPrototype.call(this, v)) return true;
      return this === Error && Object.prototype.toString.call(v) === '[object Error]';
    },
  });
  return () => {
    if (previous) Object.defineProperty(Error, Symbol.hasInstance, previous);
    else delete (Error as unknown as Record<symbol, unknown>)[Symbol.hasInstance];
  };
}
