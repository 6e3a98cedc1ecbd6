import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { sigkillAndWait } from './kill-process';

/**
 * A throwaway redis-server for fault tests (never the shared stack's Redis): a free port, a temp dir, and
 * kill -9 / restart like an operator would. `persistence: 'none'` (the state-loss case) or 'aof' (the stack's
 * appendonly everysec).
 */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: no shutdown save. */
  kill(): Promise<void>;
  /**
   * Starts it again on the same port and dir (same persistence); resolves once it answers PING. `wipe` deletes the
   * data dir first: the state loss of a failover to an empty replica or a restart without persistence.
   */
  start(opts?: { wipe?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startOwnRedis(opts: { persistence?: 'none' | 'aof' } = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rte-own-redis-'));
  const persistence = opts.persistence ?? 'none';
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning'];
  if (persistence === 'aof') args.push('--appendonly', 'yes', '--appendfsync', 'everysec');
  else args.push('--appendonly', 'no');
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;

  async function start(o: { wipe?: boolean } = {}): Promise<void> {
    if (o.wipe) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') {
          probe.disconnect();
          return;
        }
      } catch {
        probe.disconnect();
      }
      await sleep(25);
    }
    throw new Error(`redis-server on ${port} did not start`);
  }

  async function kill(): Promise<void> {
    const p = proc;
    proc = undefined;
    await sigkillAndWait(p);
  }

  await start();
  return {
    url,
    port,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
