import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { batchClient, subscribeToBatchEvents, waitFor, type BatchClient, type BatchEventSubscriber } from '../../bench/batch-harness';
import { BatchExecutionOptions_Strategy as Strategy, BatchStatus, type BatchStatusUpdate } from '../../gen/rte/v1/batch_pb';
import { CacheWarmingService, WarmCacheRequest_Priority as P, WarmingStrategy as S } from '../../gen/rte/v1/warming_pb';
import { WINDOW_TO_PROTO } from '../../lib/batch/proto-mapping';
import { HOUR_WINDOWS, hourWindowSlot, isValidTimeZone, localParts, MINUTE_MS, scheduleMember, zonedTimeToUtc } from '../../lib/batch/windows';
import { silentLogger } from '../../lib/logger';
import { verdictFor } from '../../stedi-sim/answers';
import { batchStatusQuery, batchWorkflowId, pauseBatchSignal, resumeBatchSignal } from '../../workflows/batch.defs';
import { RteBatchProgress, RteBatchStatus } from '../../workflows/search-attributes';
import { cancelWarmingUpdate, pauseWarmingSignal, resumeWarmingSignal, warmingStatusQuery } from '../../workflows/warming.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';
import { moveMemberToZone, WORLD_ZONES } from '../helpers/world-zones';

/**
 * Issue 15, "batches that explain themselves", end to end on the real platform (Temporal dev server, production
 * worker composition, PostgreSQL, Redis, Kafka, the API, the Stedi simulator): a batch that waits for the scheduling
 * window of its remaining members reports WAITING, and a paused one PAUSED, the same way everywhere an operator or
 * client looks — GetBatchStatus, the RteBatchStatus search attribute, the WatchBatchStatus stream, the Kafka event
 * and the Web UI's current details; a BACKGROUND cache-warming job whose child batches wait for the LOW_UTILIZATION
 * window reports WAITING (warmingStatus query, RteBatchStatus, current details) and PAUSED after pauseWarming.
 *
 * Windows are chosen at run time from lib/batch/windows.ts against the wall clock in the members' zones: the open
 * window lets the first member run now, the closed one is at least 30 minutes away, so WAITING is observable without
 * waiting for it; everything is cancelled at the end.
 */

type HourWindowName = keyof typeof HOUR_WINDOWS;
const CLOSED_MARGIN_MS = 30 * MINUTE_MS;
const SERVICE = 'svc-ops-states';

const metadata = async (p: TestPlatform, id: string) => (await p.temporal.workflow.getHandle(id).query('__temporal_workflow_metadata')) as { currentDetails?: string };
const attr = async (p: TestPlatform, id: string) => (await p.temporal.workflow.getHandle(id).describe()).typedSearchAttributes;

describe('WAITING and PAUSED, as operators and clients see them (integration)', () => {
  let p: TestPlatform;
  let c: BatchClient;
  let events: BatchEventSubscriber;
  /** Members the simulator answers at once (no payer connectivity retries), by zone. */
  const byZone = new Map<string, string[]>();
  /** Members an earlier test checked: their cache entries are fresh, and INTELLIGENT warming would skip them. */
  const used = new Set<string>();

  beforeAll(async () => {
    p = await startTestPlatform({ population: 1000, sim: { logger: silentLogger() }, env: { BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' } });
    c = await batchClient(p, SERVICE);
    events = await subscribeToBatchEvents(p, uniqueName('ops-states'));
    for (const m of p.members) {
      if (!isValidTimeZone(m.timeZone) || verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'active') continue;
      byZone.set(m.timeZone, [...(byZone.get(m.timeZone) ?? []), m.memberId]);
    }
  }, 180_000);

  afterAll(async () => {
    await events?.stop();
    await p?.close();
  }, 60_000);

  /**
   * A window open now in one zone (with 5 min to spare) and closed for ≥ 30 min in another. The population's zones
   * are all American, and some evenings (UTC) no window is open in any of them, so the zones are chosen from
   * WORLD_ZONES and two members are moved into them in the test's private directory.
   */
  function openAndClosed(): { window: HourWindowName; open: string; closed: string; opensAtMs: number } {
    const now = Date.now();
    for (const window of Object.keys(HOUR_WINDOWS) as HourWindowName[]) {
      const open = WORLD_ZONES.find((z) => {
        const slot = hourWindowSlot(window, now, z);
        const d = localParts(now, z);
        return slot.startMs === now && zonedTimeToUtc(z, d.year, d.month, d.day, HOUR_WINDOWS[window].endHour) - now >= 5 * MINUTE_MS;
      });
      const closed = WORLD_ZONES.find((z) => hourWindowSlot(window, now, z).startMs - now >= CLOSED_MARGIN_MS);
      if (open && closed) return { window, open, closed, opensAtMs: hourWindowSlot(window, now, closed).startMs };
    }
    throw new Error(`no window open in one zone and closed in another at ${new Date(now).toISOString()} (zones: ${WORLD_ZONES.join(', ')})`);
  }

  it('a started batch waiting for its next window is WAITING in GetBatchStatus, RteBatchStatus, WatchBatchStatus, Kafka and the Web UI; paused it is PAUSED in each', async () => {
    const { window, open, closed, opensAtMs } = openAndClosed();
    // Two members of the largest zone (the second test keeps to the population's own zones and skips these).
    const [largest] = [...byZone.values()].sort((a, b) => b.length - a.length);
    const memberIds = [largest![0]!, largest![1]!];
    memberIds.forEach((m) => used.add(m));
    await moveMemberToZone(p, memberIds[0]!, open);
    await moveMemberToZone(p, memberIds[1]!, closed);
    // The first member's seeded jitter must not push it later than now (then it too would wait).
    let jobId = '';
    let batchId = '';
    for (;;) {
      jobId = uniqueName('waiting');
      batchId = batchWorkflowId(SERVICE, jobId);
      const at = Date.now();
      if (scheduleMember({ window, nowMs: at, timeZone: open, seed: batchId, position: 0, groupSize: 2 }).atMs === at) break;
    }

    const r = await c.submitBatch({
      clientJobId: jobId,
      memberSelector: { case: 'memberIds', value: { memberIds } },
      options: { strategy: Strategy.REALTIME_ONLY, schedulingWindow: WINDOW_TO_PROTO[window] },
    });
    expect(r.batchId).toBe(batchId);
    const abort = new AbortController();
    const stream: BatchStatusUpdate[] = [];
    const watching = (async () => {
      try {
        for await (const u of c.watchBatchStatus({ batchId }, { signal: abort.signal })) stream.push(u);
      } catch {
        // aborted at the end
      }
    })();
    const handle = p.temporal.workflow.getHandle(batchId);
    try {
      // The member in the open window is checked; the other one's window is ≥ 30 min away: WAITING.
      await waitFor('GetBatchStatus to say WAITING', async () => (await c.getBatchStatus({ batchId })).status === BatchStatus.WAITING, 60_000, 250);
      const st = await c.getBatchStatus({ batchId });
      expect(st.progress).toMatchObject({ totalMembers: 2, completed: 1, pending: 1 });
      expect(st.progress?.startedAt).toBeDefined();
      expect((await handle.query(batchStatusQuery)).status).toBe('WAITING');
      await waitFor('RteBatchStatus = WAITING', async () => (await attr(p, batchId)).get(RteBatchStatus) === 'WAITING', 10_000, 200);
      expect((await attr(p, batchId)).get(RteBatchProgress)).toMatch(new RegExp(`^1 / 2 done · waiting for ${window} window until `));
      const listed: string[] = [];
      await waitFor('the visibility list by RteBatchStatus', async () => {
        listed.length = 0;
        for await (const wf of p.temporal.workflow.list({ query: `RteBatchStatus = 'WAITING' AND WorkflowId = '${batchId}'` })) listed.push(wf.workflowId);
        return listed.length === 1;
      }, 30_000, 500);
      const details = (await metadata(p, batchId)).currentDetails ?? '';
      expect(details).toContain(`1 / 2 done · waiting for ${window} window until`);
      // The closed zone's window start (spread and jitter may put the member a little later).
      expect(opensAtMs - Date.now()).toBeGreaterThan(20 * MINUTE_MS);
      await waitFor('a WAITING update on WatchBatchStatus', () => stream.some((u) => u.status === BatchStatus.WAITING), 15_000, 200);
      await waitFor('a WAITING event on Kafka', () => events.of(batchId).some((e) => e.event.eventType === 'PROGRESS' && e.event.details?.status === BatchStatus.WAITING), 30_000, 250);

      // Paused while waiting: PAUSED everywhere, and back to WAITING on resume.
      await handle.signal(pauseBatchSignal);
      await waitFor('GetBatchStatus to say PAUSED', async () => (await c.getBatchStatus({ batchId })).status === BatchStatus.PAUSED, 15_000, 200);
      expect((await handle.query(batchStatusQuery)).status).toBe('PAUSED');
      await waitFor('RteBatchStatus = PAUSED', async () => (await attr(p, batchId)).get(RteBatchStatus) === 'PAUSED', 10_000, 200);
      expect((await metadata(p, batchId)).currentDetails).toMatch(/^paused · 1 \/ 2 done/);
      await waitFor('a PAUSED update on WatchBatchStatus', () => stream.some((u) => u.status === BatchStatus.PAUSED), 15_000, 200);
      await waitFor('a PAUSED event on Kafka', () => events.of(batchId).some((e) => e.event.eventType === 'PROGRESS' && e.event.details?.status === BatchStatus.PAUSED), 30_000, 250);
      await handle.signal(resumeBatchSignal);
      await waitFor('WAITING again after resume', async () => (await c.getBatchStatus({ batchId })).status === BatchStatus.WAITING, 15_000, 200);
      await waitFor('RteBatchStatus = WAITING again', async () => (await attr(p, batchId)).get(RteBatchStatus) === 'WAITING', 10_000, 200);

      // The stream's statuses in order: RUNNING (started), WAITING, PAUSED, WAITING.
      // A WAITING update after the last PAUSED one (counting WAITING updates raced: a watcher that joined an already
      // WAITING batch gets STARTED and PROGRESS both WAITING before the pause).
      const resumedSeen = () => stream.slice(stream.map((u) => u.status).lastIndexOf(BatchStatus.PAUSED) + 1).some((u) => u.update.case !== undefined && u.status === BatchStatus.WAITING);
      await waitFor('the stream to see the resume', resumedSeen, 15_000, 200);
      const seen = stream.filter((u) => u.update.case !== undefined).map((u) => BatchStatus[u.status]);
      const changes = seen.filter((s, i) => i === 0 || s !== seen[i - 1]);
      expect(changes.slice(-3)).toEqual(['WAITING', 'PAUSED', 'WAITING']);
    } finally {
      abort.abort();
      await watching;
      await c.cancelBatch({ batchId, reason: 'ops-states test: end' }).catch(() => undefined);
    }
    expect((await c.getBatchStatus({ batchId })).status).toBe(BatchStatus.CANCELLED);
  }, 240_000);

  it('a BACKGROUND warming job whose children wait for the LOW_UTILIZATION window is WAITING (query, RteBatchStatus, Web UI); pauseWarming makes it PAUSED', async () => {
    const now = Date.now();
    const zone = [...byZone.keys()]
      .filter((z) => hourWindowSlot('LOW_UTILIZATION', now, z).startMs - now >= CLOSED_MARGIN_MS)
      .sort((a, b) => byZone.get(b)!.length - byZone.get(a)!.length)[0];
    // (The zone with the most members keeps at least three once the first test's two are set aside.)
    if (!zone) throw new Error(`LOW_UTILIZATION is open (or opens within 30 min) in every member zone at ${new Date(now).toISOString()}`);
    const memberIds = byZone.get(zone)!.filter((m) => !used.has(m)).slice(0, 3);
    const n = memberIds.length;
    const token = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-ops-states');
    const warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
    const res = await warming.warmCache({ memberIds, strategy: S.INTELLIGENT, priority: P.BACKGROUND, source: 'it-ops-states' }, { headers: { authorization: `Bearer ${token}` } });
    const jobId = res.warmingJobId;
    const job = p.temporal.workflow.getHandle(jobId);
    try {
      await waitFor('the warming job to say WAITING', async () => (await job.query(warmingStatusQuery)).status === 'WAITING', 60_000, 250);
      const v = await job.query(warmingStatusQuery);
      expect(v.children).toHaveLength(1);
      expect(v.waitingUntilMs).toBeGreaterThan(Date.now() + 20 * MINUTE_MS);
      await waitFor('RteBatchStatus = WAITING on the job', async () => (await attr(p, jobId)).get(RteBatchStatus) === 'WAITING', 10_000, 200);
      expect((await attr(p, jobId)).get(RteBatchProgress)).toMatch(new RegExp(`^0 / ${n} warmed · BACKGROUND via batch API · waiting for LOW_UTILIZATION window until `));
      expect((await metadata(p, jobId)).currentDetails).toMatch(new RegExp(`^0 / ${n} warmed · BACKGROUND via batch API · waiting for LOW_UTILIZATION window until `));
      // Its child batch has not started: PENDING, waiting for its first window.
      const child = v.children[0]!;
      expect((await p.temporal.workflow.getHandle(child).query(batchStatusQuery)).status).toBe('PENDING');
      expect((await metadata(p, child)).currentDetails).toMatch(/^waiting for LOW_UTILIZATION window until /);

      await job.signal(pauseWarmingSignal, { by: 'ops-oncall' });
      await waitFor('the warming job to say PAUSED', async () => (await job.query(warmingStatusQuery)).status === 'PAUSED', 15_000, 200);
      expect((await job.query(warmingStatusQuery)).pausedBy).toBe('ops-oncall');
      await waitFor('RteBatchStatus = PAUSED on the job', async () => (await attr(p, jobId)).get(RteBatchStatus) === 'PAUSED', 10_000, 200);
      expect((await metadata(p, jobId)).currentDetails).toMatch(new RegExp(`^paused by ops-oncall · 0 / ${n} warmed`));
      await waitFor('its child batch to say PAUSED', async () => (await p.temporal.workflow.getHandle(child).query(batchStatusQuery)).status === 'PAUSED', 15_000, 200);

      await job.signal(resumeWarmingSignal);
      await waitFor('WAITING again after resume', async () => (await job.query(warmingStatusQuery)).status === 'WAITING', 15_000, 200);
      await waitFor('RteBatchStatus = WAITING again', async () => (await attr(p, jobId)).get(RteBatchStatus) === 'WAITING', 10_000, 200);
    } finally {
      const end = await job.executeUpdate(cancelWarmingUpdate, { args: [{ reason: 'ops-states test: end' }] }).catch(() => undefined);
      expect(end?.status).toBe('CANCELLED');
    }
    await waitFor('RteBatchStatus = CANCELLED', async () => (await attr(p, jobId)).get(RteBatchStatus) === 'CANCELLED', 10_000, 200);
  }, 240_000);
});
