import { durationMs, timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { simCounts } from '../../bench/batch-harness';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import { CacheWarmingService, WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { hourWindowSlot, MINUTE_MS } from '../../lib/batch/windows';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { cancelWarmingUpdate, type WarmingStatusView } from '../../workflows/warming.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { eventually } from '../helpers/sim-checks';
import { uniqueName } from '../helpers/temporal';
import { moveMemberToZone, WORLD_ZONES } from '../helpers/world-zones';

/**
 * Cache warming while the real-time slot pool is busy (warming probe findings 7 and 12), on the real platform: the
 * API, cacheWarmingWorkflow with its child batches on a production-composed worker, the Redis slot pool, cache_warms in
 * PostgreSQL and the Stedi simulator (sim time ×0.01). The test itself holds the pool's non-interactive slots, so the
 * load every batch reads (getStediLoad) is ≥ 0.7, the ANY window's "defer to LOW_UTILIZATION" band.
 *
 * The members it warms are moved into a time zone whose low-utilisation window opens at least an hour from now, so a
 * deferral to that window is visible (hours away) whatever the time of day the test runs.
 */
describe('cache warming under real-time slot load (integration)', () => {
  let p: TestPlatform;
  let token: string;
  let members: MemberRecord[];
  let next = 0;
  const client = () => createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
  const auth = () => ({ headers: { authorization: `Bearer ${token}` } });
  const take = (n: number) => {
    const out = members.slice(next, next + n);
    next += n;
    if (out.length < n) throw new Error('not enough members in closed-window zones');
    return out;
  };
  const windowOpensAt = (m: MemberRecord) => hourWindowSlot('LOW_UTILIZATION', Date.now(), m.timeZone).startMs;

  beforeAll(async () => {
    p = await startTestPlatform({ population: 300, sim: { logger: silentLogger() }, env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' } });
    token = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-warm-load');
    // The population lives in American zones, and some hours of the day (around 06:00–10:00 UTC) the low-utilisation
    // window is open, or opens within the hour, in every one of them: the members the test uses are moved into a zone
    // (WORLD_ZONES spans the day) where it opens at least an hour from now.
    const now = Date.now();
    const zone = WORLD_ZONES.find((z) => hourWindowSlot('LOW_UTILIZATION', now, z).startMs - now >= 60 * MINUTE_MS);
    if (!zone) throw new Error(`no zone in WORLD_ZONES has its low-utilisation window an hour or more away at ${new Date(now).toISOString()}`);
    members = p.members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode)).slice(0, 10);
    for (const m of members) await moveMemberToZone(p, m.memberId, zone);
    members = members.map((m) => ({ ...m, timeZone: zone }));
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 60_000);

  /** Holds every non-interactive slot of the pool (as batches would) until the returned release is called. */
  async function holdNonInteractiveSlots(): Promise<{ release: () => Promise<void>; load: number }> {
    const slots = p.workers[0]!.slotPool;
    const n = p.config.slots.total - p.config.slots.reservedInteractive;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let granted = 0;
    const held = Array.from({ length: n }, () =>
      slots.withSlot({ kind: 'batch', clientService: uniqueName('it-load-holder'), priority: 'HIGH' }, async () => {
        granted += 1;
        await gate;
      }),
    );
    await eventually('the test holds the non-interactive slots', () => granted === n, 30_000);
    const st = await slots.stats();
    return {
      load: (st.interactiveInUse + st.batchInUse) / st.limit,
      release: async () => {
        open();
        await Promise.all(held);
      },
    };
  }

  it('finding 7: a PRELOAD warm through Stedi\'s batch API is not parked by real-time slot load (it takes no slot)', async () => {
    const ms = take(3);
    const hold = await holdNonInteractiveSlots();
    try {
      expect(hold.load).toBeGreaterThanOrEqual(0.7);
      p.sim.resetStats();
      const t0 = Date.now();
      const res = await client().warmCache({ memberIds: ms.map((m) => m.memberId), strategy: S.INTELLIGENT, priority: P.PRELOAD, source: 'it-load-preload' }, auth());
      expect(res.membersQueued).toBe(3);
      // Before: the child batch (window ANY, priority NORMAL) was deferred to the LOW_UTILIZATION window (hours away),
      // although the answer promised the batch latency. Now it runs at once, while the slots are still held.
      const h = p.temporal.workflow.getHandle(res.warmingJobId);
      const outcome = await Promise.race([h.result() as Promise<WarmingStatusView>, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), 60_000))]);
      if (outcome === 'still waiting') {
        const job = await client().getWarmingJob({ jobId: res.warmingJobId }, auth());
        await h.executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'test cleanup' }] }).catch(() => undefined);
        throw new Error(`PRELOAD warm still not done after 60 s: ${BatchStatus[job.status]} "${job.reason}"`);
      }
      expect(outcome.status).toBe('COMPLETED');
      expect(outcome.counters.outcomes.warmed).toBe(3);
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(timestampMs(res.estimatedCompletion!)).toBeGreaterThanOrEqual(t0);
      const sim = simCounts(p.sim);
      expect(sim.batchItems).toBe(3);
      expect(sim.realtimeCalls).toBe(0);
    } finally {
      await hold.release();
    }
  }, 120_000);

  it('finding 7: a FORCE PRELOAD warm sent in real time is deferred by load, and says so: estimate, reason, waiting_until', async () => {
    const ms = take(2);
    const opensAt = Math.min(...ms.map(windowOpensAt));
    const hold = await holdNonInteractiveSlots();
    let jobId: string | undefined;
    try {
      p.sim.resetStats();
      const res = await client().warmCache({ memberIds: ms.map((m) => m.memberId), strategy: S.FORCE, priority: P.PRELOAD, source: 'it-load-force' }, auth());
      jobId = res.warmingJobId;
      expect(res.membersQueued).toBe(2);
      // Before: now + 2 × 13.5 s ÷ free slots. Now the estimate starts the real-time part where the load rule puts it:
      // the members' low-utilisation window (± the rule's jitter), hours away.
      const estimate = timestampMs(res.estimatedCompletion!);
      expect(estimate).toBeGreaterThanOrEqual(opensAt - 6 * MINUTE_MS);

      let job = await client().getWarmingJob({ jobId }, auth());
      for (let k = 0; k < 150 && job.status !== BatchStatus.WAITING; k++) {
        await new Promise((r) => setTimeout(r, 200));
        job = await client().getWarmingJob({ jobId }, auth());
      }
      expect(BatchStatus[job.status]).toBe('WAITING');
      // The cause and the honest bound, in the batches' words (GetBatchStatus's status_detail).
      expect(job.reason).toMatch(/^deferred by Stedi load: waiting until \d{4}-\d\d-\d\dT[\d:.]+Z at the latest, or sooner when the load drops$/);
      const until = timestampMs(job.waitingUntil!);
      expect(job.reason).toContain(new Date(until).toISOString());
      expect(until).toBeGreaterThanOrEqual(opensAt - 6 * MINUTE_MS);
      expect(until).toBeLessThanOrEqual(estimate);
      expect(simCounts(p.sim).realtimeCalls).toBe(0);
    } finally {
      if (jobId) await p.temporal.workflow.getHandle(jobId).executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'test cleanup' }] }).catch(() => undefined);
      await hold.release();
    }
  }, 120_000);

  it('finding 12: a real-time warm\'s duration counts from its Stedi call, not from its wait for a slot', async () => {
    const ms = take(2);
    const hold = await holdNonInteractiveSlots();
    const source = uniqueName('it-load-duration').replace(/\//g, '-');
    let releasedAt: number;
    let jobId: string;
    try {
      const res = await client().warmCache({ memberIds: ms.map((m) => m.memberId), strategy: S.FORCE, priority: P.URGENT, source }, auth());
      jobId = res.warmingJobId;
      // URGENT warms are never deferred, but they queue for a slot while every non-interactive slot is held.
      await new Promise((r) => setTimeout(r, 6_000));
    } finally {
      releasedAt = Date.now();
      await hold.release();
    }
    const v = (await p.temporal.workflow.getHandle(jobId).result()) as WarmingStatusView;
    expect(v.counters.outcomes.warmed + v.counters.outcomes.failed).toBe(2);
    const rows = await p.directory.pool.query<{ member_hash: string; accepted_at: Date; started_at: Date; completed_at: Date | null; outcome: string }>(
      'SELECT member_hash, accepted_at, started_at, completed_at, outcome FROM cache_warms WHERE job_id = $1',
      [jobId],
    );
    expect(rows.rows.map((r) => r.member_hash).sort()).toEqual(ms.map((m) => hashMemberId(p.config.cache.keySecret, m.memberId)).sort());
    for (const r of rows.rows) {
      expect(r.completed_at).not.toBeNull();
      // Accepted (and decided) before the slots were free; started (the Stedi call) only after.
      expect(r.accepted_at.getTime()).toBeLessThanOrEqual(releasedAt - 5_000);
      expect(r.started_at.getTime()).toBeGreaterThanOrEqual(releasedAt - 1_000);
      expect(r.completed_at!.getTime() - r.started_at.getTime()).toBeLessThan(3_000);
    }
    // GetWarmingStats' avg_warm_duration ("time to warm one member") is the check, not the 6 s queue.
    const warmed = rows.rows.filter((r) => r.outcome === 'warmed');
    if (warmed.length > 0) {
      const { stats } = await client().getWarmingStats(
        { startTime: timestampFromMs(releasedAt - 60 * MINUTE_MS), endTime: timestampFromMs(Date.now() + MINUTE_MS), sources: [source] },
        auth(),
      );
      expect(durationMs(stats!.avgWarmDuration!)).toBeLessThan(3_000);
    }
  }, 120_000);
});
