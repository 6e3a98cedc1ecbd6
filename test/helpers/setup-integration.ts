import { DefaultLogger, Runtime } from '@temporalio/worker';
import { acceptErrorsOfEveryRealm } from './node-error-realm';

// Node's own errors are `instanceof Error` here too, as in a real process (no jest-only ERR_STREAM_DESTROYED lines).
acceptErrorsOfEveryRealm();

// Keep test output readable: SDK logs at WARN and above only. Must run before any Runtime use.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this module registry.
}
