import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { createConfiguredEligibilityCache } from '../../activities/cache';
import { buildEligibilityRequest } from '../../activities/stedi/request-builder';
import { normalizeEligibilityResponse } from '../../lib/coverage-summary';
import { silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { answerEligibility } from '../../stedi-sim/answers';
import type { TestPlatform } from './platform';

/** Writes a cache entry for each member as a worker would (the simulator's answer, normalised): CACHE_ONLY hits. */
export async function prefillCacheHits(p: TestPlatform, members: readonly MemberRecord[]): Promise<void> {
  const cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
  const ctx = { now: new Date(), applicationMode: 'test' as const, newCheckId: () => `ec_${randomUUID()}`, unknownPayerIds: new Set<string>() };
  const provider = { npi: p.config.stedi.providerNpi, organizationName: p.config.stedi.providerOrganizationName };
  for (const m of members) {
    const request = buildEligibilityRequest({ member: m, provider, controlNumberSeed: m.memberId });
    const summary = normalizeEligibilityResponse(answerEligibility(request as never, ctx).body);
    await cache.put({ memberId: m.memberId, operation: 'check_eligibility', summary, outcome: 'success', source: 'realtime', stediCheckId: summary.stediCheckId ?? 'ec_test', fetchedAt: Date.now() });
  }
}

/**
 * The real API (api/main.ts) as its own OS processes on a test platform's Redis prefix, task queues, member-hash
 * secret and PostgreSQL schema: `processes` > 1 runs it as the stack does with API_PROCESSES (api/cluster.ts: one
 * supervisor, that many API processes sharing one port).
 */
export interface ApiProcesses {
  url: string;
  port: number;
  /** The supervisor (with processes > 1) or the single API process. */
  child: ChildProcess;
  /** Pids of the API processes currently listening (the supervisor's copies, or the single process). */
  pids(): number[];
  /** Resolves with the pid of the next API process that starts listening (a replacement). */
  nextListening(): Promise<number>;
  tail(): string;
  /** SIGTERM (drain), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export async function startApiProcesses(p: TestPlatform, processes: number, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<ApiProcesses> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      API_PROCESSES: String(processes),
      REDIS_KEY_PREFIX: p.config.redisKeyPrefix,
      TEMPORAL_TASK_QUEUE: p.config.temporal.taskQueue,
      TEMPORAL_INTERACTIVE_TASK_QUEUE: p.config.temporal.interactiveTaskQueue,
      CACHE_KEY_SECRET: p.config.cache.keySecret,
      DATABASE_SCHEMA: p.directory.schema,
      SHUTDOWN_GRACE_MS: '3000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let buf = '';
  let port = 0;
  const listening = new Set<number>();
  const waiters: ((pid: number) => void)[] = [];
  let exit: string | undefined;
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exit = `exit code ${code ?? '-'}, signal ${signal ?? '-'}`;
      r();
    }),
  );
  child.stderr?.on('data', (d: Buffer) => void (out = (out + d.toString()).slice(-6000)));
  child.stdout?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-6000);
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let l: Record<string, unknown>;
      try {
        l = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (l['msg'] === 'api listening (Connect, gRPC, gRPC-Web)' && typeof l['port'] === 'number' && typeof l['pid'] === 'number') {
        port = l['port'];
        listening.add(l['pid']);
        waiters.splice(0).forEach((w) => w(l['pid'] as number));
      }
      // A copy that exited is no longer listening (the supervisor logs its pid).
      if (typeof l['apiPid'] === 'number' && String(l['msg']).includes('exited')) listening.delete(l['apiPid']);
    }
  });
  const deadline = Date.now() + timeoutMs;
  while (listening.size < processes) {
    if (exit !== undefined) throw new Error(`the API exited before ${processes} process(es) listened (${exit}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`the API did not start ${processes} process(es) within ${timeoutMs} ms:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    pids: () => [...listening],
    nextListening: () => new Promise((r) => waiters.push(r)),
    tail: () => out,
    async stop(graceMs = 15_000) {
      if (exit !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Established TCP connections on `port` that process `pid` has accepted (Linux /proc: the connection's socket inode in
 * /proc/net/tcp{,6} and among the process's file descriptors). Each API copy accepts its own connections, so this says
 * which copy serves how many clients.
 */
export function acceptedConnections(pid: number, port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is "ADDR:PORT" (hex); st 01 = ESTABLISHED; the inode is the 10th field.
      if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === '01') inodes.add(f[9]!);
    }
  }
  let n = 0;
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}
