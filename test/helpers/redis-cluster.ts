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
  /** SIGKILLs the node on `port` (a failover test's crash) and waits for its exit. */
  kill(port: number): Promise<void>;
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

/** Replicas per slot range as the node on `port` lists them (CLUSTER SLOTS), [] when it does not answer. */
async function slotReplicaCounts(port: number): Promise<number[]> {
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return ((await probe.call('CLUSTER', 'SLOTS')) as unknown[][]).map((range) => range.length - 3);
  } catch {
    return [];
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

export async function startOwnRedisCluster(
  opts: {
    masters?: number;
    /** Replicas per master (default 0); with replicas a killed master fails over to its replica. */
    replicas?: number;
    /** cluster-node-timeout: how long a master may be unreachable before its replica takes over (default 5,000). */
    nodeTimeoutMs?: number;
    timeoutMs?: number;
  } = {},
): Promise<OwnRedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'rte-redis-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => sigkillAndWait(p)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      // The cluster bus port is set explicitly (Redis ≥ 7): port + 10000 may be taken or above 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = mkdtempSync(join(dir, `node-${i}-`));
      const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--dir', nodeDir];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 5000));
      args.push('--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning');
      procs.push(spawn('redis-server', args, { stdio: 'ignore' }));
      ports.push(port);
    }
    await waitFor('every node answers', async () => (await Promise.all(ports.map(clusterInfo))).every((s) => s.includes('cluster_state')), timeoutMs);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: timeoutMs });
    await waitFor('cluster_state:ok on every node', async () => (await Promise.all(ports.map(clusterInfo))).every((s) => s.includes('cluster_state:ok')), timeoutMs);
    // Replicas join by gossip after cluster_state:ok: wait until every node lists each master's replicas.
    if (replicas > 0) await waitFor('every node to list each master with its replicas', async () => (await Promise.all(ports.map(slotReplicaCounts))).every((c) => c.length === masters && c.every((n) => n === replicas)), timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  const kill = async (port: number): Promise<void> => {
    const i = ports.indexOf(port);
    if (i < 0) throw new Error(`redis cluster: no node on port ${port}`);
    await sigkillAndWait(procs[i]!);
  };
  return { ports, nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), kill, stop };
}
