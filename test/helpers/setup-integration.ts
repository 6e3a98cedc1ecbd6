import { DefaultLogger, Runtime } from '@temporalio/worker';

// Keep test output readable: SDK logs at WARN and above only. Must run before any Runtime use.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this module registry.
}
