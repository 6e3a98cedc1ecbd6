import type { Server } from 'node:net';
import { LOCAL_WEBHOOK_PORTS } from '../../lib/config';

/**
 * Binds a test's webhook receiver on 127.0.0.1 within the local profile's webhook ports (9800-9899): the only
 * loopback ports the platform's local allowlist lets a callback reach (probe p18 F1). Starts at a random port of the
 * range and moves past ports in use; returns the port it got.
 */
export async function listenOnLocalWebhookPort(server: Server): Promise<number> {
  const [lo, hi] = LOCAL_WEBHOOK_PORTS;
  const n = hi - lo + 1;
  const start = Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) {
    const port = lo + ((start + i) % n);
    const bound = await new Promise<boolean>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        if (err.code === 'EADDRINUSE') resolve(false);
        else reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve(true);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, '127.0.0.1');
    });
    if (bound) return port;
  }
  throw new Error(`no free port in ${lo}-${hi} for a webhook receiver`);
}
