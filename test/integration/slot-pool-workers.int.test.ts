import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Redis } from 'ioredis';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { createRedisSlotPool } from '../../activities/slot-pool';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

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
