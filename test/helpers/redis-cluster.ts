import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './own-redis';
import { sigkillAndWait } from './kill-process';

const run = promisify(execFile);

/**
 * A throwaway Redis Cluster for integration tests (never the shared stack's Redis): `masters` redis-server processes
 * (Debian's, as the stack installs it) with `--cluster-enabled yes` on free ports and their own temp dirs, joined by
 * `redis-cli --cluster create … --cluster-replicas 0`, ready once every node reports `cluster_state:ok`.
 * `nodes` is what REDIS_CLUSTER_NODES takes.
 */
export interface OwnRedisCluster {
  readonly ports: readonly number[];
  /** "127.0.0.1:p1,127.0.0.1:p2,…" */
  readonly nodes: string;
  stop(): Promise<void>;
}

async function clusterInfo(port: number): Promise<string> {
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return String(await probe.call('CLUSTER', 'INFO'));
  } catch {
    return '';
  } finally {
    probe.disconnect();
  }
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await ok()) return;
    await sleep(50);
  }
  throw new Error(`redis cluster: ${what} within ${timeoutMs} ms`);
}

export async function startOwnRedisCluster(opts: { masters?: number; timeoutMs?: number } = {}): Promise<OwnRedisCluster> {
  const masters = opts.masters ?? 3;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'rte-redis-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => sigkillAndWait(p)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus port is set explicitly (Redis ≥ 7): port + 10000 may be taken or above 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = mkdtempSync(join(dir, `node-${i}-`));
      const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', nodeDir];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000');
      args.push('--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning');
      procs.push(spawn('redis-server', args, { stdio: 'ignore' }));
      ports.push(port);
    }
    await waitFor('every node answers', async () => (await Promise.all(ports.map(clusterInfo))).every((s) => s.includes('cluster_state')), timeoutMs);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: timeoutMs });
    await waitFor('cluster_state:ok on every node', async () => (await Promise.all(ports.map(clusterInfo))).every((s) => s.includes('cluster_state:ok')), timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), stop };
}
