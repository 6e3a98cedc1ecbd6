/**
 * Issue 12, outages of Temporal and Redis as API callers and batches see them, on the suite's OWN Temporal dev
 * server (test/helpers/own-temporal.ts: kill -9, restarted with the same command and db file) and OWN Redis — never
 * the shared stack's. The API is built like api/main.ts (bounded Temporal calls, Redis/PostgreSQL timeouts).
 *
 * - no worker polling: GetBatchStatus answers last-known (search attributes + PostgreSQL) within 5 s;
 * - Temporal killed mid-batch (CI: 10 s; FAULTS_FULL=1: 60 s): SubmitBatch / GetBatchStatus / WarmCache /
 *   CheckEligibility answered within 5 s (GetBatchStatus last-known from PostgreSQL, the others `unavailable`),
 *   and the batch's row: 0 members failed, duplicates ≤ calls in flight when it began;
 * - Redis killed: the four RPCs answered within 5 s.
 * Prints one line per RPC timing and the batch row; docs/reliability.md keeps the table.
 */
import { createClient, ConnectError, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { setTimeout as sleep } from 'node:timers/promises';
import { batchClient, waitFor, allBatchErrors, type BatchClient } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, type GetBatchStatusResponse } from '../../gen/rte/v1/batch_pb';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { CacheWarmingService, WarmCacheRequest_Priority as WarmPriority } from '../../gen/rte/v1/warming_pb';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { SIM_PATHS } from '../../stedi-sim/server';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis';
import { startOwnTemporal, type OwnTemporal } from '../helpers/own-temporal';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

const FULL = process.env['FAULTS_FULL'] === '1';
const TEMPORAL_OUTAGE_MS = FULL ? 60_000 : 10_000;
const BOUND_MS = 5_000;
const retryConfig = { maxAttempts: 3, initialInterval: durationFromMs(1_000), maxInterval: durationFromMs(2_000), backoffMultiplier: 2 };
const TERMINAL = new Set([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED, BatchStatus.FAILED, BatchStatus.CANCELLED]);

let temporal: OwnTemporal;
let own: OwnRedis;
let p: TestPlatform;
let client: BatchClient;
let pool: MemberRecord[] = [];
let next = 0;
const timings: string[] = [];

const take = (n: number): MemberRecord[] => {
  const out = pool.slice(next, next + n);
  next += n;
  if (out.length < n) throw new Error('population too small');
  return out;
};

interface Answer {
  ms: number;
  code: string;
  retryAfter?: string | null;
  res?: unknown;
}

async function timed(what: string, call: () => Promise<unknown>): Promise<Answer> {
  const t0 = Date.now();
  let a: Answer;
  try {
    const res = await call();
    a = { ms: Date.now() - t0, code: 'ok', res };
  } catch (err) {
    const ce = ConnectError.from(err);
    a = { ms: Date.now() - t0, code: String(ce.code), retryAfter: ce.metadata.get('retry-after') };
  }
  const line = `${what}: ${a.code === 'ok' ? 'ok' : `code ${a.code} (14 = unavailable), retry-after ${a.retryAfter ?? '-'}`} in ${a.ms} ms`;
  timings.push(line);
  console.log(line);
  return a;
}

function clients() {
  const auth = (token: string): Interceptor => (nxt) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return nxt(req);
  };
  return {
    async warming() {
      const t = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-outage');
      return createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1', interceptors: [auth(t)] }));
    },
    async eligibilityHeaders() {
      return { authorization: `Bearer ${await p.token(['rte:eligibility:read'], 'svc-outage')}` };
    },
  };
}

/** The four RPCs of the issue, each timed. */
async function probeAll(label: string, batchId: string): Promise<Record<string, Answer>> {
  const c = clients();
  const warming = await c.warming();
  const headers = await c.eligibilityHeaders();
  const cold = take(1)[0]!;
  return {
    getBatchStatus: await timed(`${label} GetBatchStatus`, () => client.getBatchStatus({ batchId, errorsPageSize: 1 })),
    submitBatch: await timed(`${label} SubmitBatch`, () =>
      client.submitBatch({ clientJobId: uniqueName('outage'), memberSelector: { case: 'memberIds', value: { memberIds: [cold.memberId] } }, options: { strategy: Strategy.REALTIME_ONLY } }),
    ),
    warmCache: await timed(`${label} WarmCache`, () => warming.warmCache({ memberIds: [cold.memberId], priority: WarmPriority.URGENT, source: 'outage-test' })),
    checkEligibility: await timed(`${label} CheckEligibility (cache miss)`, () => p.eligibilityClient().checkEligibility({ memberId: cold.memberId, cacheControl: CacheControl.DEFAULT }, { headers })),
  };
}

const stopped = new Set<unknown>();
async function stopInProcessWorkers(): Promise<void> {
  for (const w of p.workers) {
    if (stopped.has(w)) continue;
    stopped.add(w);
    await w.stop();
  }
}

async function liveEnd(batchId: string, timeoutMs: number): Promise<GetBatchStatusResponse> {
  let last: GetBatchStatusResponse | undefined;
  await waitFor(`batch ${batchId} to end (live answer)`, async () => {
    last = await client.getBatchStatus({ batchId, errorsPageSize: 1 }).catch(() => undefined);
    return last !== undefined && !last.lastKnown && TERMINAL.has(last.status);
  }, timeoutMs, 500);
  return last!;
}

/**
 * A worker-process fault: the in-process workers stop, a real worker process (workers/main.ts, `env` added) runs a
 * 60-member HIGH real-time batch; with ≥ 10 calls in flight `fault` hits the process (it must end it) and returns
 * its own figures; a new worker process finishes the batch. Prints and returns the row (Stedi calls by the
 * simulator's count, 429s excluded).
 */
async function workerProcessFault(
  scenario: string,
  tag: string,
  env: Record<string, string>,
  fault: (a: WorkerProcess) => Promise<Record<string, number>>,
): Promise<{ redone: number; inFlightAtFault: number; lost: number; failedByInfra: number; caused429: number } & Record<string, unknown>> {
  await stopInProcessWorkers();
  const procEnv = { REDIS_URL: own.url, TEMPORAL_ADDRESS: temporal.address, ...env };
  const until = (cond: () => boolean | Promise<boolean>, ms: number, what: string) => waitFor(what, cond, ms, 100);
  const a = await startWorkerProcess(p, procEnv, until);
  const n = 60;
  const members = take(n);
  p.sim.resetStats();
  const r = await client.submitBatch({
    clientJobId: uniqueName(tag),
    memberSelector: { case: 'memberIds', value: { memberIds: members.map((m) => m.memberId) } },
    options: { strategy: Strategy.REALTIME_ONLY, priority: Priority.HIGH, maxConcurrentRequests: 15, retryConfig },
  });
  await waitFor('10 calls in flight', () => p.sim.stats().inFlight.current >= 10, 120_000, 20);
  const inFlightAtFault = p.sim.stats().inFlight.current;
  const figures = await fault(a);
  const b = await startWorkerProcess(p, procEnv, until);
  try {
    const end = await liveEnd(r.batchId, 600_000);
    const errors = await allBatchErrors(client, r.batchId);
    const st = p.sim.stats();
    const calls = st.calls[`POST ${SIM_PATHS.eligibilityV3}`] ?? {};
    const stediCalls = Object.entries(calls).reduce((sum, [status, c]) => (status === '429' ? sum : sum + c), 0);
    const row = {
      scenario,
      members: n,
      stediCalls,
      redone: Math.max(0, stediCalls - n),
      inFlightAtFault,
      ...figures,
      lost: n - ((end.progress?.completed ?? 0) + (end.progress?.failed ?? 0)),
      failedByInfra: errors.filter((e) => e.errorCode !== 'PAYER_ERROR').length,
      peakInFlight: st.inFlight.peakWithOtherTenants,
      caused429: st.throttled,
    };
    console.log(JSON.stringify(row));
    return row;
  } finally {
    b.child.kill('SIGTERM');
    await Promise.race([b.exited, sleep(30_000)]);
    if (b.child.exitCode === null) b.child.kill('SIGKILL');
    await p.addWorker();
  }
}

beforeAll(async () => {
  temporal = await startOwnTemporal();
  own = await startOwnRedis({ persistence: 'aof' });
  p = await startTestPlatform({ population: 400, seed: 21, sim: { timeScale: 0.1 }, env: { REDIS_URL: own.url, TEMPORAL_ADDRESS: temporal.address }, boundedApi: true });
  pool = p.members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode));
  client = await batchClient(p, 'svc-outage');
});

afterAll(async () => {
  console.log(['outage answers:', ...timings].join('\n'));
  await Promise.race([p?.close().catch(() => undefined), sleep(60_000)]);
  await temporal?.stop();
  await own?.stop();
});

describe('outages answered within 5 s, batches survive a Temporal outage (own Temporal dev server, own Redis)', () => {
  it('no worker polling: GetBatchStatus answers last-known from the durable state within 5 s', async () => {
    const members = take(30);
    const r = await client.submitBatch({
      clientJobId: uniqueName('noworker'),
      memberSelector: { case: 'memberIds', value: { memberIds: members.map((m) => m.memberId) } },
      options: { strategy: Strategy.REALTIME_ONLY, priority: Priority.HIGH, maxConcurrentRequests: 15, retryConfig },
    });
    await waitFor('5 members done', async () => {
      const s = await client.getBatchStatus({ batchId: r.batchId, errorsPageSize: 1 });
      return (s.progress?.completed ?? 0) + (s.progress?.failed ?? 0) >= 5;
    }, 120_000, 200);
    await stopInProcessWorkers();
    const a = await timed('no worker: GetBatchStatus', () => client.getBatchStatus({ batchId: r.batchId, errorsPageSize: 1 }));
    expect(a.ms).toBeLessThan(BOUND_MS);
    expect(a.code).toBe('ok');
    const s = a.res as GetBatchStatusResponse;
    expect(s.lastKnown).toBe(true);
    expect(s.asOf).toBeDefined();
    expect((s.progress?.completed ?? 0) + (s.progress?.failed ?? 0)).toBeGreaterThanOrEqual(5);
    expect(s.progress?.totalMembers).toBe(30);
    // A worker returns: the batch finishes and answers are live again.
    await p.addWorker();
    const end = await liveEnd(r.batchId, 300_000);
    expect((end.progress?.completed ?? 0) + (end.progress?.failed ?? 0)).toBe(30);
  });

  it('worker process kill -9 mid-batch: every member once, redone calls ≤ calls in flight', async () => {
    const row = await workerProcessFault('worker kill -9 mid-batch, new worker process', 'wkill', {}, async (a) => {
      a.child.kill('SIGKILL');
      await a.exited;
      return {};
    });
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    expect(row.redone).toBeLessThanOrEqual(row.inFlightAtFault);
    expect(row.caused429).toBe(0);
  });

  it('worker process SIGTERM mid-batch: no Stedi call starts during the drain; every member once, none redone', async () => {
    // Probe p17 #1: the draining worker kept granting slots to queued members and starting their Stedi calls, cut them
    // at the grace end, and the retries on the next worker called Stedi again (22 calls for 20 members).
    const row = await workerProcessFault('worker SIGTERM mid-batch (grace 20 s), new worker process', 'wterm', { SHUTDOWN_GRACE_MS: '20000' }, async (a) => {
      const termAt = Date.now();
      a.child.kill('SIGTERM');
      await a.exited;
      const drainMs = Date.now() - termAt;
      // Every call of the drained worker has answered (the simulator records a call when it answers).
      await waitFor('the drained calls answered', () => p.sim.stats().inFlight.current === 0, 30_000, 50);
      // 250 ms: a slot granted just before the signal whose request was still on its way.
      return { drainMs, startedInDrain: p.sim.calls().filter((c) => c.startedAtMs > termAt + 250).length };
    });
    expect(row['startedInDrain']).toBe(0);
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    // The calls in flight at the signal finished within the grace and stored their answers: nothing is called twice.
    expect(row.redone).toBe(0);
    expect(row.caused429).toBe(0);
  });

  it(`Temporal killed ${TEMPORAL_OUTAGE_MS / 1000} s mid-batch: every RPC answered within 5 s; no member failed; duplicates ≤ in flight`, async () => {
    const n = 60;
    const members = take(n);
    p.sim.resetStats();
    const r = await client.submitBatch({
      clientJobId: uniqueName('tkill'),
      memberSelector: { case: 'memberIds', value: { memberIds: members.map((m) => m.memberId) } },
      options: { strategy: Strategy.REALTIME_ONLY, priority: Priority.HIGH, maxConcurrentRequests: 15, retryConfig },
    });
    await waitFor('10 calls in flight', () => p.sim.stats().inFlight.current >= 10, 120_000, 20);
    const inFlightAtKill = p.sim.stats().inFlight.current;
    await temporal.kill();
    const killedAt = Date.now();
    let a: Record<string, Answer>;
    try {
      a = await probeAll('Temporal down:', r.batchId);
    } finally {
      await sleep(Math.max(0, TEMPORAL_OUTAGE_MS - (Date.now() - killedAt)));
      await temporal.start();
    }
    for (const x of Object.values(a)) expect(x.ms).toBeLessThan(BOUND_MS);
    // GetBatchStatus: last-known from PostgreSQL; the others say unavailable with a retry hint.
    expect(a['getBatchStatus']!.code).toBe('ok');
    expect((a['getBatchStatus']!.res as GetBatchStatusResponse).lastKnown).toBe(true);
    for (const k of ['submitBatch', 'warmCache', 'checkEligibility']) {
      expect(a[k]!.code).toBe('14');
      expect(a[k]!.retryAfter).toBe('5');
    }
    const end = await liveEnd(r.batchId, 600_000);
    const errors = await allBatchErrors(client, r.batchId);
    const st = p.sim.stats();
    const calls = st.calls[`POST ${SIM_PATHS.eligibilityV3}`] ?? {};
    const stediCalls = Object.entries(calls).reduce((s, [status, c]) => (status === '429' ? s : s + c), 0);
    const failedByInfra = errors.filter((e) => e.errorCode !== 'PAYER_ERROR').length;
    const row = {
      scenario: `Temporal kill -9, ${TEMPORAL_OUTAGE_MS / 1000} s, restart (same db)`,
      members: n,
      stediCalls,
      duplicates: Math.max(0, stediCalls - n),
      inFlightAtKill,
      lost: n - ((end.progress?.completed ?? 0) + (end.progress?.failed ?? 0)),
      failedByInfra,
      peakInFlight: st.inFlight.peakWithOtherTenants,
      caused429: st.throttled,
    };
    console.log(JSON.stringify(row));
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    expect(row.duplicates).toBeLessThanOrEqual(inFlightAtKill);
  });

  it('Redis killed: the four RPCs answered within 5 s', async () => {
    const members = take(5);
    const r = await client.submitBatch({
      clientJobId: uniqueName('rkill'),
      memberSelector: { case: 'memberIds', value: { memberIds: members.map((m) => m.memberId) } },
      options: { strategy: Strategy.REALTIME_ONLY, priority: Priority.HIGH, maxConcurrentRequests: 15, retryConfig },
    });
    await own.kill();
    try {
      const a = await probeAll('Redis down:', r.batchId);
      for (const x of Object.values(a)) expect(x.ms).toBeLessThan(BOUND_MS);
      // CheckEligibility reads the cache (Redis): unavailable. SubmitBatch / WarmCache take a rate-limit token in Redis.
      for (const k of ['submitBatch', 'warmCache', 'checkEligibility']) expect(a[k]!.code).toBe('14');
    } finally {
      await own.start();
    }
    const end = await liveEnd(r.batchId, 300_000);
    expect((end.progress?.completed ?? 0) + (end.progress?.failed ?? 0)).toBe(5);
  });
});
