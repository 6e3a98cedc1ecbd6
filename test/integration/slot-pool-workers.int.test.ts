import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { createRedisSlotPool } from '../../activities/slot-pool';
import { BATCH_SCOPES, TERMINAL_STATUSES } from '../../bench/batch-harness';
import {
  BatchEligibilityService,
  BatchEventType,
  BatchExecutionOptions_Priority as Priority,
  BatchExecutionOptions_Strategy as Strategy,
  BatchStatus,
} from '../../gen/rte/v1/batch_pb';
import { createRteClient, isConnectionReset } from '../../client';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { acceptedConnections, prefillCacheHits, startApiProcesses, type ApiProcesses } from '../helpers/api-processes';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

/** Members the simulator answers on the first try (no payer outage codes), so counts are exact. */
const answerable = (members: MemberRecord[]) => members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode));

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the global 15-slot pool across worker processes (integration)', () => {
  let p: TestPlatform;
  afterEach(async () => {
    await p?.close();
  });

  it('200 concurrent BYPASS checks served by two workers never put more than 15 calls in flight at Stedi', async () => {
    p = await startTestPlatform({ population: 600, workers: 2, sim: { timeScale: 0.1 } });
    const headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` };
    const sample = answerable(p.members).slice(0, 200);
    expect(sample).toHaveLength(200);
    const client = p.eligibilityClient('grpc');
    const answers = await Promise.all(sample.map((m) => client.checkEligibility({ memberId: m.memberId, cacheControl: CacheControl.BYPASS_CACHE }, { headers })));
    expect(answers.every((a) => a.cacheStatus === CacheStatus.MISS || a.cacheStatus === CacheStatus.ERROR)).toBe(true);
    const stats = p.sim.stats();
    expect(stats.inFlight.peak).toBeLessThanOrEqual(15);
    expect(stats.inFlight.peak).toBeGreaterThanOrEqual(10); // the pool was actually saturated
    expect(stats.throttled).toBe(0);
  });

  it('a worker process killed while holding slots gives them back within the lease time, and the checks still complete', async () => {
    p = await startTestPlatform({ population: 300, workers: 0, sim: { timeScale: 0.3 }, env: { SLOT_LEASE_MS: '3000' } });
    const headers = { authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` };
    const root = path.resolve(__dirname, '../..');
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        STEDI_BASE_URL: p.config.stedi.baseUrl,
        REDIS_KEY_PREFIX: p.config.redisKeyPrefix,
        TEMPORAL_TASK_QUEUE: p.config.temporal.taskQueue,
        CACHE_KEY_SECRET: p.config.cache.keySecret,
        DATABASE_SCHEMA: p.directory.schema,
        SLOT_LEASE_MS: '3000',
        WORKER_METRICS_PORT: '0',
        WORKER_SDK_METRICS_PORT: '0',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      const sample = answerable(p.members).slice(0, 30);
      const client = p.eligibilityClient();
      const pending = sample.map((m) =>
        client.checkEligibility({ memberId: m.memberId, cacheControl: CacheControl.BYPASS_CACHE }, { headers, timeoutMs: 170_000 }),
      );
      // The child worker is now holding slots for calls Stedi has not answered yet.
      await waitFor(() => p.sim.stats().inFlight.current >= 10, 60_000, 'the child worker to hold slots');
      const observer = new Redis(p.config.redisUrl);
      const pool = createRedisSlotPool({ redis: observer, keyPrefix: p.config.redisKeyPrefix, limit: 15 });
      const inUse = async () => {
        const s = await pool.stats();
        return s.interactiveInUse + s.batchInUse;
      };
      expect(await inUse()).toBeGreaterThanOrEqual(10);
      child.kill('SIGKILL');
      await exited;
      // Leases are 3 s; they expire without the dead worker's help.
      await waitFor(async () => (await inUse()) === 0, 15_000, 'the dead worker\u2019s slots to return');
      await pool.close();
      observer.disconnect();

      // A new worker picks the work up once Temporal sees the dead worker's activities time out.
      await p.addWorker();
      const answers = await Promise.all(pending);
      expect(answers).toHaveLength(30);
      for (const a of answers) expect([CacheStatus.MISS, CacheStatus.ERROR]).toContain(a.cacheStatus);
      expect(p.sim.stats().inFlight.peak).toBeLessThanOrEqual(15);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('scale out: worker processes and API processes on the same servers (integration)', () => {
  let p: TestPlatform | undefined;
  const workers: WorkerProcess[] = [];
  let api: ApiProcesses | undefined;
  afterEach(async () => {
    await api?.stop();
    for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await p?.close();
  });

  it('a real-time batch across 2 worker processes and 2 API processes, one of each SIGKILLed mid-run: every member counted once, ≤ 15 calls in flight, every client RPC succeeds on retry', async () => {
    const platform = await startTestPlatform({ population: 500, workers: 0, sim: { latency: { meanMs: 150, sigma: 0.5, minMs: 50, maxMs: 900 }, timeScale: 1 }, env: { SLOT_LEASE_MS: '3000' } });
    p = platform;
    const pool = answerable(platform.members);
    const readMembers = pool.slice(0, 40);
    const batchMembers = pool.slice(40, 280);
    expect(batchMembers).toHaveLength(240);
    const waitForIt = (c: () => boolean | Promise<boolean>, ms: number, what: string) => waitFor(c, ms, what);
    // Each process is recorded as soon as it is up, so afterEach stops it even when another one fails to start.
    const startWorker = async () => {
      const w = await startWorkerProcess(platform, { SLOT_LEASE_MS: '3000' }, waitForIt);
      workers.push(w);
      return w;
    };
    const t0 = Date.now();
    const [, , a] = await Promise.all([
      startWorker(),
      startWorker(),
      startApiProcesses(platform, 2).then((x) => (api = x)),
      prefillCacheHits(platform, readMembers),
    ]);
    const cluster = a!;
    const upAfterS = (Date.now() - t0) / 1000;
    const auth = (token: string): Interceptor => (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const batchToken = await platform.token(BATCH_SCOPES, 'svc-scale');
    const readToken = await platform.token(['rte:eligibility:read'], 'svc-scale-reader');
    const batchVia = (url: string) => createClient(BatchEligibilityService, createConnectTransport({ baseUrl: url, httpVersion: '1.1', interceptors: [auth(batchToken)] }));
    // Progress is read through the platform's own API, which is never killed.
    const observer = batchVia(platform.apiUrl);

    // The typed client (client/), whose retry policy a caller ships with: a call cut off by the kill (a reset
    // connection) is retried on a new connection, which the live API process accepts.
    const retried: string[] = [];
    const rte = (token: string) => createRteClient({ baseUrl: cluster.url, token, retry: { maxAttempts: 6, baseBackoffMs: 100, onRetry: (i) => retried.push(`${i.method} ${Code[i.code]}`) } });
    const submitted = await rte(batchToken).batch.submitBatch({
      clientJobId: `scale-${Date.now()}`,
      memberSelector: { case: 'memberIds', value: { memberIds: batchMembers.map((m) => m.memberId) } },
      cacheControl: CacheControl.BYPASS_CACHE,
      options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 15 },
    });
    // Six watchers of every member's outcome through the API processes, each on its own connection (both processes
    // accept from the one port, so both serve some). A watcher cut off by the kill watches again: the stream sends
    // every member's outcome from the first member on, also to a watcher that joins late.
    const watch = async () => {
      const c = batchVia(cluster.url);
      const members = new Set<string>();
      let cutOff = 0;
      for (let attempt = 1; ; attempt++) {
        try {
          let terminal = false;
          const eventTypes = [BatchEventType.EVENT_TYPE_MEMBER_COMPLETED, BatchEventType.EVENT_TYPE_COMPLETED, BatchEventType.EVENT_TYPE_FAILED];
          for await (const u of c.watchBatchStatus({ batchId: submitted.batchId, eventTypes }, { timeoutMs: 170_000 })) {
            if (u.update.case === 'memberCompleted') members.add(u.update.value.accountId);
            else if (u.update.case !== undefined) terminal = true;
          }
          if (terminal) return { members, cutOff };
          if (attempt > 5) throw new Error('the stream kept ending without the batch\'s terminal update');
        } catch (e) {
          const err = ConnectError.from(e);
          if (!(err.code === Code.Unavailable || isConnectionReset(err)) || ++cutOff > 5) throw err;
        }
      }
    };
    // Opened one after another, so each API process accepts some.
    const watchers: ReturnType<typeof watch>[] = [];
    for (let i = 0; i < 6; i++) {
      const w = watch();
      w.catch(() => undefined); // judged below, with the others
      watchers.push(w);
      await new Promise((r) => setTimeout(r, 150));
    }
    let reading = true;
    let reads = 0;
    const reader = rte(readToken);
    const readers = Array.from({ length: 3 }, async (_, r) => {
      for (let i = r; reading; i += 3) {
        // A deadline, as a real caller has: a read left without an answer fails here, by name, not as a test timeout.
        const answer = await reader.eligibility.checkEligibility({ memberId: readMembers[i % readMembers.length]!.memberId, cacheControl: CacheControl.CACHE_ONLY }, { timeoutMs: 30_000 });
        expect(answer.cacheStatus).toBe(CacheStatus.HIT);
        reads++;
      }
    });

    const observerRedis = new Redis(platform.config.redisUrl);
    const slotPool = createRedisSlotPool({ redis: observerRedis, keyPrefix: platform.config.redisKeyPrefix, limit: 15 });
    let maxInUse = 0;
    let killedApiPid = 0;
    let replacement: Promise<number> | undefined;
    let status = BatchStatus.PENDING;
    let counted = 0;
    try {
      await waitFor(
        async () => {
          const s = await slotPool.stats();
          maxInUse = Math.max(maxInUse, s.interactiveInUse + s.batchInUse);
          const st = await observer.getBatchStatus({ batchId: submitted.batchId, errorsPageSize: 1 });
          status = st.status;
          counted = st.progress!.completed + st.progress!.failed;
          if (workers[0]!.child.exitCode === null && workers[0]!.child.signalCode === null && counted >= 40) workers[0]!.child.kill('SIGKILL');
          if (killedApiPid === 0 && counted >= 60) {
            // The copy with the most client connections: it serves at least one watcher (6 watchers, and the readers'
            // client holds at most 3 connections), so the kill cuts a stream off as well as reads.
            killedApiPid = [...cluster.pids()].sort((x, y) => acceptedConnections(y, cluster.port) - acceptedConnections(x, cluster.port))[0]!;
            replacement = cluster.nextListening();
            process.kill(killedApiPid, 'SIGKILL');
          }
          return TERMINAL_STATUSES.has(status);
        },
        240_000,
        'the batch to end',
      );
      const batchS = (Date.now() - t0) / 1000 - upAfterS;
      reading = false;
      await Promise.all(readers);
      const watched = await Promise.all(watchers);
      expect(workers[0]!.child.signalCode).toBe('SIGKILL');
      expect(killedApiPid).toBeGreaterThan(0);
      // No member lost and none counted twice: the counters add up to the batch, and every member has its outcome.
      expect([BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED]).toContain(status);
      expect(counted).toBe(batchMembers.length);
      for (const w of watched) expect([...w.members].sort()).toEqual(batchMembers.map((m) => m.memberId).sort());
      // The watchers on the killed API process were cut off with a retryable code and finished on the other one.
      expect(watched.reduce((n, w) => n + w.cutOff, 0)).toBeGreaterThanOrEqual(1);
      expect(reads).toBeGreaterThan(0);
      // The supervisor replaced the killed API process.
      expect(await replacement).not.toBe(killedApiPid);
      // The global limit held across both worker processes (the simulator's own count and the pool's).
      expect(platform.sim.stats().inFlight.peak).toBeLessThanOrEqual(15);
      expect(platform.sim.stats().throttled).toBe(0);
      expect(maxInUse).toBeLessThanOrEqual(15);
      console.log(`scale-out: processes up in ${upAfterS.toFixed(1)} s, batch ended ${batchS.toFixed(1)} s later; watchers cut off ${watched.map((w) => w.cutOff).join('/')}; client retries: ${retried.join(', ') || 'none'}; ${reads} reads, pool max ${maxInUse}, Stedi peak ${platform.sim.stats().inFlight.peak}`);
    } finally {
      reading = false;
      await slotPool.close();
      observerRedis.disconnect();
    }
    // Four processes start on 2 CPUs, and the killed worker's batch chunk resumes only when Temporal's 1-minute
    // heartbeat timeout notices it is gone: jest's default 180 s left too little room on CI.
  }, 360_000);

  it('with 2 API processes, /metrics on the shared port counts the reads of both (any copy answers for all)', async () => {
    const platform = await startTestPlatform({ population: 60, workers: 0 });
    p = platform;
    const members = answerable(platform.members).slice(0, 10);
    const [a] = await Promise.all([startApiProcesses(platform, 2), prefillCacheHits(platform, members)]);
    api = a!;
    const token = await platform.token(['rte:eligibility:read'], 'svc-metrics');
    // 8 clients, each on its own connection: both processes accept from the one port, so both serve reads.
    const reads = 48;
    await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        const client = createRteClient({ baseUrl: a!.url, token });
        for (let i = 0; i < reads / 8; i++) {
          const r = await client.eligibility.checkEligibility({ memberId: members[(c + i) % members.length]!.memberId, cacheControl: CacheControl.CACHE_ONLY });
          expect(r.cacheStatus).toBe(CacheStatus.HIT);
        }
      }),
    );
    const hits = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('rte_cache_control_requests_total{') && l.includes('mode="cache_only"') && l.includes('result="hit"'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    // Several scrapes, each on a new connection (so both copies answer some): every one counts all reads.
    const scrapes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get(`${a!.url}/metrics`, { agent: false }, (r) => {
            let body = '';
            r.setEncoding('utf8').on('data', (d: string) => (body += d));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
      expect(res.status).toBe(200);
      scrapes.push(hits(res.body));
    }
    expect(scrapes).toEqual([reads, reads, reads, reads]);
  });
});
