import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCodecServer } from '../../api/codec-server';
import { batchClient, TERMINAL_STATUSES, waitFor, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { DEV_CODEC_KEYS } from '../../lib/config';
import { silentLogger } from '../../lib/logger';
import { EncryptionCodec, parseCodecKeys } from '../../lib/temporal/codec';
import { ELIGIBILITY_REFRESH_WORKFLOW_TYPE, eligibilityRefreshWorkflowId, type EligibilityRefreshResult } from '../../workflows/eligibility-refresh.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';
import { hashMemberId } from '../../lib/member-hash';
import { DEFAULT_ELIGIBILITY_OPERATION } from '../../lib/operations';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { CacheWarmingService, WarmCacheRequest_Priority as WarmPriority, WarmingStrategy } from '../../gen/rte/v1/warming_pb';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { decodedHistoryText, memberIdsIn } from '../helpers/history-text';
import { createSimGate } from '../helpers/sim-checks';

/**
 * Temporal core guarantees on the real platform (Temporal dev server, worker built by the composition root, API,
 * Redis, PostgreSQL, Stedi simulator):
 *  - member data never reaches Temporal in the clear: histories read WITHOUT the codec hold no member id;
 *  - and, where the value is not needed, not even encrypted: decrypted batch and warming histories (children
 *    included) hold references and list indexes, never a member id;
 *  - interactive refreshes run on their own task queue and worker slots, so real-time batches filling the main
 *    worker do not delay their start.
 */
const EventType = proto.api.enums.v1.EventType;
const execFileAsync = promisify(execFile);
/** The temporal CLI `./stack/stack install` builds (docs/temporal.md). */
const TEMPORAL_CLI = join(__dirname, '../../.stack/bin/temporal');

/** Every payload byte of a workflow's history as latin1 text (what an operator without the key can read). */
async function rawHistoryText(raw: Client, workflowId: string): Promise<string> {
  const history = await raw.workflow.getHandle(workflowId).fetchHistory();
  return Buffer.from(proto.api.history.v1.History.encode(history).finish()).toString('latin1');
}

/** Whether a workflow's (first) activity has started on a worker and is still running. */
async function activityRunning(client: Client, workflowId: string): Promise<boolean> {
  const d = await client.workflow
    .getHandle(workflowId)
    .describe()
    .catch(() => undefined);
  return (d?.raw.pendingActivities ?? []).some((a) => a.state === proto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED);
}

/** Seconds from workflow start to its first activity starting on a worker (Temporal-side queueing). */
async function activityStartLatencyS(client: Client, workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const t = (type: number) => {
    const e = history.events?.find((x) => x.eventType === type);
    if (!e?.eventTime) throw new Error(`${workflowId}: no event ${EventType[type]}`);
    return Number(e.eventTime.seconds) + (e.eventTime.nanos ?? 0) / 1e9;
  };
  return t(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) - t(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
}

describe('Temporal core (integration)', () => {
  let p: TestPlatform;
  const simGate = createSimGate();
  let rawConnection: Connection;
  let raw: Client;

  beforeAll(async () => {
    // A Stedi call takes 13.5 s × 0.05 ≈ 0.7 s, so batches hold their activity slots for a while.
    p = await startTestPlatform({ population: 600, sim: { timeScale: 0.05, logger: silentLogger(), delay: simGate.delay }, env: { BATCH_SUBMIT_RATE_LIMIT: '100', BATCH_POLL_INITIAL_MS: '500', BATCH_POLL_MAX_MS: '1000' } });
    rawConnection = await Connection.connect({ address: p.config.temporal.address });
    raw = new Client({ connection: rawConnection, namespace: p.config.temporal.namespace }); // no codec
  }, 240_000);

  afterAll(async () => {
    await rawConnection?.close();
    await p?.close();
  }, 120_000);

  const headers = async () => ({ authorization: `Bearer ${await p.token(['rte:eligibility:read'])}` });
  const refreshId = (memberId: string) => eligibilityRefreshWorkflowId(hashMemberId(p.config.cache.keySecret, memberId), DEFAULT_ELIGIBILITY_OPERATION);
  const devCodec = new EncryptionCodec(parseCodecKeys(DEV_CODEC_KEYS));
  /** The decoded start input of a workflow (read raw, decrypted here). */
  const startInput = async (workflowId: string): Promise<Record<string, unknown>> => {
    const history = await raw.workflow.getHandle(workflowId).fetchHistory();
    const started = history.events!.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!;
    const [input] = await devCodec.decode(started.workflowExecutionStartedEventAttributes!.input!.payloads!);
    return JSON.parse(Buffer.from(input!.data!).toString('utf8')) as Record<string, unknown>;
  };

  it('histories of a refresh and of a real-time batch hold no member id without the codec; the key (and an old key after rotation) decrypts them', async () => {
    const [m1, ...rest] = p.members;
    const batchMembers = rest.slice(0, 12).map((m) => m.memberId);
    const res = await p.eligibilityClient().checkEligibility({ memberId: m1!.memberId, cacheControl: CacheControl.BYPASS_CACHE }, { headers: await headers() });
    expect(res.coverage).toBeDefined();
    const refreshWf = refreshId(m1!.memberId);

    const c = await batchClient(p, 'svc-codec');
    const submitted = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('codec'),
        memberSelector: { case: 'memberIds', value: { memberIds: batchMembers } },
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY },
      }),
    );
    const end = await waitForBatchEnd(c, submitted.batchId, 120_000);
    expect(TERMINAL_STATUSES.has(end.status)).toBe(true);
    expect((end.progress?.completed ?? 0) + (end.progress?.failed ?? 0)).toBe(batchMembers.length);

    for (const [id, members] of [
      [refreshWf, [m1!.memberId]],
      [submitted.batchId, batchMembers],
    ] as const) {
      const text = await rawHistoryText(raw, id);
      expect(text).toContain('binary/encrypted');
      for (const m of members) expect(text).not.toContain(m);
    }

    // Decrypted, the batch's history still names no member: plans carry list indexes, refreshes the list reference.
    const batchText = await decodedHistoryText(raw, devCodec, submitted.batchId);
    expect(batchText).toContain('refreshEligibility');
    expect(memberIdsIn(batchText, batchMembers)).toEqual([]);

    // The operator's way (docs/temporal.md): the temporal CLI through the codec server. A batch's history holds the
    // batchAccepted update, which has no arguments: the CLI sends `{}` for it, which the codec server must answer.
    const codecServer = createCodecServer({ codec: devCodec, logger: silentLogger(), corsOrigins: [], verifyToken: undefined });
    await new Promise<void>((r) => codecServer.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(codecServer.address() as AddressInfo).port}`;
      const cli = (...args: string[]) =>
        execFileAsync(TEMPORAL_CLI, [...args, '--address', p.config.temporal.address, '--namespace', p.config.temporal.namespace, '--codec-endpoint', endpoint], { timeout: 60_000 });
      const shown = await cli('workflow', 'show', '--workflow-id', submitted.batchId, '--output', 'json');
      expect(shown.stdout).toContain('batchAccepted');
      expect(shown.stdout).not.toContain('binary/encrypted');
      // A query with no input (the CLI sends `{}` for its arguments too), decoded: the batch's own view.
      const queried = JSON.parse((await cli('workflow', 'query', '--workflow-id', submitted.batchId, '--type', 'batchStatus', '--output', 'json')).stdout) as { queryResult: Array<{ status: string; counters: { total: number } }> };
      expect(['COMPLETED', 'PARTIALLY_COMPLETED', 'FAILED']).toContain(queried.queryResult[0]!.status);
      expect(queried.queryResult[0]!.counters.total).toBe(batchMembers.length);
    } finally {
      await new Promise<void>((r) => codecServer.close(() => r()));
    }

    // An interactive refresh needs its member: there the id is really present, encrypted; its input decodes to it with the dev key...
    expect((await startInput(refreshWf))['memberId']).toBe(m1!.memberId);
    // ...and after rotation (a new first key, the old one kept) a client still reads the old run's result.
    const rotated = new Client({
      connection: rawConnection,
      namespace: p.config.temporal.namespace,
      dataConverter: { payloadCodecs: [new EncryptionCodec(parseCodecKeys(`k2:${randomBytes(32).toString('base64')},${DEV_CODEC_KEYS}`))] },
    });
    const result = await rotated.workflow.getHandle<() => Promise<EligibilityRefreshResult>>(refreshWf).result();
    expect(result).toBeDefined();
    // Without the key the result cannot be read at all.
    await expect(raw.workflow.getHandle(refreshWf).result()).rejects.toThrow();
  }, 300_000);

  it('20 concurrent real-time batches do not delay an interactive refresh start (own task queue and worker slots)', async () => {
    const refresh = async (memberId: string) => {
      await p.eligibilityClient().checkEligibility({ memberId, cacheControl: CacheControl.BYPASS_CACHE }, { headers: await headers() });
      return activityStartLatencyS(p.temporal, refreshId(memberId));
    };
    const pool = p.members.slice(100);
    const idle = await refresh(pool[0]!.memberId);

    const c = await batchClient(p, 'svc-load');
    const batchIds: string[] = [];
    const loadedMember = pool[1]!.memberId;
    const controlMember = pool[2]!.memberId;
    const controlId = `control/${uniqueName('refresh')}`;
    let busySlots = 0;
    let stillRunning: string[] = [];
    let loadedCall: Promise<unknown> = Promise.resolve();
    // Stedi's answers are held while the load is measured: the 15 checks holding Stedi's slots stay in flight, so every
    // other batch check parks on the main worker (waiting for a slot) however slowly the 20 batches start. Without the
    // hold the batches' 400 checks drain at ~21/s, and on a loaded CI machine they were never all parked at once.
    simGate.hold();
    try {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const r = await c.submitBatch(
            create(SubmitBatchRequestSchema, {
              clientJobId: uniqueName(`load-${i}`),
              memberSelector: { case: 'memberIds', value: { memberIds: pool.slice(10 + i * 20, 30 + i * 20).map((m) => m.memberId) } },
              // Every member goes to Stedi whatever the cache holds (a member cached fresh is answered in planning and
              // parks no activity).
              cacheControl: CacheControl.BYPASS_CACHE,
              // Cap 14: one activity per member whatever BATCH_REALTIME_CHUNK_MEMBERS says (chunks, for full-width
              // batches only, run a batch's members in one or two activities and never fill the worker's slots).
              options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 14, retryConfig: { maxAttempts: 2, initialInterval: durationFromMs(200), maxInterval: durationFromMs(1_000), backoffMultiplier: 2 } },
            }),
          );
          batchIds.push(r.batchId);
        }),
      );
      // Wait until the batches fill the main worker's activity slots (each parks up to its cap, 14 activities).
      // Generous: on a loaded 2-core machine 20 batches take a while to be accepted and start dispatching.
      const deadline = Date.now() + 180_000;
      while (p.workers[0]!.worker.getStatus().numInFlightActivities < p.config.worker.activitySlots && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      busySlots = p.workers[0]!.worker.getStatus().numInFlightActivities;
      if (busySlots < p.config.worker.activitySlots) {
        // Diagnostics for a run that never saturated the worker: what the batches were doing.
        const views = await Promise.all(batchIds.map(async (id) => c.getBatchStatus({ batchId: id }).then((v) => `${BatchStatus[v.status]} ${v.progress?.completed ?? 0}/${v.progress?.totalMembers ?? 0}`, (e: unknown) => `error ${String(e)}`)));
        console.log(`worker not saturated (${busySlots} busy): batches: ${views.join(' | ')}`);
      }

      // Under that load: an interactive refresh (its own task queue and worker), and as a control the same refresh
      // started on the MAIN task queue (where everything ran before), which waits behind the batches.
      loadedCall = p.eligibilityClient().checkEligibility({ memberId: loadedMember, cacheControl: CacheControl.BYPASS_CACHE }, { headers: await headers() }).catch(() => undefined);
      await p.temporal.workflow.start(ELIGIBILITY_REFRESH_WORKFLOW_TYPE, {
        taskQueue: p.config.temporal.taskQueue,
        workflowId: controlId,
        args: [{ ...(await startInput(refreshId(pool[0]!.memberId))), memberId: controlMember }],
      });
      // The interactive refresh's activity starts while the load holds (its Stedi call then waits for the release).
      await waitFor('the interactive refresh to start its activity under load', () => activityRunning(p.temporal, refreshId(loadedMember)), 120_000, 100);
      stillRunning = await Promise.all(batchIds.map(async (id) => (await p.temporal.workflow.getHandle(id).describe()).status.name));
    } finally {
      simGate.release();
    }
    await loadedCall;
    await p.temporal.workflow.getHandle(refreshId(loadedMember)).result();
    const loaded = await activityStartLatencyS(p.temporal, refreshId(loadedMember));
    await p.temporal.workflow.getHandle(controlId).result();
    const control = await activityStartLatencyS(p.temporal, controlId);

    console.log(
      `interactive refresh start latency: idle ${idle.toFixed(3)} s; with 20 real-time batches ${loaded.toFixed(3)} s ` +
        `(main worker ${busySlots}/${p.config.worker.activitySlots} activity slots busy); ` +
        `same refresh on the main queue under that load ${control.toFixed(3)} s`,
    );
    expect(busySlots).toBe(p.config.worker.activitySlots);
    expect(stillRunning.filter((s) => s === 'RUNNING').length).toBeGreaterThan(0);
    expect(loaded).toBeLessThan(control);

    await Promise.all(batchIds.map((id) => p.temporal.workflow.getHandle(id).terminate('test done').catch(() => undefined)));
  }, 600_000);

  it('decrypted histories of warming jobs (real-time and Stedi batch-API children) hold no member id', async () => {
    const token = await p.token(['rte:warming:write', 'rte:warming:read'], 'svc-warm-refs');
    const warming = createClient(CacheWarmingService, createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1' }));
    const members = p.members.slice(40, 52).map((m) => m.memberId);
    // The previous test terminates 20 batches whose checks still hold slot-pool leases for a while. The PRELOAD job's
    // child batch reads Stedi's load from that pool and would (rightly) defer itself 30-60 min under it: start on an
    // idle pool.
    await waitFor(
      'the slot pool to drain',
      async () => {
        const st = await p.workers[0]!.slotPool.stats();
        return st.batchInUse + st.interactiveInUse === 0 && Object.values(st.waiting).every((n) => n === 0);
      },
      180_000,
      500,
    );
    // FORCE URGENT warms in real time; INTELLIGENT PRELOAD sends cache misses to the Stedi batch API.
    const jobs = [
      { ids: members.slice(0, 6), strategy: WarmingStrategy.FORCE, priority: WarmPriority.URGENT },
      { ids: members.slice(6), strategy: WarmingStrategy.INTELLIGENT, priority: WarmPriority.PRELOAD },
    ];
    for (const j of jobs) {
      const res = await warming.warmCache({ memberIds: j.ids, strategy: j.strategy, priority: j.priority, source: 'it-refs' }, { headers: { authorization: `Bearer ${token}` } });
      const view = (await p.temporal.workflow.getHandle(res.warmingJobId).result()) as WarmingStatusView;
      expect(['COMPLETED', 'PARTIALLY_COMPLETED']).toContain(view.status);
      const text = await decodedHistoryText(raw, devCodec, res.warmingJobId);
      expect(text).toContain(j.priority === WarmPriority.URGENT ? 'refreshEligibility' : 'submitStediChunk'); // the children's histories were read
      expect(memberIdsIn(text, members)).toEqual([]);
    }
  }, 480_000);
});
