/**
 * CheckEligibility CACHE_ONLY hits over Connect JSON against a bare floor, both measured in one run (issue 14).
 *
 *  - floor: a bare node:http server that reads the request body, does one ioredis GET of the member's value (the
 *    same JSON a cache entry holds) and writes it back;
 *  - api:   the real API process (api/main.ts: auth, strict input, metrics, audit, prediction-usage and
 *           warm-usage recording, its production logger at LOG_LEVEL=info) on the stack's Redis, PostgreSQL
 *           (a private migrated schema) and Temporal. A CACHE_ONLY hit needs no worker, so none runs.
 *
 * Both servers run as their own processes; autocannon runs here. Every request is the same Connect JSON POST
 * (Authorization: Bearer <dev JWT>, a member id cycling over the pre-filled members), sent to each. For each
 * target: `--connections` (32) connections for `--seconds` (10), then one connection for the single-client p50/p99.
 * With `--rounds` > 1 the targets alternate (with `--compare`, the two APIs take turns going first: use an even
 * number of rounds); the ratio of each round is printed (the machine is shared: the ratio
 * within one run is what counts). Each run also reads the server process's CPU time (user + system, Linux /proc) and
 * prints CPU µs per answered request, also at one fixed offered rate for every target (`--rate`). Needs the stack's infrastructure (`./stack/stack up --infra`). Usage:
 *   npm run bench:api -- [--members 500] [--seconds 10] [--connections 32] [--rounds 1]
 *   (under the shared lock: flock /tmp/rte-int.lock npx tsx bench/api-cache-read.ts)
 */
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createConfiguredEligibilityCache } from '../activities/cache';
import { API_NODE_FLAGS } from '../api/node-flags';
import { buildEligibilityRequest } from '../activities/stedi/request-builder';
import { createTestDirectory } from '../directory/test-support';
import { loadConfig } from '../lib/config';
import { normalizeEligibilityResponse } from '../lib/coverage-summary';
import { mintDevToken } from '../lib/dev-token';
import { silentLogger } from '../lib/logger';
import { syntheticMembers } from '../lib/member-fixtures';
import { answerEligibility, verdictFor } from '../stedi-sim/answers';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const MEMBERS = arg('members', 500);
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 32);
const ROUNDS = arg('rounds', 1);
/**
 * `--rate N` (default 1500; 0 = off): each round also offers every target the same N req/s (32 connections) and reads
 * its CPU per request there. CPU per request falls as throughput rises (fixed costs per event-loop turn and per socket
 * write are shared by more requests), so it is compared at the same rate, not at each target's own maximum.
 */
const RATE = arg('rate', 1500);
/** `--cpu-prof DIR`: the API process writes a V8 CPU profile into DIR when it exits (open it in Chrome DevTools). */
const CPU_PROF_DIR = process.argv.includes('--cpu-prof') ? process.argv[process.argv.indexOf('--cpu-prof') + 1] : undefined;
/**
 * `--compare DIR`: also runs DIR's api/main.ts (another checkout, e.g. `git archive <commit> | tar -x -C DIR` with a
 * node_modules link) as target `api-before`, so before and after are measured under the same load.
 */
const COMPARE_DIR = process.argv.includes('--compare') ? path.resolve(process.argv[process.argv.indexOf('--compare') + 1]!) : undefined;
/**
 * `--dist`: run the API (and `--compare DIR`'s) as production does, `node dist/api/main.js` (the stack's entry; build
 * first with `npm run build`, in DIR too), instead of api/main.ts under tsx (whose loader and source maps cost ~1 %).
 */
const DIST = process.argv.includes('--dist');
/**
 * `--api-node-flag FLAG`: an extra node flag for the `api` target only (not `api-before`), e.g.
 * `--api-node-flag --experimental-async-context-frame` with `--compare` on the same checkout to measure a flag alone.
 */
const API_NODE_FLAG = process.argv.includes('--api-node-flag') ? process.argv[process.argv.indexOf('--api-node-flag') + 1] : undefined;
const ROOT = path.resolve(__dirname, '..');
const PATH = '/rte.v1.EligibilityService/CheckEligibility';

/** The floor server (child process mode): one GET per request, value written back as is. */
function serveFloor(): void {
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  const prefix = process.env['FLOOR_PREFIX'] ?? '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let memberId: string;
      try {
        memberId = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { memberId?: unknown }).memberId);
      } catch {
        res.writeHead(400).end();
        return;
      }
      redis.get(`${prefix}${memberId}`).then(
        (v) => {
          if (v === null) res.writeHead(404).end();
          else res.writeHead(200, { 'content-type': 'application/json' }).end(v);
        },
        () => res.writeHead(503).end(),
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    console.log(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }));
  });
}

interface Child {
  proc: ChildProcess;
  port: number;
  tail(): string;
}

/** Spawns a node process (tsx) and waits for the stdout line that carries its port. */
function spawnServer(args: string[], env: Record<string, string>, portOf: (line: Record<string, unknown>) => number | undefined, nodeFlags: string[] = [], cwd = ROOT, tsx = true): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeFlags, ...(tsx ? ['--import', 'tsx'] : []), ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 120 s:\n${out}`)), 120_000);
    proc.stderr?.on('data', (d: Buffer) => void (out = (out + d.toString()).slice(-4000)));
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code ?? 'signal'}):\n${out}`)));
    proc.stdout?.on('data', (d: Buffer) => {
      out = (out + d.toString()).slice(-4000);
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const port = portOf(JSON.parse(line) as Record<string, unknown>);
          if (port) {
            clearTimeout(timer);
            resolve({ proc, port, tail: () => out });
          }
        } catch {
          // not a JSON line
        }
      }
    });
  });
}

interface Run {
  target: string;
  connections: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU time (user + system) the server process spent per answered request, in µs; undefined off Linux. */
  cpuUsPerReq: number | undefined;
}

/** User + system CPU time of a process so far, in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15 (clock ticks).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

async function load(target: string, port: number, connections: number, seconds: number, requests: autocannon.Request[], headers: Record<string, string>, pid?: number, overallRate?: number): Promise<Run> {
  const cpuBefore = cpuMs(pid);
  const r = await autocannon({ url: `http://127.0.0.1:${port}${PATH}`, method: 'POST', headers, connections, duration: seconds, requests, ...(overallRate ? { overallRate } : {}) });
  const cpuAfter = cpuMs(pid);
  const cpuUsPerReq = cpuBefore !== undefined && cpuAfter !== undefined && r.requests.total > 0 ? ((cpuAfter - cpuBefore) * 1000) / r.requests.total : undefined;
  return { target, connections, reqPerSec: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, cpuUsPerReq };
}

async function main(): Promise<void> {
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  const floorPrefix = `${prefix}floor:`;
  const config = loadConfig({ ...process.env, REDIS_KEY_PREFIX: prefix });
  const redis = new Redis(config.redisUrl);
  // The API's PostgreSQL (warm-usage counts) needs the platform's tables: a private migrated schema.
  const dir = await createTestDirectory({ seed: 7, population: 10 });
  const children: Child[] = [];
  try {
    // Pre-fill: a simulator answer per member, normalised and stored as the worker would (members whose payer the
    // simulator rejects are left out: this measures hits). The floor's value is the same JSON string.
    const cache = createConfiguredEligibilityCache(redis, config, silentLogger());
    const ctx = { now: new Date(), applicationMode: 'test' as const, newCheckId: () => `ec_${randomUUID()}`, unknownPayerIds: new Set<string>() };
    const provider = { npi: config.stedi.providerNpi, organizationName: config.stedi.providerOrganizationName };
    const members = syntheticMembers(MEMBERS * 2)
      .filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'aaa')
      .slice(0, MEMBERS);
    let valueBytes = 0;
    for (const m of members) {
      const request = buildEligibilityRequest({ member: m, provider, controlNumberSeed: m.memberId });
      const summary = normalizeEligibilityResponse(answerEligibility(request as never, ctx).body);
      const put = await cache.put({ memberId: m.memberId, operation: 'check_eligibility', summary, outcome: 'success', source: 'realtime', stediCheckId: summary.stediCheckId ?? 'ec_bench', fetchedAt: Date.now() });
      const raw = JSON.stringify(put.entry);
      valueBytes += raw.length;
      await redis.set(`${floorPrefix}${m.memberId}`, raw, 'EX', 3600);
    }

    const floor = await spawnServer(['bench/api-cache-read.ts', '--serve-floor'], { REDIS_URL: config.redisUrl, FLOOR_PREFIX: floorPrefix }, (l) => (typeof l['port'] === 'number' ? l['port'] : undefined));
    children.push(floor);
    const apiEnv = {
      LOG_LEVEL: 'info',
      API_PORT: '0',
      API_HOST: '127.0.0.1',
      REDIS_KEY_PREFIX: prefix,
      DATABASE_SCHEMA: dir.schema,
      // Stop quickly at the end (keep-alive connections are cut after 2 s).
      SHUTDOWN_GRACE_MS: '2000',
      TEMPORAL_TASK_QUEUE: `tq-bench-${randomUUID().slice(0, 8)}`,
    };
    const listening = (l: Record<string, unknown>) => (l['msg'] === 'api listening (Connect, gRPC, gRPC-Web)' && typeof l['port'] === 'number' ? l['port'] : undefined);
    const apiEntry = DIST ? 'dist/api/main.js' : 'api/main.ts';
    // Both APIs run with the node flags the API is deployed with (api/node-flags.ts), as the stack starts it.
    const apiFlags = [...API_NODE_FLAGS, ...(CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : []), ...(API_NODE_FLAG ? [API_NODE_FLAG] : [])];
    const api = await spawnServer([apiEntry], apiEnv, listening, apiFlags, ROOT, !DIST);
    children.push(api);
    const targets: [string, number, number | undefined][] = [
      ['floor', floor.port, floor.proc.pid],
      ['api', api.port, api.proc.pid],
    ];
    if (COMPARE_DIR) {
      const before = await spawnServer([apiEntry], apiEnv, listening, [...API_NODE_FLAGS], COMPARE_DIR, !DIST);
      children.push(before);
      targets.splice(1, 0, ['api-before', before.port, before.proc.pid]);
    }

    const token = await mintDevToken({ service: 'bench-member-app', scopes: ['rte:eligibility:read'], secret: config.auth.mode === 'dev-hs256' ? config.auth.devSecret : '' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const requests = members.slice(0, 200).map((m) => ({ method: 'POST' as const, path: PATH, body: JSON.stringify({ memberId: m.memberId, cacheControl: 'CACHE_CONTROL_CACHE_ONLY' }) }));

    // Both answer, and the API answers a HIT (a broken API must not look fast).
    for (const [name, port] of targets) {
      const res = await fetch(`http://127.0.0.1:${port}${PATH}`, { method: 'POST', headers, body: requests[0]!.body });
      const text = await res.text();
      if (res.status !== 200 || (name !== 'floor' && !text.includes('"CACHE_STATUS_HIT"'))) throw new Error(`${name} answered ${res.status}: ${text.slice(0, 300)}`);
    }
    const apiBytes = (await (await fetch(`http://127.0.0.1:${api.port}${PATH}`, { method: 'POST', headers, body: requests[0]!.body })).text()).length;

    const runs: Run[] = [];
    const ratios: Record<string, string | number>[] = [];
    const single = Math.max(3, SECONDS / 2);
    const base = targets.slice(1);
    for (let round = 1; round <= ROUNDS; round++) {
      // The API targets take turns going first: whichever runs right after another API process measured 4–10 % slower
      // in A/A runs (the same code as both), so a fixed order would favour the first. The floor always leads its round.
      const turn = (round - 1) % base.length;
      targets.splice(1, base.length, ...base.slice(turn), ...base.slice(0, turn));
      // Warm-up (JIT, connection pools), not measured.
      for (const [name, port] of targets) await load(name, port, CONNECTIONS, 2, requests, headers);
      const many: Run[] = [];
      const one: Run[] = [];
      for (const [name, port, pid] of targets) many.push(await load(name, port, CONNECTIONS, SECONDS, requests, headers, pid));
      for (const [name, port, pid] of targets) one.push(await load(name, port, 1, single, requests, headers, pid));
      const fixed: Run[] = [];
      if (RATE > 0) for (const [name, port, pid] of targets) fixed.push({ ...(await load(name, port, CONNECTIONS, single, requests, headers, pid, RATE)), target: `${name} @${RATE}/s` });
      runs.push(...many, ...one, ...fixed);
      const floorRps = many[0]!.reqPerSec;
      for (let i = 1; i < targets.length; i++) {
        ratios.push({
          round,
          target: targets[i]![0],
          'req/s ÷ floor (target ≥ 0.5)': (many[i]!.reqPerSec / floorRps).toFixed(3),
          'single-client p99 ms (target ≤ 5)': one[i]!.p99,
          'floor single-client p99 ms': one[0]!.p99,
          // Load-independent: the server's own CPU per answer (the shared machine moves req/s, much less this).
          'CPU µs/req (32 conn.)': many[i]!.cpuUsPerReq?.toFixed(0) ?? '-',
          [`CPU µs/req @${RATE}/s`]: fixed[i]?.cpuUsPerReq?.toFixed(0) ?? '-',
          [`floor CPU µs/req ÷ this @${RATE}/s`]: fixed[i]?.cpuUsPerReq ? (fixed[0]!.cpuUsPerReq! / fixed[i]!.cpuUsPerReq!).toFixed(3) : '-',
        });
      }
    }

    console.log('== CheckEligibility CACHE_ONLY hits (Connect JSON) vs a bare Redis-GET floor, one run ==');
    console.log(`members ${members.length}; cache value ${Math.round(valueBytes / members.length)} bytes; API answer ${apiBytes} bytes; API run as ${DIST ? 'dist/api/main.js (node)' : 'api/main.ts (tsx)'}; load average (1 min) ${loadavg()[0]!.toFixed(2)}`);
    console.table(runs.map((r) => ({ target: r.target, connections: r.connections, 'req/s': Math.round(r.reqPerSec), 'p50 ms': r.p50, 'p99 ms': r.p99, 'CPU µs/req': r.cpuUsPerReq?.toFixed(0) ?? '-', non2xx: r.non2xx, errors: r.errors })));
    console.table(ratios);
    const bad = runs.filter((r) => r.non2xx > 0 || r.errors > 0);
    if (bad.length > 0) throw new Error(`failed requests: ${JSON.stringify(bad)}`);
  } finally {
    // Wait for the servers to exit (the API drains, and writes its CPU profile when asked to).
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
            const timer = setTimeout(() => {
              console.error(`a server did not exit within 30 s of SIGTERM; killed:\n${c.tail()}`);
              c.proc.kill('SIGKILL');
              resolve();
            }, 30_000);
            c.proc.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.proc.kill('SIGTERM');
          }),
      ),
    );
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
    await dir.drop();
  }
}

if (process.argv.includes('--serve-floor')) {
  serveFloor();
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
