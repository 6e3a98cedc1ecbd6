import { Writable } from 'node:stream';
import { FieldError } from '../../lib/errors';
import { acceptErrorsOfEveryRealm } from './node-error-realm';

/** An error built by Node's core (another realm than this jest sandbox's): a write to a destroyed stream. */
function coreStreamError(): Promise<unknown> {
  return new Promise((resolve) => {
    const w = new Writable({ write: (_c, _e, cb) => cb() });
    w.on('error', () => undefined);
    w.destroy();
    w.write('x', (err) => resolve(err));
  });
}

describe('acceptErrorsOfEveryRealm', () => {
  it("makes Node's own errors instanceof Error, leaves subclasses alone, and restores", async () => {
    const err = await coreStreamError();
    expect((err as { code?: string }).code).toBe('ERR_STREAM_DESTROYED');
    const before = err instanceof Error;
    const restore = acceptErrorsOfEveryRealm();
    try {
      expect(err instanceof Error).toBe(true);
      expect(new Error('x') instanceof FieldError).toBe(false);
      expect(err instanceof FieldError).toBe(false);
      expect(new FieldError('f', 'm') instanceof Error).toBe(true);
      expect({ message: 'x' } instanceof Error).toBe(false);
    } finally {
      restore();
    }
    expect(err instanceof Error).toBe(before);
  });
});
