import { createClient, type Client as RpcClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { CacheWarmingService, WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import { createConfiguredEligibilityCache, type EligibilityCache } from '../../activities/cache';
import { silentLogger } from '../../lib/logger';
import { hashMemberId } from '../../lib/member-hash';
import type { MemberRecord } from '../../lib/member-record';
import { batchStatusQuery, type BatchStatusView } from '../../workflows/batch.defs';
import { cancelWarmingUpdate, pauseWarmingSignal, resumeWarmingSignal, warmingStatusQuery, type WarmingStatusView } from '../../workflows/warming.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { createSimCheckRecorder, eventually, plainMembers } from '../helpers/sim-checks';

/**
 * Issue 9: pause / resume / cancel of a RUNNING cacheWarmingWorkflow on the real platform (WarmCache through the API,
 * the workflow and its child batches on a worker from the production composition root, Redis, PostgreSQL), checked
 * against the Stedi simulator's own per-member record of every check that reached it. Real-time latency is scaled
 * to ~1 s a call so a 90-member URGENT job is observably mid-flight for several seconds.
 */
jest.setTimeout(240_000);

const OP = 'check_eligibility';
const PER_JOB = 90;
/** batchWorkflow dispatches up to the pool's 15 + REALTIME_LOOKAHEAD (5) checks; those already dispatched finish. */
const MAX_DISPATCHED = 20;

let p: TestPlatform;
let cache: EligibilityCache;
const sim = createSimCheckRecorder();
const checks = sim.checks;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const total = (members: MemberRecord[]) => sim.count(members, 'realtime');

/** Waits until nothing is in flight at Stedi and the call count has not moved for `quietMs`. */
async function settled(quietMs = 1_500): Promise<number> {
  let last = checks.length;
  let since = Date.now();
  await eventually('Stedi to go quiet', () => {
    if (checks.length !== last) {
      last = checks.length;
      since = Date.now();
    }
    return p.sim.stats().inFlight.current === 0 && Date.now() - since >= quietMs;
  });
  return checks.length;
}

beforeAll(async () => {
  p = await startTestPlatform({
    population: 400,
    // ~1.1 s per real-time call (13.5 s mean × 0.08), capped under the payer timeout (no AAA 80 retries).
    sim: { logger: silentLogger(), timeScale: 0.08, latency: { maxMs: 50_000 }, onCheck: sim.onCheck },
    env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' },
  });
  cache = createConfiguredEligibilityCache(p.redis, p.config, silentLogger());
}, 120_000);

afterAll(async () => {
  await p?.close();
}, 60_000);

describe('a running warming job (integration)', () => {
  let plain: MemberRecord[];
  let warmCache: (ids: string[], source: string) => Promise<string>;
  let getJob: (jobId: string) => ReturnType<RpcClient<typeof CacheWarmingService>['getWarmingJob']>;

  beforeAll(async () => {
    // Members the simulator answers with a plain active coverage on the first try (no AAA retry, no mock).
    plain = plainMembers(p.members);
    expect(plain.length).toBeGreaterThanOrEqual(2 * PER_JOB);
    const token = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-warm-control');
    const client = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
    warmCache = async (ids, source) =>
      (await client.warmCache({ memberIds: ids, strategy: S.INTELLIGENT, priority: P.URGENT, source }, { headers: { authorization: `Bearer ${token}` } })).warmingJobId;
    getJob = (jobId) => client.getWarmingJob({ jobId }, { headers: { authorization: `Bearer ${token}` } });
  });

  test('pauseWarming holds every new Stedi call and the status says paused; resumeWarming completes it, each member warmed once', async () => {
    const members = plain.slice(0, PER_JOB);
    const jobId = await warmCache(
      members.map((m) => m.memberId),
      'it-pause',
    );
    const h = p.temporal.workflow.getHandle(jobId);
    await eventually('the job to be mid-flight', () => total(members) >= 10);

    const atPause = total(members);
    await h.signal(pauseWarmingSignal);
    await eventually('the pause to be seen', async () => (await h.query(warmingStatusQuery)).paused);
    // Checks already handed to the slot pool finish; after that Stedi sees nothing from this job.
    await settled();
    const heldAt = total(members);
    expect(heldAt - atPause).toBeLessThanOrEqual(MAX_DISPATCHED);
    expect(heldAt).toBeLessThan(PER_JOB);
    await sleep(5_000);
    expect(total(members)).toBe(heldAt);
    expect(p.sim.stats().inFlight.current).toBe(0);
    const paused = await h.query(warmingStatusQuery);
    expect(paused.paused).toBe(true);
    expect(paused.phase).toBe('RUNNING');
    expect(['RUNNING', 'PAUSED']).toContain(paused.status);
    // The running child batch is paused too.
    expect(paused.children).toHaveLength(1);
    const child = p.temporal.workflow.getHandle(paused.children[0]!);
    expect((await child.query(batchStatusQuery)).paused).toBe(true);

    await h.signal(resumeWarmingSignal);
    const v = (await h.result()) as WarmingStatusView;
    expect(v.status).toBe('COMPLETED');
    expect(v.paused).toBe(false);
    expect(v.counters.outcomes).toMatchObject({ warmed: PER_JOB, pending: 0, failed: 0, cancelled: 0 });

    // The simulator's own count: one real-time call per member, none through the batch API.
    const rt = sim.callsOf(members, 'realtime');
    for (const m of members) expect({ m: m.memberId, calls: rt.get(m.memberId) }).toEqual({ m: m.memberId, calls: 1 });
    expect(sim.count(members, 'batch')).toBe(0);
    for (const m of members) expect((await cache.get(m.memberId, OP))?.source).toBe('warming');
    console.log(`warming pause: ${atPause} calls at pause, ${heldAt - atPause} already dispatched finished, 0 in 5 s paused, ${PER_JOB} after resume`);
  });

  test('cancelWarming ends the job with its reason, every member accounted for, no Stedi call after it, children cancelled; the validator refuses bad input and a finished job', async () => {
    const members = plain.slice(PER_JOB, 2 * PER_JOB);
    const jobId = await warmCache(
      members.map((m) => m.memberId),
      'it-cancel',
    );
    const h = p.temporal.workflow.getHandle(jobId);
    await eventually('the job to be mid-flight', () => total(members) >= 10);

    // Bad input is refused by the validator, with the field, and changes nothing.
    const refused = async (args: unknown): Promise<string> => {
      try {
        await h.executeUpdate(cancelWarmingUpdate, { args: [args as never] });
      } catch (err) {
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        return String((err as WorkflowUpdateFailedError).cause?.message);
      }
      throw new Error('update accepted');
    };
    expect(await refused({ reason: 'x'.repeat(501) })).toMatch(/^reason: at most 500 characters/);
    expect(await refused({ reason: 42 })).toMatch(/^reason: expected a string/);
    expect(await refused({ reason: 'stop', force: true })).toMatch(/unknown field force/);
    const still = await h.query(warmingStatusQuery);
    expect(still.cancel).toBeUndefined();
    expect(still.status).toBe('RUNNING');
    const children = still.children;
    expect(children.length).toBeGreaterThanOrEqual(1);

    const reason = 'operator stop: wrong member list';
    const atCancel = total(members);
    const v = await h.executeUpdate(cancelWarmingUpdate, { args: [{ reason: `  ${reason} ` }] });
    expect(v.status).toBe('CANCELLED');
    expect(v.cancel?.reason).toBe(reason);
    const o = v.counters.outcomes;
    expect(o.pending).toBe(0);
    expect(o.warmed + o.failed + o.cancelled + o.skipped_fresh + o.skipped_cached).toBe(PER_JOB);
    expect(o.cancelled).toBeGreaterThan(0);
    expect(o.failed).toBe(0);
    expect(await h.result()).toEqual(v);

    // No Stedi call after the cancel beyond those already in flight; nothing after that at all.
    const after = await settled();
    expect(total(members) - atCancel).toBeLessThanOrEqual(MAX_DISPATCHED);
    await sleep(3_000);
    expect(checks.length).toBe(after);

    // Exact accounting from the records: every member one final row; warmed = its one Stedi call and a warmed
    // entry; cancelled rows say why and never exceed one call (a check in flight at the cancel may have reached Stedi).
    const rows = await p.directory.pool.query<{ member_hash: string; outcome: string; reason: string | null }>(
      'SELECT member_hash, outcome, reason FROM cache_warms WHERE job_id = $1',
      [jobId],
    );
    expect(rows.rows).toHaveLength(PER_JOB);
    const byHash = new Map(rows.rows.map((r) => [r.member_hash, r]));
    const rt = sim.callsOf(members, 'realtime');
    let warmed = 0;
    for (const m of members) {
      const r = byHash.get(hashMemberId(p.config.cache.keySecret, m.memberId))!;
      if (r.outcome === 'warmed') {
        warmed += 1;
        expect(rt.get(m.memberId)).toBe(1);
        expect((await cache.get(m.memberId, OP))?.source).toBe('warming');
      } else {
        expect(r.outcome).toBe('cancelled');
        expect(r.reason).toContain(reason);
        expect(rt.get(m.memberId)).toBeLessThanOrEqual(1);
      }
    }
    expect(warmed).toBe(o.warmed);
    expect(sim.count(members, 'batch')).toBe(0);
    const job = await p.directory.pool.query<{ status: string; status_reason: string | null; requested_by: string | null }>(
      'SELECT status, status_reason, requested_by FROM cache_warming_jobs WHERE job_id = $1',
      [jobId],
    );
    // The record keeps why and for whom (GetWarmingJob's last-known answer when the workflow cannot be asked).
    expect(job.rows[0]).toEqual({ status: 'CANCELLED', status_reason: `cancelled: ${reason}`, requested_by: 'svc-warm-control' });
    // The client that asked sees it: CANCELLED, its reason, the counts of the records.
    const seen = await getJob(jobId);
    expect([seen.status, seen.reason, seen.lastKnown]).toEqual([BatchStatus.CANCELLED, `cancelled: ${reason}`, false]);
    expect(seen.counts).toMatchObject({ warmed: o.warmed, cancelled: o.cancelled, pending: 0 });

    // The child batches were cancelled too (their own final status).
    for (const c of children) expect(((await p.temporal.workflow.getHandle(c).result()) as BatchStatusView).status).toBe('CANCELLED');

    // A finished job cannot be cancelled again: refused, not answered as if it had just been cancelled.
    let late: unknown;
    try {
      await h.executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'again' }] });
    } catch (err) {
      late = err;
    }
    expect(late).toBeDefined();
    expect(String((late as Error).message) + String((late as { cause?: Error }).cause?.message)).toMatch(/already (finished|completed)|workflow execution already completed/i);
    console.log(`warming cancel: ${atCancel} calls at cancel, ${o.warmed} warmed, ${o.cancelled} cancelled, 0 calls after settling`);
  });
  test('an operator terminating a child batch: its warms fail with the operator’s reason, not a bare "Terminated"', async () => {
    const members = plain.slice(2 * PER_JOB, 2 * PER_JOB + 30);
    expect(members).toHaveLength(30);
    const jobId = await warmCache(
      members.map((m) => m.memberId),
      'it-term-child',
    );
    const h = p.temporal.workflow.getHandle(jobId);
    let childId = '';
    await eventually('the child batch to be mid-flight', async () => {
      childId = (await h.query(warmingStatusQuery)).children[0] ?? '';
      return childId !== '' && total(members) >= 3;
    });
    // As an operator would: `temporal workflow terminate --workflow-id <child> --reason …`.
    await p.temporal.workflow.getHandle(childId).terminate('it operator INC-7');
    const v = (await h.result()) as WarmingStatusView;
    expect(v.counters.outcomes.failed).toBeGreaterThan(0);
    const job = await getJob(jobId);
    const why = 'the child batch workflow was terminated in Temporal (terminated: it operator INC-7)';
    expect(job.failureReasons).toEqual(expect.arrayContaining([expect.objectContaining({ reason: why })]));
    expect(job.failureReasons.map((r) => r.reason)).not.toContain('Terminated');
    if (job.status === BatchStatus.FAILED) expect(job.reason).toContain(why);
    console.log(`terminated child: ${v.status}, ${v.counters.outcomes.failed} failed; reason "${job.reason}"`);
  });
});
