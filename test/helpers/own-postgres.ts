import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './own-redis';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL server for fault tests (never the shared stack's): initdb + pg_ctl from
 * /usr/lib/postgresql/<newest>/bin into a temp dir, started like `stack/stack` starts its own (listen on 127.0.0.1,
 * the unix socket in our own dir, run as the `postgres` OS user when we are root), so a test can kill -9 the
 * postmaster and start it again on the same data dir (crash recovery, like an operator restart).
 */
export interface OwnPostgres {
  /** Superuser URL (trust auth) of the `postgres` database. */
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin/pg_ctl'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin');
  return join(root, versions[0]!, 'bin');
}

const asRoot = process.getuid?.() === 0;

function pgUser(): { uid: number; gid: number } | undefined {
  if (!asRoot) return undefined;
  const r = spawnSync('id', ['-u', 'postgres']);
  const g = spawnSync('id', ['-g', 'postgres']);
  return { uid: Number(r.stdout.toString().trim()), gid: Number(g.stdout.toString().trim()) };
}

async function asPg(cmd: string, args: string[]): Promise<void> {
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', cmd, ...args]);
  else await run(cmd, args);
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = binDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rte-own-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(sock);
  const user = pgUser();
  // The postgres OS user must be able to enter the dir (mkdtemp makes it 0700 and root-owned).
  chmodSync(dir, 0o755);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(sock, user.uid, user.gid);
  }
  await asPg(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  async function start(): Promise<void> {
    // After a kill -9 the orphaned backends may still hold the shared memory for a moment: retry the start.
    for (let attempt = 1; ; attempt++) {
      try {
        await asPg(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', '-o', `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${sock} -c fsync=off -c max_connections=200`, 'start']);
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(500);
      }
    }
    for (let i = 0; i < 200; i++) {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      try {
        await c.connect();
        await c.query('select 1');
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
        await sleep(100);
      }
    }
    throw new Error(`own postgres on ${port} did not start`);
  }

  async function kill(): Promise<void> {
    const pidFile = join(data, 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    // Orphaned backends notice the dead postmaster and exit; wait until the port is free before a restart.
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(50);
    }
    for (let i = 0; i < 100; i++) {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: 300 });
      const up = await c.connect().then(() => true, () => false);
      await c.end().catch(() => undefined);
      if (!up) return;
      await sleep(100);
    }
  }

  await start();
  return {
    url,
    kill,
    start,
    async stop() {
      await asPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
