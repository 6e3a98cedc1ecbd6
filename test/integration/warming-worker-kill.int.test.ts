import type { WorkflowHandle } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createConfiguredEligibilityCache } from '../../activities/cache';
import { createWarmingIntake } from '../../lib/temporal/warming-jobs';
import { createPgMemberListStore } from '../../activities/batch/pg-stores';
import { simCounts } from '../../bench/batch-harness';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { startWorkerProcess } from '../helpers/worker-process';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';

/**
 * Issue 9 acceptance: "a warmer worker SIGKILLed mid-job loses no member and warms none twice". A real worker
 * process (workers/main.ts, member-cron consumer off) runs an URGENT warming job over members with no cache entry
 * (real-time path through the slot pool; simulator at ×0.03, so each Stedi call takes a few hundred ms and several
 * are in flight), is SIGKILLed while warms are in flight, and an in-process worker built by the same composition
 * root finishes the job once Temporal times the dead worker's refresh activities out (heartbeat timeout) and retries
 * them. Checked from the simulator's own request counts and the cache_warms records.
 */
jest.setTimeout(240_000);

const OP = 'check_eligibility';
const MEMBERS = 150;
const TIME_SCALE = 0.03; // mean real-time latency 13.5 s → ~400 ms

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((n, v) => n + v, 0);

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cache warming: a worker killed mid-job (integration)', () => {
  let p: TestPlatform | undefined;
  let child: ChildProcess | undefined;
  let handle: WorkflowHandle | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (handle) await handle.terminate('test cleanup').catch(() => undefined);
    await p?.close();
  });

  it('loses no member and warms none twice', async () => {
    p = await startTestPlatform({ population: 400, workers: 0, sim: { timeScale: TIME_SCALE, logger: silentLogger() } });
    const platform = p;
    const cache = createConfiguredEligibilityCache(platform.redis, platform.config, silentLogger());
    // Members whose payer answers for good (connectivity AAA codes are transient and retried by design).
    const members = platform.members
      .filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode))
      .slice(0, MEMBERS)
      .map((m) => m.memberId);
    expect(members).toHaveLength(MEMBERS);
    const hash = (id: string) => hashMemberId(platform.config.cache.keySecret, id);

    // A real worker process on the platform's task queues, Redis prefix, directory schema and simulator.
    const wp = await startWorkerProcess(platform, {}, waitFor);
    child = wp.child;
    const childAlive = wp.alive;
    const childExited = wp.exited;
    const readyAfterMs = wp.readyAfterMs;

    // An URGENT INTELLIGENT job over members with no cache entry: every one takes the real-time path.
    platform.sim.resetStats();
    const intake = createWarmingIntake(platform.temporal, createPgMemberListStore(platform.directory.pool), { taskQueue: platform.config.temporal.taskQueue });
    const { jobId } = await intake.accept({
      source: 'it-worker-kill',
      dedupeKey: `kill-${randomUUID()}`,
      priority: 'URGENT',
      strategy: 'INTELLIGENT',
      operations: [OP],
      memberIds: members,
    });
    handle = platform.temporal.workflow.getHandle(jobId);

    // Mid-job: a quarter of the members answered by Stedi and several calls in flight.
    const answered = () => sum(platform.sim.stats().answers);
    await waitFor(
      () => childAlive('the kill') && answered() >= MEMBERS / 4 && platform.sim.stats().inFlight.current >= 3,
      90_000,
      'the worker process to be a quarter through the job with calls in flight',
    ).catch((err: unknown) => {
      throw new Error(`${String(err)} (${answered()} answered; worker stderr:\n${wp.stderr()})`);
    });
    child.kill('SIGKILL');
    await childExited;
    const atKill = platform.sim.stats();
    const simInFlightAtKill = atKill.inFlight.current;
    // Every Stedi call the dead worker started: answered ones plus those still in flight (Stedi works them out and
    // answers nobody).
    const callsBeforeKill = sum(atKill.answers) + simInFlightAtKill;
    const storedAtKill = Number(
      (await platform.directory.pool.query<{ n: string }>("SELECT count(*) AS n FROM cache_warms WHERE job_id = $1 AND outcome <> 'pending'", [jobId])).rows[0]!.n,
    );
    // Calls whose answer the dead worker never recorded: in flight at the kill, from the worker's side.
    const lostAtKill = callsBeforeKill - storedAtKill;
    expect(storedAtKill).toBeLessThan(MEMBERS);
    expect(lostAtKill).toBeGreaterThan(0);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    // A replacement worker from the real composition root finishes the job.
    const killedAt = Date.now();
    await platform.addWorker();
    const v = (await handle.result()) as WarmingStatusView;
    const finishAfterKillMs = Date.now() - killedAt;

    // No member lost: exactly one final record each (warmed, or failed with a reason), none pending.
    const rows = await platform.directory.pool.query<{ member_hash: string; operation: string; path: string; outcome: string; reason: string | null; completed_at: Date | null }>(
      'SELECT member_hash, operation, path, outcome, reason, completed_at FROM cache_warms WHERE job_id = $1',
      [jobId],
    );
    expect(rows.rows).toHaveLength(MEMBERS);
    const byHash = new Map(rows.rows.map((r) => [r.member_hash, r]));
    expect(byHash.size).toBe(MEMBERS);
    let warmed = 0;
    for (const m of members) {
      const r = byHash.get(hash(m));
      expect(r).toBeDefined();
      expect({ operation: r!.operation, path: r!.path }).toEqual({ operation: OP, path: 'realtime' });
      expect(['warmed', 'failed']).toContain(r!.outcome);
      if (r!.outcome === 'warmed') {
        warmed++;
        const entry = await cache.get(m, OP);
        expect(entry?.source).toBe('warming');
        expect(r!.completed_at?.getTime()).toBe(entry?.fetchedAt);
      } else {
        expect(r!.reason).toBeTruthy();
      }
    }
    expect(['COMPLETED', 'PARTIALLY_COMPLETED']).toContain(v.status);
    expect(v.counters.outcomes.pending).toBe(0);
    expect(v.counters.outcomes.warmed + v.counters.outcomes.failed).toBe(MEMBERS);
    expect(v.counters.outcomes.warmed).toBe(warmed);

    // None warmed twice: Stedi saw one call per member, plus at most the calls the dead worker never recorded
    // (a retried refresh whose earlier attempt already stored its answer reuses it).
    // Counted from the simulator's answers: its per-route response counts miss the calls it answered to a dead
    // connection (the killed worker's in-flight calls), which Stedi still did (and bills).
    await waitFor(() => platform.sim.stats().inFlight.current === 0, 30_000, 'the simulator to finish every call');
    const st = platform.sim.stats();
    const transient = Object.entries(st.answers)
      .filter(([k]) => k === 'fault-5xx' || k === 'connection-reset' || (k.startsWith('aaa-') && isConnectivityCode(k.slice(4))))
      .reduce((n, [, c]) => n + c, 0);
    const calls = sum(st.answers);
    const finalCalls = calls - transient;
    const responses = simCounts(platform.sim).realtimeCalls;

    // The kill really interrupted running warms: at least one refresh ran a second attempt.
    // One page (default page size 10,000), one operation, the real-time path: one child batch.
    const history = await platform.temporal.workflow.getHandle(`${jobId}/p0/${OP}/realtime`).fetchHistory();
    const retried = (history.events ?? []).filter((ev) => (ev.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
    console.log(
      `warming kill test: worker process ready after ${readyAfterMs} ms; ${MEMBERS} URGENT members; at SIGKILL ${callsBeforeKill} Stedi calls started, ` +
        `${storedAtKill} recorded, ${lostAtKill} unrecorded (sim in flight ${simInFlightAtKill}); job finished ${finishAfterKillMs} ms after the kill ` +
        `(${v.status}, ${v.counters.outcomes.warmed} warmed, ${v.counters.outcomes.failed} failed); Stedi real-time calls ${calls} ` +
        `(${responses} responses delivered, ${transient} transient, ${st.throttled + st.throttledInjected} throttled 429s not counted) → ${finalCalls} final = members + ${finalCalls - MEMBERS}; ` +
        `${retried} refresh attempt(s) > 1`,
    );
    expect(retried).toBeGreaterThanOrEqual(1);
    expect(finalCalls).toBeGreaterThanOrEqual(MEMBERS);
    expect(finalCalls).toBeLessThanOrEqual(MEMBERS + lostAtKill);
    handle = undefined;
  });
});
