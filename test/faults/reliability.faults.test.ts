/**
 * Fault-injection suite (jest project `faults`, `npm run test:faults`): the real platform (Temporal dev server,
 * a worker built by the production composition root, the API, PostgreSQL, Kafka) with its Redis replaced by a
 * throwaway redis-server this suite kills and restarts (appendonly everysec, like the stack), and the Stedi
 * simulator injecting 429 storms and other tenants. Each scenario runs one REALTIME batch and prints one row;
 * the table is printed at the end (docs/reliability.md keeps the latest).
 */
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createConfiguredEligibilityCache } from '../../activities/cache/from-config';
import { batchClient, waitFor, waitForBatchEnd, allBatchErrors, type BatchClient } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy } from '../../gen/rte/v1/batch_pb';
import { silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { SIM_PATHS } from '../../stedi-sim/server';
import { DEFAULT_BATCH_OPERATION } from '../../workflows/batch.defs';
import { startOwnRedis, type OwnRedis } from '../helpers/own-redis';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

interface Row {
  scenario: string;
  members: number;
  stediCalls: number;
  duplicates: number;
  lost: number;
  failedByInfra: number;
  completedUncached: number;
  peakInFlight: number;
  caused429: number;
  injected429: number;
}

const rows: Row[] = [];
// The retry policy: 3 attempts, 1 s apart (a 429 used to burn all three in ~2 s).
const retryConfig = { maxAttempts: 3, initialInterval: durationFromMs(1_000), maxInterval: durationFromMs(2_000), backoffMultiplier: 2 };
const PAYER_CODES = new Set(['PAYER_ERROR']);

let p: TestPlatform;
let own: OwnRedis;
let client: BatchClient;
let cacheRedis: Redis;
let pool: MemberRecord[] = [];
let next = 0;

/** Members whose simulated verdict is not a payer-connectivity error (those are retried by design). */
function take(n: number): MemberRecord[] {
  const out = pool.slice(next, next + n);
  next += n;
  if (out.length < n) throw new Error('population too small');
  return out;
}

async function runScenario(scenario: string, n: number, during: (batchId: string) => Promise<void>): Promise<Row> {
  const members = take(n);
  // Each scenario starts from a clean account: forget the effective limit an earlier scenario's 429s lowered.
  await cacheRedis.del(`${p.config.redisKeyPrefix}{rte-slots}:al`);
  p.sim.resetStats();
  const r = await client.submitBatch({
    clientJobId: uniqueName('fault'),
    memberSelector: { case: 'memberIds', value: { memberIds: members.map((m) => m.memberId) } },
    options: { strategy: Strategy.REALTIME_ONLY, priority: Priority.HIGH, maxConcurrentRequests: 15, retryConfig },
  });
  await during(r.batchId);
  const end = await waitForBatchEnd(client, r.batchId, 600_000, 500);
  const errors = await allBatchErrors(client, r.batchId);
  const st = p.sim.stats();
  const calls = st.calls[`POST ${SIM_PATHS.eligibilityV3}`] ?? {};
  const stediCalls = Object.entries(calls).reduce((s, [status, c]) => (status === '429' ? s : s + c), 0) + (st.answers['connection-reset'] ?? 0);
  const progress = end.progress!;
  const cache = createConfiguredEligibilityCache(cacheRedis, p.config, silentLogger());
  const failed = new Set(errors.map((e) => e.memberId));
  let completedUncached = 0;
  for (const m of members) {
    if (failed.has(m.memberId)) continue;
    if (!(await cache.get(m.memberId, DEFAULT_BATCH_OPERATION))) completedUncached += 1;
  }
  const row: Row = {
    scenario,
    members: n,
    stediCalls,
    duplicates: Math.max(0, stediCalls - n),
    lost: n - (progress.completed + progress.failed),
    failedByInfra: errors.filter((e) => !PAYER_CODES.has(e.errorCode)).length,
    completedUncached,
    peakInFlight: st.inFlight.peakWithOtherTenants,
    caused429: st.throttled,
    injected429: st.throttledInjected,
  };
  rows.push(row);
  console.log(JSON.stringify(row));
  p.sim.setFaults({ reset: true });
  return row;
}

beforeAll(async () => {
  own = await startOwnRedis({ persistence: 'aof' });
  // Latency × 0.1: a check takes ~1.35 s, so calls are really in flight when a fault hits.
  p = await startTestPlatform({ population: 600, seed: 12, sim: { timeScale: 0.1 }, env: { REDIS_URL: own.url } });
  pool = p.members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode));
  client = await batchClient(p, 'svc-faults');
  cacheRedis = new Redis(own.url);
});

const within = <T>(ms: number, what: Promise<T>): Promise<unknown> => Promise.race([what, new Promise((r) => setTimeout(r, ms).unref())]);

afterAll(async () => {
  const header = ['scenario', 'members', 'Stedi calls', 'duplicates', 'lost', 'failed by infra', 'completed uncached', 'peak in flight', '429 caused', '429 injected'];
  const lines = rows.map((r) => [r.scenario, r.members, r.stediCalls, r.duplicates, r.lost, r.failedByInfra, r.completedUncached, r.peakInFlight, r.caused429, r.injected429].join(' | '));
  console.log(['| ' + header.join(' | ') + ' |', '|' + header.map(() => '---').join('|') + '|', ...lines.map((l) => `| ${l} |`)].join('\n'));
  cacheRedis?.disconnect();
  await within(60_000, p?.close().catch(() => undefined) ?? Promise.resolve());
  await own?.stop();
});

describe('reliability under faults (fast subset)', () => {
  it('a 429 storm of 20 s fails no member and spends no attempt', async () => {
    const row = await runScenario('429 storm 20 s (Retry-After 1 s)', 30, async () => {
      p.sim.setFaults({ throttle429: { forMs: 20_000, retryAfterSeconds: 1 } });
    });
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    expect(row.completedUncached).toBe(0);
    expect(row.peakInFlight).toBeLessThanOrEqual(15);
  });

  // The bound (a storm of up to 2 minutes fails no member) runs with `npm run faults:full` (FAULTS_FULL=1).
  (process.env['FAULTS_FULL'] === '1' ? it : it.skip)('a 429 storm of 2 minutes fails no member', async () => {
    const row = await runScenario('429 storm 2 min (Retry-After 1 s)', 30, async () => {
      p.sim.setFaults({ throttle429: { forMs: 120_000, retryAfterSeconds: 1 } });
    });
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    expect(row.completedUncached).toBe(0);
    expect(row.peakInFlight).toBeLessThanOrEqual(15);
  }, 600_000);

  it('other tenants holding 10 of 15 slots: no member fails, the pool adapts to the share left', async () => {
    const row = await runScenario('other tenants hold 10 slots', 30, async () => {
      p.sim.setFaults({ otherTenants: { slots: 10 } });
    });
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    expect(row.peakInFlight).toBeLessThanOrEqual(15);
  });

  it('Redis killed for 2 s with calls in flight (AOF everysec): no 429 caused, no member lost or uncached', async () => {
    const row = await runScenario('Redis kill -9, 2 s, restart (AOF)', 60, async () => {
      // A HIGH batch may hold 12 of the 15 slots (3 stay reserved for interactive checks).
      await waitFor('10 calls in flight', () => p.sim.stats().inFlight.current >= 10, 120_000, 20);
      await own.kill();
      await sleep(2_000);
      await own.start();
    });
    expect(row.caused429).toBe(0);
    expect(row.peakInFlight).toBeLessThanOrEqual(15);
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
    expect(row.completedUncached).toBe(0);
  });

  it('Redis state lost with calls in flight (restart on an empty data dir): the 15-slot limit holds', async () => {
    const row = await runScenario('Redis kill -9, 2 s, restart empty', 60, async () => {
      await waitFor('10 calls in flight', () => p.sim.stats().inFlight.current >= 10, 120_000, 20);
      await own.kill();
      await sleep(2_000);
      await own.start({ wipe: true });
    });
    expect(row.caused429).toBe(0);
    expect(row.peakInFlight).toBeLessThanOrEqual(15);
    expect(row.lost).toBe(0);
    expect(row.failedByInfra).toBe(0);
  });
});
