import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { WorkflowNotFoundError } from '@temporalio/client';
import { simCounts, waitFor, type BatchClient } from '../../bench/batch-harness';
import {
  BatchEligibilityService,
  BatchEventType,
  BatchExecutionOptions_Strategy as Strategy,
  BatchStatus,
  type BatchStatusUpdate,
  type SubmitBatchRequestSchema,
} from '../../gen/rte/v1/batch_pb';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { silentLogger } from '../../lib/logger';
import type { MemberRecord } from '../../lib/member-record';
import { isConnectivityCode, verdictFor } from '../../stedi-sim/answers';
import { batchWorkflowId } from '../../workflows/batch.defs';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * SubmitBatchStreaming (issue 16) on the real platform (test/helpers/platform.ts: Temporal dev server, a worker built
 * by the production composition root, Redis, PostgreSQL, the real API on Connect, gRPC and gRPC-Web, the Stedi
 * simulator at 13.5 s × 0.01 per check). One call submits and streams WatchBatchStatus's updates; a dropped stream
 * leaves the batch running and WatchBatchStatus (or the same request again) picks it up; refusals are SubmitBatch's.
 */

type Req = MessageInitShape<typeof SubmitBatchRequestSchema>;
const TERMINAL = new Set([BatchEventType.EVENT_TYPE_COMPLETED, BatchEventType.EVENT_TYPE_FAILED]);
const fastRetry = { maxAttempts: 3, initialInterval: durationFromMs(200), maxInterval: durationFromMs(1_000), backoffMultiplier: 2 };

/** Members the simulator answers on the first try (no payer connectivity codes). */
const answerable = (members: MemberRecord[]) => members.filter((m) => !isConnectivityCode(verdictFor(`${m.payerId}|${m.payerMemberId}`).aaaCode));

describe('SubmitBatchStreaming on the real platform (integration)', () => {
  let p: TestPlatform;
  let ids: string[];
  let nextMember = 0;
  /** Distinct members per batch, so no batch is answered from another's cache entries. */
  const take = (n: number) => ids.slice(nextMember, (nextMember += n));

  beforeAll(async () => {
    p = await startTestPlatform({ population: 300, sim: { logger: silentLogger() } });
    ids = answerable(p.members).map((m) => m.memberId);
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  async function client(service: string, protocol: 'connect' | 'grpc' | 'grpc-web', scopes = ['rte:batch:submit', 'rte:batch:read']): Promise<BatchClient> {
    const token = await p.token(scopes, service);
    const auth: Interceptor = (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const transports: Record<typeof protocol, () => Transport> = {
      connect: () => createConnectTransport({ baseUrl: p.apiUrl, httpVersion: '1.1', interceptors: [auth] }),
      grpc: () => createGrpcTransport({ baseUrl: p.apiUrl, interceptors: [auth] }),
      'grpc-web': () => createGrpcWebTransport({ baseUrl: p.apiUrl, httpVersion: '1.1', interceptors: [auth] }),
    };
    return createClient(BatchEligibilityService, transports[protocol]());
  }

  /** Reads a stream to its end: every update, and when the first one arrived (ms after the call). */
  async function drain(stream: AsyncIterable<BatchStatusUpdate>): Promise<{ updates: BatchStatusUpdate[]; firstMs: number }> {
    const t0 = Date.now();
    let firstMs = -1;
    const updates: BatchStatusUpdate[] = [];
    for await (const u of stream) {
      if (firstMs < 0) firstMs = Date.now() - t0;
      updates.push(u);
    }
    return { updates, firstMs };
  }

  async function refusal(stream: AsyncIterable<BatchStatusUpdate>): Promise<{ err: ConnectError; ms: number; updates: number }> {
    const t0 = Date.now();
    let updates = 0;
    try {
      for await (const _ of stream) updates++;
    } catch (e) {
      return { err: ConnectError.from(e), ms: Date.now() - t0, updates };
    }
    throw new Error(`expected a refusal, the stream ended normally after ${updates} updates`);
  }

  const notStarted = async (batchId: string) => {
    const err = await p.temporal.workflow.getHandle(batchId).describe().then(() => undefined, (e: unknown) => e);
    return err instanceof WorkflowNotFoundError;
  };

  function expectWholeStream(updates: BatchStatusUpdate[], batchId: string, total: number) {
    expect(updates.every((u) => u.batchId === batchId)).toBe(true);
    const real = updates.filter((u) => u.update.case !== undefined);
    expect(real[0]?.eventType).toBe(BatchEventType.EVENT_TYPE_STARTED);
    expect(real[0]?.update.case === 'started' && real[0].update.value.totalMembers).toBe(total);
    const done = real.flatMap((u) => (u.update.case === 'progress' ? [u.update.value.completed + u.update.value.failed] : []));
    expect([...done].sort((a, b) => a - b)).toEqual(done); // never goes backwards
    const last = updates[updates.length - 1]!;
    expect(TERMINAL.has(last.eventType)).toBe(true);
    expect(updates.filter((u) => TERMINAL.has(u.eventType))).toHaveLength(1);
    return last;
  }

  it('Connect: one call submits, the first update carries the batch id at once, progress follows to COMPLETED with every member accounted for', async () => {
    const service = 'svc-stream';
    const c = await client(service, 'connect');
    const jobId = uniqueName('stream');
    const memberIds = take(30);
    const before = simCounts(p.sim);
    const { updates, firstMs } = await drain(
      c.submitBatchStreaming({ clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds } }, options: { strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 3, retryConfig: fastRetry } }),
    );
    const batchId = batchWorkflowId(service, jobId);
    expect(updates[0]!.batchId).toBe(batchId);
    // At acceptance (SubmitBatch's own bound is 15 s on a busy machine), not at the end or the first 30 s keepalive.
    expect(firstMs).toBeLessThan(15_000);
    const last = expectWholeStream(updates, batchId, 30);
    expect(updates.filter((u) => u.update.case === 'progress').length).toBeGreaterThan(1);
    if (last.update.case !== 'completed') throw new Error(`stream ended with ${last.update.case}`);
    expect(last.update.value.finalProgress!.completed + last.update.value.finalProgress!.failed).toBe(30);
    // The stream's end is the batch's: GetBatchStatus agrees, and Stedi saw each member once.
    const st = await c.getBatchStatus({ batchId });
    expect(st.status).toBe(last.update.value.status);
    expect(st.progress).toMatchObject({ totalMembers: 30, pending: 0, completed: last.update.value.finalProgress!.completed });
    expect(simCounts(p.sim).realtimeCalls - before.realtimeCalls).toBe(30);
  });

  it.each(['grpc', 'grpc-web'] as const)('%s: the same stream, from the batch id to the terminal update', async (protocol) => {
    const service = `svc-${protocol}`;
    const c = await client(service, protocol);
    const jobId = uniqueName(protocol);
    const { updates } = await drain(c.submitBatchStreaming({ clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds: take(4) } }, options: { strategy: Strategy.REALTIME_ONLY, retryConfig: fastRetry } }));
    const last = expectWholeStream(updates, batchWorkflowId(service, jobId), 4);
    expect(last.update.case).toBe('completed');
  });

  it('a dropped stream leaves the batch running; WatchBatchStatus resumes it to the end; a retry with the same client_job_id attaches to it and starts nothing', async () => {
    const service = 'svc-drop';
    const c = await client(service, 'connect');
    const req: Req = {
      clientJobId: uniqueName('drop'),
      memberSelector: { case: 'memberIds', value: { memberIds: take(24) } },
      cacheControl: CacheControl.BYPASS_CACHE,
      options: { strategy: Strategy.REALTIME_ONLY, maxConcurrentRequests: 1, retryConfig: fastRetry },
    };
    const batchId = batchWorkflowId(service, req.clientJobId!);
    const before = simCounts(p.sim);
    // The client goes away after the first update (Ctrl-C, a network drop).
    const drop = new AbortController();
    let seen = 0;
    await expect(
      (async () => {
        for await (const u of c.submitBatchStreaming(req, { signal: drop.signal })) {
          expect(u.batchId).toBe(batchId);
          if (++seen === 1) drop.abort();
        }
      })(),
    ).rejects.toThrow();
    expect(seen).toBe(1);
    const { runId } = await p.temporal.workflow.getHandle(batchId).describe();
    const doneNow = async () => {
      const pr = (await c.getBatchStatus({ batchId })).progress!;
      return pr.completed + pr.failed;
    };
    const atDrop = await doneNow();
    await waitFor('the batch to go on without its stream', async () => (await doneNow()) >= atDrop + 2, 30_000, 200);
    expect((await c.getBatchStatus({ batchId })).status).toBe(BatchStatus.RUNNING);

    // A retry of the same request (the client reconnecting) attaches: same batch, same run, STARTED first.
    const retry = new AbortController();
    const again: BatchStatusUpdate[] = [];
    await (async () => {
      for await (const u of c.submitBatchStreaming(req, { signal: retry.signal })) {
        again.push(u);
        retry.abort();
      }
    })().catch(() => undefined);
    expect(again[0]).toMatchObject({ batchId, eventType: BatchEventType.EVENT_TYPE_STARTED });

    // WatchBatchStatus resumes the stream to the terminal update.
    const { updates } = await drain(c.watchBatchStatus({ batchId }));
    const last = expectWholeStream(updates, batchId, 24);
    if (last.update.case !== 'completed') throw new Error(`stream ended with ${last.update.case}`);
    expect(last.update.value.finalProgress!.completed + last.update.value.finalProgress!.failed).toBe(24);
    expect((await p.temporal.workflow.getHandle(batchId).describe()).runId).toBe(runId);
    // One batch: BYPASS_CACHE, each of the 24 members checked once by Stedi (no second batch re-checked them).
    expect(simCounts(p.sim).realtimeCalls - before.realtimeCalls).toBe(24);
    expect((await c.getBatchStatus({ batchId })).progress).toMatchObject({ totalMembers: 24, pending: 0 });
  });

  it('refused at once with the field (SubmitBatch validation), or permission_denied without rte:batch:submit: no update, no workflow', async () => {
    const service = 'svc-refused';
    const c = await client(service, 'connect');
    const base = { memberSelector: { case: 'memberIds' as const, value: { memberIds: take(2) } } };
    const cases: Array<{ req: Req; field: string }> = [
      { req: { ...base, clientJobId: uniqueName('bad'), options: { maxConcurrentRequests: 16 } }, field: 'options.max_concurrent_requests' },
      { req: { ...base, clientJobId: uniqueName('bad'), options: { callbackUrl: 'https://evil.example/hook' } }, field: 'options.callback_url' },
      { req: { clientJobId: uniqueName('bad'), memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm 2'] } } }, field: 'member_ids.member_ids[1]' },
    ];
    for (const protocol of ['connect', 'grpc'] as const) {
      const pc = protocol === 'connect' ? c : await client(service, protocol);
      for (const { req, field } of cases) {
        const r = await refusal(pc.submitBatchStreaming(req));
        expect({ protocol, code: Code[r.err.code], updates: r.updates }).toEqual({ protocol, code: 'InvalidArgument', updates: 0 });
        expect(r.err.message).toContain(field);
        expect(r.ms).toBeLessThan(2_000);
        expect(await notStarted(batchWorkflowId(service, req.clientJobId!))).toBe(true);
      }
    }
    // A caller that may read batches but not submit them.
    const reader = await client(service, 'grpc-web', ['rte:batch:read']);
    const jobId = uniqueName('reader');
    const r = await refusal(reader.submitBatchStreaming({ ...base, clientJobId: jobId }));
    expect(Code[r.err.code]).toBe('PermissionDenied');
    expect(r.updates).toBe(0);
    expect(await notStarted(batchWorkflowId(service, jobId))).toBe(true);
    // The refused requests spent no rate-limit unit either: this service's limiter was never touched.
    expect((await p.redis.keys(`${p.config.redisKeyPrefix}*submit*${service}*`)).length).toBe(0);
  });
});
