/**
 * Scale out (issue 14): several worker processes and several API processes on the same servers, as
 * `./stack/stack up --workers N --apis M` runs them (docs/scaling.md). Against the stack's Temporal, Redis,
 * PostgreSQL and Kafka (a test platform: private Redis prefix, task queues, schema, its own Stedi simulator at
 * reduced latency), this bench spawns the production entry points itself:
 *   - `--workers` (3) worker processes (workers/main.ts), each with its own slot-pool client;
 *   - the API (api/main.ts) with API_PROCESSES=1, then API_PROCESSES=`--apis` (2): one port, node:cluster.
 *
 * Phase 1, reads: CheckEligibility CACHE_ONLY hits (pre-filled cache, Connect JSON, `--connections` 32, autocannon
 * here) for `--read-seconds` against 1 API process and against `--apis` processes, `--rounds` (2) times in alternating
 * order; prints req/s, the API processes' CPU (from /proc) and reads per API CPU-second, and both ratios. On a small
 * machine the load generator shares the CPUs, so req/s cannot grow past them; reads per CPU-second show whether a
 * second process costs efficiency.
 * Phase 2, a real-time batch of `--members` (900) members (BYPASS_CACHE, HIGH) through the `--apis` processes while
 * `--readers` (8) clients keep reading (CACHE_ONLY) and 2 clients make live interactive checks, all through the typed
 * client (client/: its retry policy, 6 attempts). At 25 % of the batch one worker process is SIGKILLed, at 50 % one
 * API process. It samples the slot pool's in-flight count in Redis (every 20 ms) and takes the simulator's own peak of concurrent calls, and prints: max in
 * flight (≤ 15), members counted vs submitted (GetBatchStatus counters and each member's MEMBER_COMPLETED event,
 * watched through an API that is not killed), Stedi calls per member, and what the kills did to the clients.
 *
 * Run under the shared lock: flock /tmp/rte-int.lock npm run bench:scale -- [--workers 3] [--apis 2] [--members 900]
 *   [--latency-ms 300] [--read-seconds 8] [--rounds 2] [--connections 32] [--readers 8]
 * Exits non-zero if a property fails (more than 15 in flight, a member lost or counted twice, a client RPC that
 * failed for good); the figures are printed either way.
 */
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createRteClient } from '../client';
import { createRedisSlotPool } from '../activities/slot-pool';
import {
  BatchEligibilityService,
  BatchEventType,
  BatchExecutionOptions_Priority as Priority,
  BatchExecutionOptions_Strategy as Strategy,
  BatchStatus,
  type GetBatchStatusResponse,
} from '../gen/rte/v1/batch_pb';
import { CacheControl, CacheStatus } from '../gen/rte/v1/common_pb';
import { silentLogger } from '../lib/logger';
import type { MemberRecord } from '../lib/member-record';
import { isConnectivityCode, verdictFor } from '../stedi-sim/answers';
import { prefillCacheHits, startApiProcesses, type ApiProcesses } from '../test/helpers/api-processes';
import { startTestPlatform } from '../test/helpers/platform';
import { createSimCheckRecorder, simKeyOf } from '../test/helpers/sim-checks';
import { startWorkerProcess, type WorkerProcess } from '../test/helpers/worker-process';
import { BATCH_SCOPES, TERMINAL_STATUSES, simCounts } from './batch-harness';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const WORKERS = arg('workers', 3);
const APIS = arg('apis', 2);
const MEMBERS = arg('members', 900);
const LATENCY_MS = arg('latency-ms', 300);
const READ_SECONDS = arg('read-seconds', 8);
const CONNECTIONS = arg('connections', 32);
const READERS = arg('readers', 8);
const ROUNDS = arg('rounds', 2);
const READ_MEMBERS = 200;
const LIVE_CHECKERS = 2;
const SLOT_LIMIT = 15;
const PATH = '/rte.v1.EligibilityService/CheckEligibility';

const loadAvg = () => +os.loadavg()[0]!.toFixed(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
};
/** Members the simulator answers on the first try (no payer-connectivity retries), so calls per member are exact. */
const answerable = (ms: readonly MemberRecord[]) => ms.filter((m) => !isConnectivityCode(verdictFor(simKeyOf(m)).aaaCode));

async function readRate(url: string, token: string, members: readonly MemberRecord[], cpu: () => number): Promise<{ reqPerSec: number; p99: number; bad: number; cpuCores: number }> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const requests = members.map((m) => ({ method: 'POST' as const, path: PATH, body: JSON.stringify({ memberId: m.memberId, cacheControl: 'CACHE_CONTROL_CACHE_ONLY' }) }));
  const first = await fetch(`${url}${PATH}`, { method: 'POST', headers, body: requests[0]!.body });
  const text = await first.text();
  if (first.status !== 200 || !text.includes('"CACHE_STATUS_HIT"')) throw new Error(`the API did not answer a hit: ${first.status} ${text.slice(0, 300)}`);
  await autocannon({ url: `${url}${PATH}`, method: 'POST', headers, connections: CONNECTIONS, duration: 2, requests }); // warm-up
  const cpu0 = cpu();
  const t0 = Date.now();
  const r = await autocannon({ url: `${url}${PATH}`, method: 'POST', headers, connections: CONNECTIONS, duration: READ_SECONDS, requests });
  const cpuCores = (cpu() - cpu0) / ((Date.now() - t0) / 1000);
  return { reqPerSec: r.requests.average, p99: r.latency.p99, bad: r.non2xx + r.errors + r.timeouts, cpuCores };
}

interface ClientTally {
  ok: number;
  /** Attempts the typed client (client/retry.ts) retried, by method and code. */
  retried: Record<string, number>;
  /** RPCs that failed for good (a code the client does not retry, or its attempts ran out). */
  failed: string[];
}
const newTally = (): ClientTally => ({ ok: 0, retried: {}, failed: [] });

/** The typed client as a caller ships it (6 attempts), counting its retries into `t`. */
const typedClient = (baseUrl: string, token: string, t: ClientTally) =>
  createRteClient({ baseUrl, token, retry: { maxAttempts: 6, baseBackoffMs: 100, onRetry: (i) => void (t.retried[`${i.method.split('/')[1]} ${Code[i.code]}`] = (t.retried[`${i.method.split('/')[1]} ${Code[i.code]}`] ?? 0) + 1) } });

/** Runs one RPC; counts its success or its final failure. */
async function tallied<T>(t: ClientTally, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    const r = await fn();
    t.ok++;
    return r;
  } catch (e) {
    const err = ConnectError.from(e);
    t.failed.push(`${Code[err.code]}: ${err.rawMessage.slice(0, 120)}`);
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}
const apiCpu = (a: ApiProcesses) => [a.child.pid!, ...a.pids()].filter((x, i, all) => all.indexOf(x) === i).reduce((n, pid) => n + cpuSeconds(pid), 0);

async function main(): Promise<void> {
  const recorder = createSimCheckRecorder();
  const p = await startTestPlatform({
    population: Math.ceil((MEMBERS + READ_MEMBERS + 200) * 1.25),
    workers: 0,
    sim: { latency: { meanMs: LATENCY_MS, sigma: 0.5, minMs: Math.min(50, LATENCY_MS), maxMs: LATENCY_MS * 6 }, timeScale: 1, logger: silentLogger(), onCheck: recorder.onCheck },
    env: { SLOT_LEASE_MS: '3000', BATCH_SUBMIT_RATE_LIMIT: '1000' },
  });
  const workerEnv = { SLOT_LEASE_MS: '3000' };
  const workers: WorkerProcess[] = [];
  let apis: ApiProcesses | undefined;
  const observer = new Redis(p.config.redisUrl);
  const pool = createRedisSlotPool({ redis: observer, keyPrefix: p.config.redisKeyPrefix, limit: SLOT_LIMIT });
  const problems: string[] = [];
  try {
    const pool3 = answerable(p.members);
    const readMembers = pool3.slice(0, READ_MEMBERS);
    const liveMembers = pool3.slice(READ_MEMBERS, READ_MEMBERS + 200);
    const batchMembers = pool3.slice(READ_MEMBERS + 200, READ_MEMBERS + 200 + MEMBERS);
    if (batchMembers.length < MEMBERS) throw new Error(`only ${batchMembers.length} answerable members for the batch`);
    await prefillCacheHits(p, readMembers);
    const readToken = await p.token(['rte:eligibility:read'], 'bench-reader');

    // ---- phase 1: reads with 1 API process, then with APIS ----------------------------------------------------
    const reads: { round: number; processes: number; reqPerSec: number; p99: number; apiCpuCores: number; readsPerApiCpuSecond: number; load: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const n of round % 2 === 1 ? [1, APIS] : [APIS, 1]) {
        const a = await startApiProcesses(p, n);
        try {
          const r = await readRate(a.url, readToken, readMembers, () => apiCpu(a));
          if (r.bad > 0) problems.push(`${r.bad} failed reads with ${n} API process(es)`);
          reads.push({ round, processes: n, reqPerSec: Math.round(r.reqPerSec), p99: r.p99, apiCpuCores: +r.cpuCores.toFixed(2), readsPerApiCpuSecond: Math.round(r.reqPerSec / r.cpuCores), load: loadAvg() });
        } finally {
          await a.stop();
        }
      }
    }

    // ---- phase 2: a batch across WORKERS workers and APIS API processes, one of each killed ---------------------
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorkerProcess(p, workerEnv, (c, ms, what) => waitFor(what, c, ms)));
    apis = await startApiProcesses(p, APIS);
    const api = apis;
    const batchToken = await p.token(BATCH_SCOPES, 'bench-scale');
    const auth = (token: string): Interceptor => (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    // The observer: the platform's own in-process API (never killed) streams each member's outcome.
    const observerBatch = createClient(BatchEligibilityService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1', interceptors: [auth(batchToken)] }));

    let maxInFlight = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await pool.stats().catch(() => undefined);
        if (s) {
          samples++;
          maxInFlight = Math.max(maxInFlight, s.interactiveInUse + s.batchInUse);
        }
        await sleep(20);
      }
    })();

    p.sim.resetStats();
    recorder.checks.length = 0;
    const reads2 = newTally();
    const live = newTally();
    const submitTally = newTally();
    const liveStatuses: Record<string, number> = {};
    const polls = newTally();
    const clusterElig = typedClient(api.url, readToken, reads2).eligibility;
    const liveElig = typedClient(api.url, readToken, live).eligibility;
    const clusterBatch = typedClient(api.url, batchToken, polls).batch;
    let clientsRunning = true;
    const readers = Array.from({ length: READERS }, async (_, r) => {
      for (let i = r; clientsRunning; i += READERS) {
        const m = readMembers[i % readMembers.length]!;
        const a = await tallied(reads2, () => clusterElig.checkEligibility({ memberId: m.memberId, cacheControl: CacheControl.CACHE_ONLY }));
        if (a && a.cacheStatus !== CacheStatus.HIT) reads2.failed.push(`not a hit: ${CacheStatus[a.cacheStatus]}`);
      }
    });
    const checkers = Array.from({ length: LIVE_CHECKERS }, async (_, r) => {
      for (let i = r; clientsRunning && i < liveMembers.length; i += LIVE_CHECKERS) {
        const a = await tallied(live, () => liveElig.checkEligibility({ memberId: liveMembers[i]!.memberId, cacheControl: CacheControl.BYPASS_CACHE }, { timeoutMs: 120_000 }));
        if (a) liveStatuses[CacheStatus[a.cacheStatus]] = (liveStatuses[CacheStatus[a.cacheStatus]] ?? 0) + 1;
      }
    });

    const t0 = Date.now();
    const clientJobId = `scale-${randomUUID().slice(0, 8)}`;
    const submit = () =>
      typedClient(api.url, batchToken, submitTally).batch.submitBatch({
        clientJobId,
        memberSelector: { case: 'memberIds', value: { memberIds: batchMembers.map((m) => m.memberId) } },
        cacheControl: CacheControl.BYPASS_CACHE,
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: SLOT_LIMIT },
      });
    const submitted = await tallied(submitTally, submit);
    if (!submitted) throw new Error('SubmitBatch failed');
    const outcomes = new Map<string, number>();
    let terminalEvent = '';
    const watch = (async () => {
      const eventTypes = [BatchEventType.EVENT_TYPE_MEMBER_COMPLETED, BatchEventType.EVENT_TYPE_COMPLETED, BatchEventType.EVENT_TYPE_FAILED];
      for await (const u of observerBatch.watchBatchStatus({ batchId: submitted.batchId, eventTypes }, { timeoutMs: 15 * 60_000 })) {
        if (u.update.case === 'memberCompleted') outcomes.set(u.update.value.accountId, (outcomes.get(u.update.value.accountId) ?? 0) + 1);
        else if (u.update.case !== undefined) terminalEvent = u.update.case;
      }
    })();

    // Poll status through the API processes (a client's view), kill one worker at 25 %, one API process at 50 %.
    const kills: Record<string, unknown>[] = [];
    let last: GetBatchStatusResponse | undefined;
    let workerKilled = false;
    let apiKilled = false;
    let replacement: Promise<number> | undefined;
    await waitFor(
      'the batch to end',
      async () => {
        last = (await tallied(polls, () => clusterBatch.getBatchStatus({ batchId: submitted.batchId, errorsPageSize: 1 }))) ?? last;
        const done = last ? last.progress!.completed + last.progress!.failed : 0;
        if (!workerKilled && done >= MEMBERS * 0.25) {
          workerKilled = true;
          const slots = await pool.stats();
          const victim = workers[0]!;
          victim.child.kill('SIGKILL');
          await victim.exited;
          kills.push({ killed: 'worker process 1 (SIGKILL)', atSeconds: +((Date.now() - t0) / 1000).toFixed(1), membersDone: done, slotsInUse: slots.interactiveInUse + slots.batchInUse });
        }
        if (workerKilled && !apiKilled && done >= MEMBERS * 0.5) {
          apiKilled = true;
          const victim = api.pids()[0]!;
          const retriesBefore = Object.values(reads2.retried).reduce((a, b) => a + b, 0);
          replacement = api.nextListening();
          process.kill(victim, 'SIGKILL');
          kills.push({ killed: `API process pid ${victim} (SIGKILL)`, atSeconds: +((Date.now() - t0) / 1000).toFixed(1), membersDone: done, readRetriesBefore: retriesBefore });
        }
        return last !== undefined && TERMINAL_STATUSES.has(last.status);
      },
      15 * 60_000,
      250,
    );
    const wallSeconds = (Date.now() - t0) / 1000;
    clientsRunning = false;
    await Promise.all([...readers, ...checkers]);
    await watch;
    sampling = false;
    await sampler;
    const replacedBy = replacement ? await Promise.race([replacement, sleep(30_000).then(() => undefined)]) : undefined;

    // Stedi calls per batch member (the simulator's own record): a member whose call was in flight on the killed
    // worker can be called again by its retry (at-least-once at Stedi); its count in the batch stays one.
    const calls = recorder.callsOf(batchMembers, 'realtime');
    const callHistogram: Record<string, number> = {};
    for (const n of calls.values()) callHistogram[`${n} call(s)`] = (callHistogram[`${n} call(s)`] ?? 0) + 1;
    const final = last!;
    const counted = final.progress!.completed + final.progress!.failed;
    const eachOnce = batchMembers.every((m) => outcomes.get(m.memberId) === 1);
    const sim = simCounts(p.sim);

    const mean = (n: number, k: 'reqPerSec' | 'readsPerApiCpuSecond') => reads.filter((r) => r.processes === n).reduce((a, r) => a + r[k], 0) / ROUNDS;
    const readRatio = mean(APIS, 'reqPerSec') / mean(1, 'reqPerSec');
    const perCpuRatio = mean(APIS, 'readsPerApiCpuSecond') / mean(1, 'readsPerApiCpuSecond');
    console.log(`== scale out: ${WORKERS} worker processes, ${APIS} API processes (node:cluster, one port); ${os.cpus().length} CPUs ==`);
    console.log(`-- CheckEligibility CACHE_ONLY hits, ${CONNECTIONS} connections, ${READ_SECONDS} s each, ${ROUNDS} round(s) alternating the order (the load generator runs on the same CPUs) --`);
    console.table(reads.map((r) => ({ round: r.round, 'API processes': r.processes, 'req/s': r.reqPerSec, 'p99 ms': r.p99, 'API CPU cores busy': r.apiCpuCores, 'reads per API CPU-second': r.readsPerApiCpuSecond, 'load avg (1 min)': r.load })));
    console.log(`reads/s with ${APIS} API processes ÷ with 1: ${readRatio.toFixed(2)}; reads per API CPU-second, ${APIS} ÷ 1: ${perCpuRatio.toFixed(2)}`);
    console.log(`-- real-time batch of ${MEMBERS} members (simulated latency mean ${LATENCY_MS} ms), kills at 25 % and 50 % --`);
    console.table(kills);
    console.log(
      JSON.stringify(
        {
          batch: { status: BatchStatus[final.status], submitted: MEMBERS, counted, completed: final.progress!.completed, failed: final.progress!.failed, wallSeconds: +wallSeconds.toFixed(1) },
          memberEvents: { distinctMembers: outcomes.size, eachMemberExactlyOnce: eachOnce, terminalEvent },
          stediCallsPerBatchMember: callHistogram,
          inFlight: { slotPoolMaxSampled: maxInFlight, samples, simulatorPeak: sim.peakInFlight, limit: SLOT_LIMIT },
          clients: {
            cacheOnlyReads: { ok: reads2.ok, retriedByTheClient: reads2.retried, failedForGood: reads2.failed.length },
            liveChecks: { ok: live.ok, statuses: liveStatuses, retriedByTheClient: live.retried, failedForGood: live.failed.length },
            statusPolls: { ok: polls.ok, retriedByTheClient: polls.retried, failedForGood: polls.failed.length },
          },
          apiReplacement: replacedBy ? `pid ${replacedBy} listening` : 'none seen within 30 s',
          loadAvg: loadAvg(),
        },
        null,
        2,
      ),
    );
    if (maxInFlight > SLOT_LIMIT || sim.peakInFlight > SLOT_LIMIT) problems.push(`more than ${SLOT_LIMIT} calls in flight (pool ${maxInFlight}, simulator ${sim.peakInFlight})`);
    if (counted !== MEMBERS) problems.push(`counted ${counted} of ${MEMBERS} members`);
    if (!eachOnce) problems.push(`member events: ${outcomes.size} distinct of ${MEMBERS}, not each exactly once`);
    for (const [what, t] of [['reads', reads2], ['live checks', live], ['status polls', polls]] as const) {
      if (t.failed.length > 0) problems.push(`${what}: ${t.failed.length} failed for good, e.g. ${t.failed[0]}`);
    }
    if (problems.length > 0) throw new Error(`scale-out properties failed:\n - ${problems.join('\n - ')}`);
    console.log('all scale-out properties held');
  } finally {
    await apis?.stop().catch(() => undefined);
    await Promise.all(
      workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        w.child.kill('SIGTERM');
        const t = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
        await w.exited;
        clearTimeout(t);
      }),
    );
    await pool.close();
    observer.disconnect();
    await p.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
