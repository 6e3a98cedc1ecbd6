import { create, toJson } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { BatchEligibilityService, BatchEventType, BatchStatus, SubmitBatchRequestSchema, type BatchStatusUpdate } from '../../gen/rte/v1/batch_pb';
import { createInMemoryBatchErrorStore, createInMemoryBatchOutcomeStore, createInMemoryMemberListStore } from '../../activities/batch/memory-stores';
import { createInMemorySubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';
import { DEFAULT_SUBMIT_LIMITS } from '../../lib/batch/submit-validation';
import { mintDevToken } from '../../lib/dev-token';
import type { BatchStatusView } from '../../workflows/batch.defs';
import { MemberQuerySchema, type MemberQuery } from '../../gen/rte/v1/member_query_pb';
import { legacySubmitRequestHash, submitRequestHash } from '../../lib/batch/request-hash';
import { CacheControl, SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { FieldError } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import pino, { type Logger } from 'pino';
import { createAuthInterceptor, createTokenVerifier } from '../auth';
import { createObservabilityInterceptor } from '../interceptors';
import { CANCEL_WAIT_MS, createBatchService } from './batch-service';
import { BatchNotStartedError, CancelNotAppliedError } from './batch-temporal-port';
import type { WebhookDeliveriesView } from './batch-temporal-port';
import { fakeTemporal } from '../../test/helpers/fake-batch-temporal';

const secret = 'unit-test-secret';
const metrics = createMetrics('batch-service-test');

async function setup(opts: { rateLimit?: number; checkMemberQuery?: (q: MemberQuery) => Promise<void>; logger?: Logger } = {}) {
  const t = fakeTemporal();
  const lists = createInMemoryMemberListStore();
  const errors = createInMemoryBatchErrorStore();
  const outcomes = createInMemoryBatchOutcomeStore();
  let now = 1_700_000_000_000;
  const service = createBatchService({
    temporal: t.port,
    lists,
    errors,
    outcomes,
    rateLimiter: createInMemorySubmitRateLimiter({ limit: opts.rateLimit ?? 10, windowMs: 3_600_000 }),
    taskQueue: 'rte-main',
    limits: { ...DEFAULT_SUBMIT_LIMITS, webhook: { allowedHosts: ['hooks.example.com'], allowHttp: false } },
    now: () => now,
    watch: { pollIntervalMs: 5, keepaliveMs: 20 },
    ...(opts.checkMemberQuery ? { checkMemberQuery: opts.checkMemberQuery } : {}),
  });
  const transport = createRouterTransport((router) => router.service(BatchEligibilityService, service), {
    router: { interceptors: [createObservabilityInterceptor(opts.logger ?? silentLogger(), metrics), createAuthInterceptor(createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }))] },
  });
  const client = createClient(BatchEligibilityService, transport);
  const as = async (service: string, scopes: string[]) => ({ headers: { authorization: `Bearer ${await mintDevToken({ service, scopes, secret })}` } });
  const all = ['rte:batch:submit', 'rte:batch:read', 'rte:batch:cancel'];
  return { t, lists, errors, outcomes, client, as, all, advance: (ms: number) => (now += ms) };
}

const submit = (jobId: string, ids: string[] = ['m_1', 'm_2', 'm_3'], extra: Record<string, unknown> = {}) =>
  create(SubmitBatchRequestSchema, { clientJobId: jobId, memberSelector: { case: 'memberIds', value: { memberIds: ids } }, ...extra } as never);

async function errorOf(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('expected an error');
}

describe('BatchEligibilityService', () => {
  test('SubmitBatch starts one workflow per client job and answers with batch id, total, resolved options', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const r = await s.client.submitBatch(submit('job-1', ['m_1', 'm_2', 'm_2', 'm_3']), opts);
    expect(r.batchId).toBe('batch/svc-a/job-1');
    expect(r.totalMembers).toBe(3);
    expect(r.resolvedOptions?.maxConcurrentRequests).toBe(15);
    expect(r.resolvedOptions?.timeout?.seconds).toBe(28_800n);
    expect(s.t.started).toHaveLength(1);
    const input = s.t.started[0]!;
    expect(input.selector).toMatchObject({ kind: 'list', total: 3 });
    // Ids are staged outside Temporal; the workflow input only references them.
    expect(JSON.stringify(input)).not.toContain('m_1');
    expect(await s.lists.read((input.selector as { listRef: string }).listRef, 0, 10)).toEqual(['m_1', 'm_2', 'm_3']);

    const again = await s.client.submitBatch(submit('job-1'), opts);
    expect(again.batchId).toBe(r.batchId);
    expect(s.t.started).toHaveLength(1);
  });

  test('SubmitBatch of a member_query still resolving at the 15 s bound: PENDING, total_known false, resolved so far, no estimate (probe batch #12)', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    // The workflow's batchAccepted update answered at its bound with 120 members resolved so far.
    const accept = s.t.port.startAndAccept.bind(s.t.port);
    s.t.port.startAndAccept = async (input, taskQueue) => {
      const r = await accept(input, taskQueue);
      return { ...r, view: { ...r.view!, phase: 'RESOLVING', totalKnown: false, counters: { ...r.view!.counters, total: 120 }, pending: 120 } };
    };
    const req = create(SubmitBatchRequestSchema, { clientJobId: 'job-q', memberSelector: { case: 'memberQuery', value: { limit: 500 } } } as never);
    const r = await s.client.submitBatch(req, opts);
    expect(r.status).toBe(BatchStatus.PENDING);
    expect(r.totalKnown).toBe(false);
    expect(r.totalMembers).toBe(120);
    expect(r.estimatedCompletion).toBeUndefined();
    expect(r.statusDetail).toBe('resolving member query · 120 members so far');
    // A member_ids batch knows its total: an estimate, and total_known true.
    s.t.port.startAndAccept = accept;
    const ids = await s.client.submitBatch(submit('job-ids'), opts);
    expect(ids.totalKnown).toBe(true);
    expect(ids.status).toBe(BatchStatus.PENDING);
    expect(ids.estimatedCompletion).toBeDefined();
  });

  test('SubmitBatch whose batch does not answer by the bound (no worker took its workflow task): PENDING with the batch id, the members it was given, no estimate, and why (probe p15)', async () => {
    const s = await setup({ rateLimit: 2 });
    const opts = await s.as('svc-a', s.all);
    const accept = s.t.port.startAndAccept.bind(s.t.port);
    const bounds: Array<number | undefined> = [];
    // As the Temporal adapter does when its wait ran out and describe found the workflow: no view.
    s.t.port.startAndAccept = async (input, taskQueue, acceptBy) => {
      bounds.push(acceptBy);
      const { view: _, ...r } = await accept(input, taskQueue);
      return { ...r, submittedAtMs: input.submittedAtMs };
    };
    const before = Date.now();
    const r = await s.client.submitBatch(submit('job-busy'), opts);
    expect(r.batchId).toBe('batch/svc-a/job-busy');
    expect(r.status).toBe(BatchStatus.PENDING);
    expect(r.totalKnown).toBe(true);
    expect(r.totalMembers).toBe(3);
    expect(r.estimatedCompletion).toBeUndefined();
    expect(r.resolvedOptions?.maxConcurrentRequests).toBe(15);
    expect(r.statusDetail).toBe('accepted · 3 members · waiting for a worker to start it (the platform is busy): follow it with WatchBatchStatus or GetBatchStatus');
    // The port is told to stop waiting 16 s after the call arrived.
    expect(bounds[0]).toBeGreaterThanOrEqual(before + 16_000);
    expect(bounds[0]).toBeLessThanOrEqual(Date.now() + 16_000);
    // A member_query not yet resolved: the total is not known.
    const q = await s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'job-busy-q', memberSelector: { case: 'memberQuery', value: { limit: 50 } } } as never), opts);
    expect(q.status).toBe(BatchStatus.PENDING);
    expect(q.totalKnown).toBe(false);
    expect(q.totalMembers).toBe(0);
    expect(q.statusDetail).toContain('accepted · member query not yet resolved · waiting for a worker');
    // Both started here: both spent their unit (limit 2).
    expect((await errorOf(s.client.submitBatch(submit('job-3'), opts))).code).toBe(Code.ResourceExhausted);
  });

  test('SubmitBatch whose start did not happen by the bound is unavailable with retry-after, its rate unit given back; the retry starts the batch', async () => {
    const s = await setup({ rateLimit: 1 });
    const opts = await s.as('svc-a', s.all);
    const accept = s.t.port.startAndAccept.bind(s.t.port);
    s.t.port.startAndAccept = async (input) => {
      throw new BatchNotStartedError(input.batchId);
    };
    const e = await errorOf(s.client.submitBatch(submit('job-1'), opts));
    expect(e.code).toBe(Code.Unavailable);
    expect(e.metadata.get('retry-after')).toBe('5');
    expect(e.message).toContain('retry after 5 s with the same client_job_id');
    expect(s.t.started).toHaveLength(0);
    // The unit came back: the retry (limit 1) is not refused, and starts the batch.
    s.t.port.startAndAccept = accept;
    const r = await s.client.submitBatch(submit('job-1'), opts);
    expect(r.batchId).toBe('batch/svc-a/job-1');
    expect(s.t.started).toHaveLength(1);
  });

  test('a repeat SubmitBatch whose batch does not answer by the bound answers the batch\'s status (it may be running), never a PENDING made up', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const first = await s.client.submitBatch(submit('job-run'), opts);
    const v = s.t.views.get(first.batchId)!;
    s.t.views.set(first.batchId, { ...v, status: 'RUNNING', phase: 'RUNNING', counters: { ...v.counters, completed: 2 }, pending: 1, startedAtMs: v.submittedAtMs });
    const bounds: Array<number | undefined> = [];
    s.t.port.accepted = async (_id, acceptBy) => {
      bounds.push(acceptBy);
      return undefined;
    };
    const before = Date.now();
    const again = await s.client.submitBatch(submit('job-run'), opts);
    expect(again.batchId).toBe(first.batchId);
    expect(again.status).toBe(BatchStatus.RUNNING);
    expect(again.totalMembers).toBe(3);
    expect(bounds[0]).toBeGreaterThanOrEqual(before + 12_000);
    expect(bounds[0]).toBeLessThanOrEqual(Date.now() + 12_000);
    // A last-known status (the fallback's) says so in its detail.
    s.t.port.status = async () => ({ ...s.t.views.get(first.batchId)!, lastKnownAsOfMs: 1 }) as BatchStatusView;
    expect((await s.client.submitBatch(submit('job-run'), opts)).statusDetail).toContain('last known state (the batch did not answer in time');
  });

  test('validation errors are invalid_argument naming the field', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const e = await errorOf(s.client.submitBatch(submit('job-2', ['m_1'], { options: { maxConcurrentRequests: 40 } }), opts));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toMatch(/^options\.max_concurrent_requests: /);
    const e2 = await errorOf(s.client.submitBatch(submit('job-3', ['m_1'], { options: { callbackUrl: 'https://10.0.0.1/x' } }), opts));
    expect(e2.rawMessage).toMatch(/^options\.callback_url: /);
  });

  test('acting for another service needs rte:admin', async () => {
    const s = await setup();
    const e = await errorOf(s.client.submitBatch(submit('job-1', ['m_1'], { clientServiceName: 'svc-b' }), await s.as('svc-a', s.all)));
    expect(e.code).toBe(Code.PermissionDenied);
    const r = await s.client.submitBatch(submit('job-1', ['m_1'], { clientServiceName: 'svc-b' }), await s.as('ops', ['rte:admin']));
    expect(r.batchId).toBe('batch/svc-b/job-1');
  });

  test('the 11th submission in an hour is resource_exhausted with retry info; resubmits do not count', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    for (let i = 0; i < 10; i++) await s.client.submitBatch(submit(`job-${i}`), opts);
    await s.client.submitBatch(submit('job-0'), opts); // idempotent resubmit: allowed, not counted
    const e = await errorOf(s.client.submitBatch(submit('job-10'), opts));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(Number(e.metadata.get('retry-after'))).toBeGreaterThan(0);
    // Another service has its own budget; a new window resets it.
    await s.client.submitBatch(submit('job-10'), await s.as('svc-b', s.all));
    s.advance(3_600_000);
    expect((await s.client.submitBatch(submit('job-10'), opts)).batchId).toBe('batch/svc-a/job-10');
  });

  test('GetBatchStatus: progress, and errors paged even when every member failed; other services see not_found', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const ids = Array.from({ length: 250 }, (_, i) => `m_${i}`);
    const { batchId } = await s.client.submitBatch(submit('job-all-fail', ids), opts);
    const v = s.t.views.get(batchId)!;
    s.t.views.set(batchId, { ...v, status: 'FAILED', counters: { ...v.counters, failed: 250 }, totalErrors: 250, startedAtMs: 1_000, finishedAtMs: 9_000 });
    await s.errors.record(batchId, ids.map((memberId, i) => ({ memberIndex: i, memberId, errorCode: 'AAA_75', errorMessage: 'subscriber not found', occurredAtMs: 2_000 })));
    const pages: string[][] = [];
    let token = '';
    for (;;) {
      const r = await s.client.getBatchStatus({ batchId, errorsPageSize: 100, errorsPageToken: token }, opts);
      expect(r.status).toBe(BatchStatus.FAILED);
      expect(r.progress?.failed).toBe(250);
      expect(r.totalErrors).toBe(250);
      pages.push(r.errors.map((e) => e.memberId));
      if (!r.nextErrorsPageToken) break;
      token = r.nextErrorsPageToken;
    }
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(new Set(pages.flat()).size).toBe(250);
    expect((await errorOf(s.client.getBatchStatus({ batchId }, await s.as('svc-b', s.all)))).code).toBe(Code.NotFound);
    expect((await errorOf(s.client.getBatchStatus({ batchId: 'nope' }, opts))).code).toBe(Code.InvalidArgument);
    expect((await errorOf(s.client.getBatchStatus({ batchId: 'batch/svc-a/unknown' }, opts))).code).toBe(Code.NotFound);
  });

  test('a batch id whose parts SubmitBatch could never have made is invalid_argument naming batch_id on every batch-id RPC, not not_found (probe p16 #11e)', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const ok = 'x'.repeat(128);
    const bad = [`batch/svc-a/${'x'.repeat(129)}`, `batch/svc-a/${'x'.repeat(300)}`, 'batch/svc-a/job id', 'batch/svc a/job', `batch/${'s'.repeat(129)}/job`];
    for (const batchId of bad) {
      for (const call of [
        () => s.client.getBatchStatus({ batchId }, opts),
        () => s.client.cancelBatch({ batchId }, opts),
        () => s.client.pauseBatch({ batchId }, opts),
        () => s.client.resumeBatch({ batchId }, opts),
        async () => {
          for await (const _ of s.client.watchBatchStatus({ batchId }, opts)) break;
        },
      ]) {
        const err = await errorOf(call());
        expect([batchId, err.code, err.rawMessage.split(':')[0]]).toEqual([batchId, Code.InvalidArgument, 'batch_id']);
      }
    }
    // The longest job part SubmitBatch accepts is still a well-formed id (unknown here: not_found).
    expect((await errorOf(s.client.getBatchStatus({ batchId: `batch/svc-a/${ok}` }, opts))).code).toBe(Code.NotFound);
  });

  test('ListBatches queries visibility for the caller (admins: anyone), with status/time filters and page tokens', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    for (let i = 0; i < 3; i++) await s.client.submitBatch(submit(`job-${i}`), opts);
    const filter = { statuses: [BatchStatus.RUNNING, BatchStatus.PENDING], submittedAfter: timestampFromMs(0), pageSize: 2 };
    const p1 = await s.client.listBatches(filter, opts);
    expect(p1.batches).toHaveLength(2);
    expect(p1.nextPageToken).not.toBe('');
    // A page token is bound to the query it was issued for: with another filter it is refused, not misread.
    const foreign = await errorOf(s.client.listBatches({ pageSize: 2, pageToken: p1.nextPageToken }, opts));
    expect(foreign.code).toBe(Code.InvalidArgument);
    expect(foreign.message).toContain('page_token');
    const p2 = await s.client.listBatches({ ...filter, pageToken: p1.nextPageToken }, opts);
    expect(p2.batches).toHaveLength(1);
    expect(s.t.queries[0]).toBe(
      "WorkflowType = 'batchWorkflow' AND ExecutionStatus != 'ContinuedAsNew' AND RteClientService = 'svc-a' AND ((RteBatchStatus IN ('RUNNING', 'PENDING') AND ExecutionStatus = 'Running')) AND StartTime >= '1970-01-01T00:00:00.000Z'",
    );
    // A workflow terminated by an operator keeps its last RteBatchStatus (RUNNING): a FAILED filter finds it, an open one does not.
    await s.client.listBatches({ statuses: [BatchStatus.FAILED, BatchStatus.CANCELLED] }, opts);
    expect(s.t.queries.at(-1)).toBe(
      "WorkflowType = 'batchWorkflow' AND ExecutionStatus != 'ContinuedAsNew' AND RteClientService = 'svc-a' AND (RteBatchStatus IN ('FAILED', 'CANCELLED') OR ExecutionStatus IN ('Terminated', 'TimedOut', 'Failed', 'Canceled'))",
    );
    await s.client.listBatches({}, await s.as('ops', ['rte:admin']));
    expect(s.t.queries.at(-1)).toBe("WorkflowType = 'batchWorkflow' AND ExecutionStatus != 'ContinuedAsNew'");
    expect((await errorOf(s.client.listBatches({ clientServiceName: 'svc-b' }, opts))).code).toBe(Code.PermissionDenied);
    // A malformed name is the argument's fault, for anyone: invalid_argument naming it, not permission_denied.
    const malformed = await errorOf(s.client.listBatches({ clientServiceName: 'svc b/x' }, opts));
    expect(malformed.code).toBe(Code.InvalidArgument);
    expect(malformed.message).toContain('client_service_name');
  });

  test('ListBatches refuses out-of-range timestamps and an empty or inverted range with the field, before any query', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ submittedAfter: { seconds: 1_000_000_000_000_000n, nanos: 0 } }, 'submitted_after'],
      [{ submittedBefore: { seconds: -1_000_000_000_000n, nanos: 0 } }, 'submitted_before'],
      [{ submittedAfter: { seconds: 1n, nanos: -5 } }, 'submitted_after'],
      [{ submittedAfter: timestampFromMs(Date.UTC(2027, 0, 1)), submittedBefore: timestampFromMs(Date.UTC(2026, 0, 1)) }, 'submitted_before'],
      [{ submittedAfter: timestampFromMs(Date.UTC(2026, 0, 1)), submittedBefore: timestampFromMs(Date.UTC(2026, 0, 1)) }, 'submitted_before'],
    ];
    for (const [req, field] of cases) {
      const err = await errorOf(s.client.listBatches(req as never, opts));
      expect([err.code, err.rawMessage.split(':')[0]]).toEqual([Code.InvalidArgument, field]);
    }
    expect(s.t.queries).toEqual([]);
    // The edges of the range are fine.
    await s.client.listBatches({ submittedAfter: { seconds: -62_135_596_800n, nanos: 0 }, submittedBefore: { seconds: 253_402_300_799n, nanos: 999_999_999 } }, opts);
    expect(s.t.queries[0]).toContain("StartTime >= '0001-01-01T00:00:00.000Z' AND StartTime < '9999-12-31T23:59:59.999Z'");
  });

  test('CancelBatch ends CANCELLED with counts', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-c'), opts);
    const v = s.t.views.get(batchId)!;
    s.t.views.set(batchId, { ...v, status: 'RUNNING', counters: { ...v.counters, completed: 1 } });
    const r = await s.client.cancelBatch({ batchId, reason: 'no longer needed' }, opts);
    expect(r).toMatchObject({ batchId, status: BatchStatus.CANCELLED, completed: 1, failed: 0, cancelled: 2 });
    // GetBatchStatus's progress carries the cancelled count too: completed + failed + cancelled + pending = total.
    const st = await s.client.getBatchStatus({ batchId }, opts);
    expect(st.progress).toMatchObject({ totalMembers: 3, completed: 1, failed: 0, cancelled: 2, pending: 0 });
  });

  test('CancelBatch of a batch that already finished another way reports its final state and no cancelled_at; a cancelled one keeps its cancel time (probe p18 F2)', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-done'), opts);
    const v = s.t.views.get(batchId)!;
    s.t.views.set(batchId, { ...v, status: 'COMPLETED', phase: 'DONE', startedAtMs: v.submittedAtMs, finishedAtMs: v.submittedAtMs + 5_000, pending: 0, counters: { ...v.counters, completed: 3 } });
    const done = await s.client.cancelBatch({ batchId, reason: 'too late' }, opts);
    expect(done).toMatchObject({ batchId, status: BatchStatus.COMPLETED, completed: 3, cancelled: 0 });
    expect(done.cancelledAt).toBeUndefined();
    const { batchId: other } = await s.client.submitBatch(submit('job-cancelled'), opts);
    const first = await s.client.cancelBatch({ batchId: other, reason: 'no longer needed' }, opts);
    expect(first.status).toBe(BatchStatus.CANCELLED);
    expect(first.cancelledAt).toBeDefined();
    // Cancelling it again: the same cancel time, when the cancellation took effect.
    expect((await s.client.cancelBatch({ batchId: other, reason: 'again' }, opts)).cancelledAt).toEqual(first.cancelledAt);
  });

  test('CancelBatch not applied within its bound (no worker ran the batch): deadline_exceeded "cancel requested, not yet applied", never CANCELLED; a retry is the same (probe p16 #9)', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-cancel-busy'), opts);
    const bounds: Array<number | undefined> = [];
    // As the Temporal adapter does when the update's wait ran out and the durable cancel signal went out.
    s.t.port.cancel = async (id, _reason, answerBy) => {
      bounds.push(answerBy);
      throw new CancelNotAppliedError(id);
    };
    for (let i = 0; i < 2; i++) {
      const before = Date.now();
      const err = await errorOf(s.client.cancelBatch({ batchId, reason: 'no longer needed' }, opts));
      expect(err.code).toBe(Code.DeadlineExceeded);
      expect(err.rawMessage).toMatch(/^cancel requested, not yet applied: batch batch\/svc-a\/job-cancel-busy has the cancel but did not apply it within 10 s/);
      expect(err.rawMessage).toContain('it was PENDING when asked');
      expect(err.rawMessage).toContain('retrying CancelBatch is safe');
      // The bound is the call's arrival plus 10 s (wall-clock: it becomes the update's gRPC deadline).
      expect(bounds[i]! - before).toBeGreaterThanOrEqual(CANCEL_WAIT_MS - 50);
      expect(bounds[i]! - Date.now()).toBeLessThanOrEqual(CANCEL_WAIT_MS);
    }
    expect((await s.client.getBatchStatus({ batchId }, opts)).status).toBe(BatchStatus.PENDING);
  });

  test('SubmitBatch with two different callback URLs is invalid_argument naming options.notifications.callback_url, with nothing started, staged or taken from the rate limit (probe p16 #10)', async () => {
    const s = await setup({ rateLimit: 1 });
    const opts = await s.as('svc-a', s.all);
    let writes = 0;
    const write = s.lists.write.bind(s.lists);
    s.lists.write = async (...a) => {
      writes++;
      return write(...a);
    };
    const urls = (a: string, b: string) => ({ options: { callbackUrl: a, notifications: { callbackUrl: b } } });
    for (let i = 0; i < 3; i++) {
      const err = await errorOf(s.client.submitBatch(submit(`job-2urls-${i}`, ['m_1'], urls('https://hooks.example.com/a', 'https://hooks.example.com/b')), opts));
      expect([err.code, err.rawMessage.split(':')[0]]).toEqual([Code.InvalidArgument, 'options.notifications.callback_url']);
    }
    expect(s.t.started).toHaveLength(0);
    expect(writes).toBe(0);
    // The one unit of the window is still there: the same URL twice is one callback, AT_LEAST_ONCE by default.
    const ok = await s.client.submitBatch(submit('job-1url', ['m_1'], urls('https://hooks.example.com/a', 'https://hooks.example.com/a')), opts);
    expect(ok.resolvedOptions?.notifications).toMatchObject({ callbackUrl: 'https://hooks.example.com/a', deliveryMode: 1 });
  });

  test('CancelBatch refuses a reason over 500 characters naming reason, and cancels nothing', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-long-reason'), opts);
    const err = await errorOf(s.client.cancelBatch({ batchId, reason: 'r'.repeat(501) }, opts));
    expect([err.code, err.rawMessage.split(':')[0]]).toEqual([Code.InvalidArgument, 'reason']);
    expect(s.t.views.get(batchId)!.status).toBe('PENDING');
    expect((await s.client.cancelBatch({ batchId, reason: 'r'.repeat(500) }, opts)).status).toBe(BatchStatus.CANCELLED);
  });

  test('a batch cancelled while PAUSED is finished, not paused: no paused_by, and ResumeBatch is failed_precondition', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-pc'), opts);
    s.t.views.set(batchId, { ...s.t.views.get(batchId)!, status: 'RUNNING' });
    await s.client.pauseBatch({ batchId }, opts);
    await s.client.cancelBatch({ batchId, reason: 'done' }, opts);
    // The final view keeps the workflow's paused flag (as the real batch's does).
    expect(s.t.views.get(batchId)).toMatchObject({ status: 'CANCELLED', paused: true, pausedBy: 'svc-a' });
    const st = await s.client.getBatchStatus({ batchId }, opts);
    expect([st.status, st.pausedBy]).toEqual([BatchStatus.CANCELLED, '']);
    const err = await errorOf(s.client.resumeBatch({ batchId }, opts));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(/is CANCELLED, not PAUSED/);
  });

  test('GetBatchStatus shows a callback batch its webhook deliveries; unreadable visibility leaves them unset, never zeros', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const asked: string[] = [];
    let answer: () => Promise<WebhookDeliveriesView> = async () => ({ delivered: 1, pending: 0, failed: 1, lastFailure: { message: 'webhook gone after 1 attempt(s) (last HTTP 410)', atMs: 1_700_000_001_000 } });
    s.t.port.webhookDeliveries = async (batchId) => {
      asked.push(batchId);
      return answer();
    };
    const hooked = await s.client.submitBatch(submit('job-wh', ['m_1'], { options: { callbackUrl: 'https://hooks.example.com/h' } }), opts);
    const st = await s.client.getBatchStatus({ batchId: hooked.batchId }, opts);
    expect(st.webhookDeliveries).toMatchObject({ delivered: 1, pending: 0, failed: 1, lastFailure: 'webhook gone after 1 attempt(s) (last HTTP 410)' });
    expect(st.webhookDeliveries?.lastFailureAt?.seconds).toBe(1_700_000_001n);
    // A delivery still retrying says why its last attempt failed and when it tries again.
    answer = async () => ({ delivered: 0, pending: 2, failed: 0, retrying: 1, lastAttempt: { error: 'HTTP 500', atMs: 1_700_000_002_000, nextAtMs: 1_700_000_302_000 } });
    const retrying = await s.client.getBatchStatus({ batchId: hooked.batchId }, opts);
    expect(retrying.webhookDeliveries).toMatchObject({ pending: 2, retrying: 1, lastAttemptError: 'HTTP 500', lastFailure: '' });
    expect(retrying.webhookDeliveries?.lastAttemptAt?.seconds).toBe(1_700_000_002n);
    expect(retrying.webhookDeliveries?.nextAttemptAt?.seconds).toBe(1_700_000_302n);
    answer = async () => {
      throw new Error('visibility unavailable');
    };
    const unreadable = await s.client.getBatchStatus({ batchId: hooked.batchId }, opts);
    expect(unreadable.webhookDeliveries).toBeUndefined();
    expect(unreadable.batchId).toBe(hooked.batchId);
    // A batch without a callback_url has no deliveries to count: visibility is not asked.
    const plain = await s.client.submitBatch(submit('job-plain', ['m_1']), opts);
    expect((await s.client.getBatchStatus({ batchId: plain.batchId }, opts)).webhookDeliveries).toBeUndefined();
    expect(asked).toEqual([hooked.batchId, hooked.batchId, hooked.batchId]);
  });

  test('a batch that finishes between the check and the pause/resume signal is failed_precondition, not internal', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-race'), opts);
    s.t.views.set(batchId, { ...s.t.views.get(batchId)!, status: 'RUNNING' });
    const closeThenFail = async () => {
      s.t.views.set(batchId, { ...s.t.views.get(batchId)!, status: 'COMPLETED', finishedAtMs: 9_000 });
      throw new Error('workflow execution already completed');
    };
    s.t.port.pause = closeThenFail;
    const p = await errorOf(s.client.pauseBatch({ batchId }, opts));
    expect([p.code, p.rawMessage]).toEqual([Code.FailedPrecondition, `batch ${batchId} is COMPLETED; only an open batch can be paused`]);
    s.t.views.set(batchId, { ...s.t.views.get(batchId)!, status: 'PAUSED', paused: true });
    s.t.port.resume = closeThenFail;
    const r = await errorOf(s.client.resumeBatch({ batchId }, opts));
    expect([r.code, r.rawMessage]).toEqual([Code.FailedPrecondition, `batch ${batchId} is COMPLETED; only an open batch can be resumed`]);
  });

  test('PauseBatch and ResumeBatch: PAUSED once the batch shows it, a second pause is a no-op, resume only from PAUSED, finished batches refused', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-p'), opts);
    s.t.views.set(batchId, { ...s.t.views.get(batchId)!, status: 'RUNNING' });
    expect(await s.client.pauseBatch({ batchId, reason: 'payer maintenance' }, opts)).toMatchObject({ batchId, status: BatchStatus.PAUSED });
    expect(s.t.views.get(batchId)!.paused).toBe(true);
    // The caller's client service (from its token) is who paused it, shown by GetBatchStatus while paused.
    expect((await s.client.getBatchStatus({ batchId }, opts)).pausedBy).toBe('svc-a');
    expect(await s.client.pauseBatch({ batchId }, opts)).toMatchObject({ status: BatchStatus.PAUSED });
    const resumed = await s.client.resumeBatch({ batchId }, opts);
    expect(resumed.status).not.toBe(BatchStatus.PAUSED);
    expect(s.t.views.get(batchId)!.paused).toBe(false);
    expect((await s.client.getBatchStatus({ batchId }, opts)).pausedBy).toBe('');
    const notPaused = await errorOf(s.client.resumeBatch({ batchId }, opts));
    expect(notPaused.code).toBe(Code.FailedPrecondition);
    expect(notPaused.rawMessage).toMatch(/not PAUSED/);
    await s.client.cancelBatch({ batchId, reason: 'done' }, opts);
    const finished = await errorOf(s.client.pauseBatch({ batchId }, opts));
    expect(finished.code).toBe(Code.FailedPrecondition);
    expect(finished.rawMessage).toMatch(/CANCELLED/);
  });

  test('PauseBatch refuses a long reason (with its field), a reader, and another service\'s batch, without signalling', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-p2'), opts);
    const long = await errorOf(s.client.pauseBatch({ batchId, reason: 'x'.repeat(501) }, opts));
    expect(long.code).toBe(Code.InvalidArgument);
    expect(long.rawMessage).toContain('reason');
    expect((await errorOf(s.client.pauseBatch({ batchId }, await s.as('svc-a', ['rte:batch:read'])))).code).toBe(Code.PermissionDenied);
    expect((await errorOf(s.client.pauseBatch({ batchId }, await s.as('svc-b', s.all)))).code).toBe(Code.NotFound);
    expect((await errorOf(s.client.resumeBatch({ batchId: 'nope' }, opts))).code).toBe(Code.InvalidArgument);
    expect(s.t.views.get(batchId)!.paused).toBe(false);
  });

  test('WatchBatchStatus streams STARTED, PROGRESS, keepalives and COMPLETED, then closes', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-w', ['a', 'b']), opts);
    const base = s.t.views.get(batchId)!;
    const script: Array<Partial<BatchStatusView>> = [
      { status: 'RUNNING', startedAtMs: 10, counters: { ...base.counters, completed: 0 } },
      { status: 'RUNNING', counters: { ...base.counters, completed: 1 } },
      { status: 'RUNNING', counters: { ...base.counters, completed: 1 } },
      { status: 'RUNNING', counters: { ...base.counters, completed: 1 } },
      { status: 'COMPLETED', counters: { ...base.counters, completed: 2 }, finishedAtMs: 50 },
    ];
    // Each status() call advances the script (and the clock, so keepalives fall due).
    const realStatus = s.t.port.status.bind(s.t.port);
    let step = 0;
    s.t.port.status = async (id) => {
      const next = script[Math.min(step++, script.length - 1)]!;
      s.t.views.set(id, { ...s.t.views.get(id)!, ...next });
      s.advance(15);
      return realStatus(id);
    };
    const seen: Array<{ type: BatchEventType; case: string | undefined; completed?: number }> = [];
    for await (const u of s.client.watchBatchStatus({ batchId }, opts)) {
      seen.push({ type: u.eventType, case: u.update.case, ...(u.update.case === 'progress' ? { completed: u.update.value.completed } : {}) });
    }
    expect(seen[0]).toEqual({ type: BatchEventType.EVENT_TYPE_STARTED, case: 'started' });
    expect(seen.filter((x) => x.case === 'progress').map((x) => x.completed)).toEqual([0, 1]);
    expect(seen.some((x) => x.type === BatchEventType.EVENT_TYPE_PROGRESS && x.case === undefined)).toBe(true);
    expect(seen[seen.length - 1]).toEqual({ type: BatchEventType.EVENT_TYPE_COMPLETED, case: 'completed' });
  });
  /** Replaces the fake's status() with a script: each call applies the next step (the last one repeats). */
  function scriptStatus(s: Awaited<ReturnType<typeof setup>>, steps: Array<Partial<BatchStatusView> | (() => Promise<Partial<BatchStatusView>>)>) {
    const realStatus = s.t.port.status.bind(s.t.port);
    let step = 0;
    s.t.port.status = async (id) => {
      const next = steps[Math.min(step++, steps.length - 1)]!;
      s.t.views.set(id, { ...s.t.views.get(id)!, ...(typeof next === 'function' ? await next() : next) });
      s.advance(15);
      return realStatus(id);
    };
  }

  test('WatchBatchStatus on a batch waiting for its window sends only keepalives until it starts, then STARTED first', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-pending', ['a', 'b']), opts);
    const base = s.t.views.get(batchId)!;
    scriptStatus(s, [
      { status: 'PENDING' },
      { status: 'PENDING' },
      { status: 'PENDING' },
      { status: 'RUNNING', startedAtMs: 10, counters: { ...base.counters, completed: 1 } },
      { status: 'COMPLETED', startedAtMs: 10, counters: { ...base.counters, completed: 2 }, finishedAtMs: 50 },
    ]);
    const seen: Array<{ type: BatchEventType; case: string | undefined }> = [];
    let last: BatchStatusUpdate | undefined;
    for await (const u of s.client.watchBatchStatus({ batchId }, opts)) {
      seen.push({ type: u.eventType, case: u.update.case });
      last = u;
    }
    // The final update estimates the finish at the finish time, not when the watcher read it.
    expect(last?.update.case === 'completed' ? last.update.value.finalProgress?.estimatedCompletion : undefined).toEqual(timestampFromMs(50));
    const firstReal = seen.findIndex((x) => x.case !== undefined);
    expect(seen.slice(0, firstReal).every((x) => x.type === BatchEventType.EVENT_TYPE_PROGRESS)).toBe(true); // keepalives
    expect(firstReal).toBeGreaterThan(0);
    expect(seen[firstReal]).toEqual({ type: BatchEventType.EVENT_TYPE_STARTED, case: 'started' });
    expect(seen[seen.length - 1]).toEqual({ type: BatchEventType.EVENT_TYPE_COMPLETED, case: 'completed' });
  });

  test('WatchBatchStatus cancelled while pending: no STARTED, one terminal update', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-pending-cancel', ['a', 'b']), opts);
    scriptStatus(s, [{ status: 'PENDING' }, { status: 'CANCELLED', finishedAtMs: 40, failure: { code: 'CANCELLED', message: 'not needed' } }]);
    const cases: Array<string | undefined> = [];
    for await (const u of s.client.watchBatchStatus({ batchId }, opts)) if (u.update.case !== undefined) cases.push(u.update.case);
    expect(cases).toEqual(['failed']);
  });

  /** status() answers the views of `steps`; an Error step is thrown instead. Each call moves the clock by `stepMs`. */
  function scriptStatusOrFail(s: Awaited<ReturnType<typeof setup>>, steps: Array<Partial<BatchStatusView> | Error>, stepMs: number) {
    const realStatus = s.t.port.status.bind(s.t.port);
    let step = 0;
    s.t.port.status = async (id) => {
      const next = steps[Math.min(step++, steps.length - 1)]!;
      s.advance(stepMs);
      if (next instanceof Error) throw next;
      s.t.views.set(id, { ...s.t.views.get(id)!, ...next });
      return realStatus(id);
    };
  }
  const queryFailed = () => Object.assign(new Error('Workflow query failed: no worker answered'), { name: 'QueryFailedError' });

  test('WatchBatchStatus rides out polls that fail for a while (the workflow\'s worker was killed): no internal error, the updates go on', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-unaskable', ['a', 'b']), opts);
    const base = s.t.views.get(batchId)!;
    scriptStatusOrFail(
      s,
      [
        { status: 'RUNNING', startedAtMs: 10, counters: { ...base.counters, completed: 1 } },
        queryFailed(),
        queryFailed(),
        queryFailed(),
        { status: 'COMPLETED', startedAtMs: 10, counters: { ...base.counters, completed: 2 }, finishedAtMs: 50 },
      ],
      15_000, // 45 s without an answer: inside the 60 s the stream rides out
    );
    const cases: Array<string | undefined> = [];
    for await (const u of s.client.watchBatchStatus({ batchId }, opts)) cases.push(u.update.case);
    const real = cases.filter((c) => c !== undefined);
    expect(real).toEqual(['started', 'progress', 'completed']);
    // Keepalives went on while the workflow could not be asked.
    expect(cases.filter((c) => c === undefined).length).toBeGreaterThanOrEqual(3);
  });

  test('WatchBatchStatus whose batch cannot be asked for 60 s ends unavailable, with why and a retry hint (not internal)', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-unaskable-long', ['a', 'b']), opts);
    const base = s.t.views.get(batchId)!;
    scriptStatusOrFail(s, [{ status: 'RUNNING', startedAtMs: 10, counters: { ...base.counters, completed: 1 } }, queryFailed()], 15_000);
    const cases: Array<string | undefined> = [];
    const err = await errorOf(
      (async () => {
        for await (const u of s.client.watchBatchStatus({ batchId }, opts)) cases.push(u.update.case);
      })(),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/status could not be read for 60 s \(the batch workflow did not answer its status query\); the batch itself goes on - watch again/);
    // The poll error's own message (Temporal's words, which can name servers and queues) stays in the server log.
    expect(err.rawMessage).not.toContain('no worker answered');
    expect(err.metadata.get('retry-after')).toBe('5');
    expect(cases.filter((c) => c !== undefined)).toEqual(['started', 'progress']);
  });

  test('WatchBatchStatus never steps progress back to an older last-known answer (the status fallback) while it has a live view', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-last-known', ['a', 'b', 'c']), opts);
    const base = s.t.views.get(batchId)!;
    const c = (completed: number) => ({ ...base.counters, total: 3, completed });
    scriptStatusOrFail(
      s,
      [
        { status: 'RUNNING', startedAtMs: 10, counters: c(2) },
        { status: 'RUNNING', startedAtMs: 10, counters: c(1), lastKnownAsOfMs: 5 } as Partial<BatchStatusView>,
        { status: 'COMPLETED', startedAtMs: 10, counters: c(3), finishedAtMs: 50 },
      ],
      15,
    );
    const progress: number[] = [];
    for await (const u of s.client.watchBatchStatus({ batchId }, opts)) if (u.update.case === 'progress') progress.push(u.update.value.completed);
    expect(progress).toEqual([2]);
  });

  test('WatchBatchStatus: a batch gone while watched ends not_found at once', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('job-gone', ['a', 'b']), opts);
    const base = s.t.views.get(batchId)!;
    scriptStatusOrFail(s, [{ status: 'RUNNING', startedAtMs: 10, counters: { ...base.counters, completed: 1 } }, new ConnectError(`batch ${batchId} not found`, Code.NotFound)], 15);
    const err = await errorOf(
      (async () => {
        for await (const u of s.client.watchBatchStatus({ batchId }, opts)) void u;
      })(),
    );
    expect(err.code).toBe(Code.NotFound);
  });

  test('WatchBatchStatus sends one MEMBER_COMPLETED per member only when asked for, then the terminal update', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const ids = ['a', 'b', 'c', 'd'];
    const { batchId } = await s.client.submitBatch(submit('job-members', ids), opts);
    const base = s.t.views.get(batchId)!;
    const step = (done: number, status: BatchStatusView['status'] = 'RUNNING') => async () => {
      // Outcomes land in the store as members finish (a retried activity writes its member again).
      const fresh = Array.from({ length: done }, (_, i) => ({ memberIndex: i, memberId: ids[i]!, success: i !== 2, durationMs: 100 * i, ...(i === 2 ? { errorMessage: 'AAA_75: subscriber not found' } : {}) }));
      await s.outcomes.record(batchId, fresh);
      return { status, startedAtMs: 10, counters: { ...base.counters, completed: done - (done > 2 ? 1 : 0), failed: done > 2 ? 1 : 0 }, ...(status === 'COMPLETED' ? { finishedAtMs: 90 } : {}) };
    };
    scriptStatus(s, [step(0), step(1), step(3), step(3), step(4, 'COMPLETED')]);
    const members: Array<{ id: string; ok: boolean; err?: string; ms?: number }> = [];
    const types: BatchEventType[] = [];
    for await (const u of s.client.watchBatchStatus({ batchId, eventTypes: [BatchEventType.EVENT_TYPE_MEMBER_COMPLETED, BatchEventType.EVENT_TYPE_COMPLETED] }, opts)) {
      if (u.update.case === undefined) continue;
      types.push(u.eventType);
      if (u.update.case === 'memberCompleted') {
        const m = u.update.value;
        members.push({ id: m.accountId, ok: m.success, ...(m.errorMessage ? { err: m.errorMessage } : {}), ...(m.duration ? { ms: Number(m.duration.seconds) * 1000 + m.duration.nanos / 1e6 } : {}) });
      }
    }
    expect(members).toEqual([
      { id: 'a', ok: true, ms: 0 },
      { id: 'b', ok: true, ms: 100 },
      { id: 'c', ok: false, err: 'AAA_75: subscriber not found', ms: 200 },
      { id: 'd', ok: true, ms: 300 },
    ]);
    // Only what was asked for: member updates, then the terminal one (no STARTED / PROGRESS).
    expect(types).toEqual([...Array(4).fill(BatchEventType.EVENT_TYPE_MEMBER_COMPLETED), BatchEventType.EVENT_TYPE_COMPLETED]);

    // Without asking, a watcher gets no member updates.
    scriptStatus(s, [{}]);
    const plain: Array<string | undefined> = [];
    for await (const u of s.client.watchBatchStatus({ batchId }, opts)) plain.push(u.update.case);
    expect(plain).not.toContain('memberCompleted');
  });
});

describe('BatchEligibilityService client contract (issue 10)', () => {
  const query = (q: Record<string, unknown>) => ({ memberSelector: { case: 'memberQuery', value: q } });

  test('same client_job_id + different request is already_exists; same request (defaults spelled out, ids reordered) is the same batch', async () => {
    const s = await setup({ rateLimit: 2 });
    const opts = await s.as('svc-a', s.all);
    const headers: Headers[] = [];
    const first = await s.client.submitBatch(submit('job-1', ['m_1', 'm_2']), { ...opts, onHeader: (h) => void headers.push(h) });
    // A new submission says what is left of the window (probe p18 contract F5); a repeat spends nothing and says nothing.
    expect([headers[0]?.get('x-ratelimit-limit'), headers[0]?.get('x-ratelimit-remaining')]).toEqual(['2', '1']);
    const same = await s.client.submitBatch(submit('job-1', ['m_2', 'm_1', 'm_1'], { options: { maxConcurrentRequests: 15, priority: 0 } }), { ...opts, onHeader: (h) => void headers.push(h) });
    expect(headers[1]?.get('x-ratelimit-remaining')).toBeNull();
    expect(same.batchId).toBe(first.batchId);
    for (const other of [
      submit('job-1', ['m_1', 'm_3']),
      submit('job-1', ['m_1', 'm_2'], { options: { priority: 2 } }),
      submit('job-1', ['m_1', 'm_2'], { cacheControl: 2 }),
      create(SubmitBatchRequestSchema, { clientJobId: 'job-1', ...query({ sponsorIds: ['s1'] }) } as never),
    ]) {
      const e = await errorOf(s.client.submitBatch(other, opts));
      expect(e.code).toBe(Code.AlreadyExists);
      expect(e.message).toContain('client_job_id job-1 was already used for a different request');
    }
    expect(s.t.started).toHaveLength(1);
    // Refusals spent nothing: one more new job still fits in the limit of 2.
    await s.client.submitBatch(submit('job-2'), opts);
    expect(s.t.started).toHaveLength(2);
  });

  // Probe p18 F14: resolved_options reports OPTIMAL's decision; replaying it was already_exists.
  test("the answer's resolved strategy sent back is the same request once the batch took that path; the other path, or before it decided, is not", async () => {
    const s = await setup({ rateLimit: 5 });
    const opts = await s.as('svc-a', s.all);
    const first = await s.client.submitBatch(submit('job-r', ['m_1', 'm_2']), opts);
    const replay = (strategy: number) => submit('job-r', ['m_1', 'm_2'], { options: { strategy } });
    // Not decided yet: the answer said OPTIMAL, so naming a path is another request.
    expect((await errorOf(s.client.submitBatch(replay(2), opts))).code).toBe(Code.AlreadyExists);
    s.t.views.set(first.batchId, { ...s.t.views.get(first.batchId)!, path: 'REALTIME' });
    const status = await s.client.getBatchStatus({ batchId: first.batchId }, opts);
    expect(status.resolvedOptions?.strategy).toBe(2);
    const again = await s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'job-r', memberSelector: { case: 'memberIds', value: { memberIds: ['m_1', 'm_2'] } }, options: status.resolvedOptions }), opts);
    expect(again.batchId).toBe(first.batchId);
    // BATCH_ONLY is not what it does.
    expect((await errorOf(s.client.submitBatch(replay(1), opts))).code).toBe(Code.AlreadyExists);
    expect(s.t.started).toHaveLength(1);
  });

  test('probe batch #10: the same member_query written differently (lists reordered, window in the query) is the same batch; another query is already_exists', async () => {
    const s = await setup({ rateLimit: 5 });
    const opts = await s.as('svc-a', s.all);
    const req = (q: Record<string, unknown>, options: Record<string, unknown> = { schedulingWindow: SchedulingWindow.MORNING }) =>
      create(SubmitBatchRequestSchema, { clientJobId: 'job-q', cacheControl: CacheControl.CACHE_ONLY, options, ...query(q) } as never);
    const first = await s.client.submitBatch(req({ sponsorIds: ['ACME_CORP', 'SPONSOR_123'], limit: 2 }), opts);
    expect((await s.client.submitBatch(req({ sponsorIds: ['SPONSOR_123', 'ACME_CORP'], limit: 2 }), opts)).batchId).toBe(first.batchId);
    expect((await s.client.submitBatch(req({ sponsorIds: ['ACME_CORP', 'SPONSOR_123'], limit: 2, schedulingWindow: SchedulingWindow.MORNING }, {}), opts)).batchId).toBe(first.batchId);
    for (const other of [req({ sponsorIds: ['ACME_CORP'], limit: 2 }), req({ sponsorIds: ['ACME_CORP', 'SPONSOR_123'], limit: 2 }, { schedulingWindow: SchedulingWindow.EVENING })]) {
      expect((await errorOf(s.client.submitBatch(other, opts))).code).toBe(Code.AlreadyExists);
    }
    expect(s.t.started).toHaveLength(1);
  });

  test('a query batch started before the canonical hash (its memo holds the hash of the query as written) is still answered for the same request', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const written = { sponsorIds: ['ACME_CORP', 'SPONSOR_123'], limit: 2 };
    const req = (q: Record<string, unknown>) => create(SubmitBatchRequestSchema, { clientJobId: 'job-old', ...query(q) } as never);
    const first = await s.client.submitBatch(req(written), opts);
    // What the batch would carry had it been submitted by the previous release.
    const resolved = s.t.started[0]!.options;
    const old = legacySubmitRequestHash({ kind: 'query', query: toJson(MemberQuerySchema, create(MemberQuerySchema, written)) }, resolved);
    expect(old).not.toBe(s.t.started[0]!.requestHash);
    s.t.port.requestHash = async () => old;
    expect((await s.client.submitBatch(req(written), opts)).batchId).toBe(first.batchId);
    expect((await errorOf(s.client.submitBatch(req({ sponsorIds: ['ACME_CORP'], limit: 2 }), opts))).code).toBe(Code.AlreadyExists);
  });

  test('a batch started before probe p16 #10 (notifications URL, no delivery_mode: BEST_EFFORT then) is still the same request when retried', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const req = (notifications: Record<string, unknown>) => submit('job-mode', ['m_1'], { options: { notifications: { callbackUrl: 'https://hooks.example.com/b', ...notifications } } });
    const first = await s.client.submitBatch(req({}), opts);
    // The hash the previous release stored: the same options, resolved BEST_EFFORT.
    const started = s.t.started[0]!;
    expect(started.options.notifications.deliveryMode).toBe('AT_LEAST_ONCE');
    const old = submitRequestHash({ kind: 'ids', memberIds: ['m_1'] }, { ...started.options, notifications: { ...started.options.notifications, deliveryMode: 'BEST_EFFORT' } });
    s.t.port.requestHash = async () => old;
    expect((await s.client.submitBatch(req({}), opts)).batchId).toBe(first.batchId);
    // Asking for AT_LEAST_ONCE explicitly is not what that batch was started with.
    expect((await errorOf(s.client.submitBatch(req({ deliveryMode: 1 }), opts))).code).toBe(Code.AlreadyExists);
    expect(s.t.started).toHaveLength(1);
  });

  test('a submit that loses the race to start its job (both passed the existence check) is already_exists if it asked for something else, and gives back its rate unit and staged list', async () => {
    const s = await setup({ rateLimit: 2 });
    const opts = await s.as('svc-a', s.all);
    // As when two calls run at once: each finds no batch and goes on to start; the second joins the first's.
    s.t.port.exists = async () => false;
    const written: string[] = [];
    const write = s.lists.write.bind(s.lists);
    s.lists.write = async (ref, start, ids) => {
      written.push(ref);
      await write(ref, start, ids);
    };
    const first = await s.client.submitBatch(submit('job-1', ['m_1']), opts);
    const e = await errorOf(s.client.submitBatch(submit('job-1', ['m_2', 'm_3', 'm_4'], { cacheControl: 2 }), opts));
    expect(e.code).toBe(Code.AlreadyExists);
    expect(e.message).toContain('client_job_id job-1 was already used for a different request');
    // The same request again joins and answers with the batch.
    expect((await s.client.submitBatch(submit('job-1', ['m_1']), opts)).batchId).toBe(first.batchId);
    expect(s.t.started).toHaveLength(1);
    // Only the started batch's list is left, holding its own member.
    const batchList = (s.t.started[0]!.selector as { listRef: string }).listRef;
    expect(written).toHaveLength(3);
    expect(written.filter((r) => r !== batchList).map((r) => s.lists.size(r))).toEqual([0, 0]);
    expect(await s.lists.read(batchList, 0, 10)).toEqual(['m_1']);
    // Neither joining call spent a unit: one more job fits in the limit of 2, the next does not.
    await s.client.submitBatch(submit('job-2'), opts);
    expect((await errorOf(s.client.submitBatch(submit('job-3'), opts))).code).toBe(Code.ResourceExhausted);
  });

  test('member_query is compiled before acceptance: its FieldError is invalid_argument, nothing started, no rate unit spent', async () => {
    const checked: MemberQuery[] = [];
    const s = await setup({
      rateLimit: 1,
      checkMemberQuery: async (q) => {
        checked.push(q);
        if (q.sponsorIds.includes('bad')) throw new FieldError('member_query.predicate_filter.expression', 'unexpected token at 4');
      },
    });
    const opts = await s.as('svc-a', s.all);
    for (let i = 0; i < 3; i++) {
      const e = await errorOf(s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: `q-${i}`, ...query({ sponsorIds: ['bad'] }) } as never), opts));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.message).toContain('member_query.predicate_filter.expression');
    }
    expect(s.t.started).toHaveLength(0);
    await s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'q-ok', ...query({ sponsorIds: ['good'] }) } as never), opts);
    expect(s.t.started).toHaveLength(1);
    expect(checked).toHaveLength(4);
  });

  test('member_query.cursor and limit > 10,000 are refused; scheduling_window inside the query is honoured', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const cursor = await errorOf(s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'c', ...query({ cursor: 'abc' }) } as never), opts));
    expect(cursor.code).toBe(Code.InvalidArgument);
    expect(cursor.message).toContain('member_query.cursor');
    const limit = await errorOf(s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'l', ...query({ limit: 20_000 }) } as never), opts));
    expect(limit.code).toBe(Code.InvalidArgument);
    expect(limit.message).toContain('member_query.limit');
    const r = await s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'w', ...query({ schedulingWindow: SchedulingWindow.EVENING }) } as never), opts);
    expect(s.t.started[0]!.options.schedulingWindow).toBe('EVENING');
    expect(r.resolvedOptions?.schedulingWindow).toBe(SchedulingWindow.EVENING);
    // A non-ANY options.scheduling_window wins over the query's.
    await s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'w2', options: { schedulingWindow: SchedulingWindow.MORNING }, ...query({ schedulingWindow: SchedulingWindow.EVENING }) } as never), opts);
    expect(s.t.started[1]!.options.schedulingWindow).toBe('MORNING');
  });

  test('errors page tokens are opaque and bound to their batch: forged, garbage and foreign tokens are invalid_argument', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const ids = Array.from({ length: 30 }, (_, i) => `m_${i}`);
    const a = (await s.client.submitBatch(submit('a', ids), opts)).batchId;
    const b = (await s.client.submitBatch(submit('b', ids), opts)).batchId;
    for (const id of [a, b]) await s.errors.record(id, ids.map((memberId, i) => ({ memberIndex: i, memberId, errorCode: 'X', errorMessage: 'x', occurredAtMs: 1 })));
    const p1 = await s.client.getBatchStatus({ batchId: a, errorsPageSize: 10 }, opts);
    expect(p1.nextErrorsPageToken).not.toBe('');
    const forged = Buffer.from(JSON.stringify({ a: 'x' })).toString('base64url');
    for (const token of [forged, 'garbage', Buffer.from(JSON.stringify({ a: 1e308 })).toString('base64url'), `${p1.nextErrorsPageToken}x`]) {
      const e = await errorOf(s.client.getBatchStatus({ batchId: a, errorsPageToken: token }, opts));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.message).toContain('errors_page_token');
    }
    const foreign = await errorOf(s.client.getBatchStatus({ batchId: b, errorsPageSize: 10, errorsPageToken: p1.nextErrorsPageToken }, opts));
    expect(foreign.code).toBe(Code.InvalidArgument);
    const p2 = await s.client.getBatchStatus({ batchId: a, errorsPageSize: 10, errorsPageToken: p1.nextErrorsPageToken }, opts);
    expect(p2.errors.map((e) => e.memberId)).toEqual(ids.slice(10, 20));
  });

  test('a FAILED batch says why in GetBatchStatus', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const { batchId } = await s.client.submitBatch(submit('f'), opts);
    const v = s.t.views.get(batchId)!;
    s.t.views.set(batchId, { ...v, status: 'FAILED', finishedAtMs: 9_000, failure: { code: 'InvalidArgumentError', message: 'member_query.demographics_filter.min_age: must not be greater than max_age' } });
    const r = await s.client.getBatchStatus({ batchId }, opts);
    expect(r.status).toBe(BatchStatus.FAILED);
    expect(r.failureCode).toBe('InvalidArgumentError');
    expect(r.failureMessage).toContain('min_age');
  });
});

describe('SubmitBatch webhooks (issue 10)', () => {
  test('a callback_url for a client service without a signing secret is failed_precondition at submit, saying what to configure', async () => {
    const t = fakeTemporal();
    const service = createBatchService({
      temporal: t.port,
      lists: createInMemoryMemberListStore(),
      errors: createInMemoryBatchErrorStore(),
      rateLimiter: createInMemorySubmitRateLimiter({ limit: 10, windowMs: 3_600_000 }),
      taskQueue: 'rte-main',
      limits: { ...DEFAULT_SUBMIT_LIMITS, webhook: { allowedHosts: ['hooks.example.com'], allowHttp: false } },
      canSignWebhooks: (svc) => svc === 'svc-signed',
    });
    const transport = createRouterTransport((router) => router.service(BatchEligibilityService, service), {
      router: { interceptors: [createObservabilityInterceptor(silentLogger(), metrics), createAuthInterceptor(createTokenVerifier({ mode: 'dev-hs256', devSecret: secret }))] },
    });
    const client = createClient(BatchEligibilityService, transport);
    const as = async (svc: string) => ({ headers: { authorization: `Bearer ${await mintDevToken({ service: svc, scopes: ['rte:batch:submit'], secret })}` } });
    const withHook = submit('hooked', ['m_1'], { options: { notifications: { callbackUrl: 'https://hooks.example.com/rte' } } });
    const e = await errorOf(client.submitBatch(withHook, await as('svc-unsigned')));
    expect(e.code).toBe(Code.FailedPrecondition);
    expect(e.message).toContain('WEBHOOK_SECRETS');
    expect(e.message).toContain('svc-unsigned');
    expect(t.started).toHaveLength(0);
    await client.submitBatch(withHook, await as('svc-signed'));
    await client.submitBatch(submit('no-hook'), await as('svc-unsigned'));
    expect(t.started).toHaveLength(2);
  });
});

describe('GetBatchStatus errors before the error store has them', () => {
  test('a failure the workflow already counted is listed (its member id read from the batch list), stored ones not twice', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const r = await s.client.submitBatch(submit('recent-errors', ['m_1', 'm_2', 'm_3']), opts);
    const v = s.t.views.get(r.batchId)!;
    await s.lists.write('list-recent', 0, ['m_a', 'm_b', 'm_c']);
    const err = (memberIndex: number) => ({ memberIndex, errorCode: 'PAYER_ERROR', errorMessage: 'AAA 75', occurredAtMs: v.submittedAtMs + memberIndex });
    s.t.views.set(r.batchId, { ...v, status: 'WAITING', listRef: 'list-recent', recentErrors: [err(2), err(0)], totalErrors: 2, counters: { ...v.counters, failed: 2 } });
    await s.errors.record(r.batchId, [{ ...err(0), memberId: 'm_a' }]);
    const st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(st.errors.map((e) => [e.memberId, e.errorCode])).toEqual([
      ['m_a', 'PAYER_ERROR'],
      ['m_c', 'PAYER_ERROR'],
    ]);
    expect(st.totalErrors).toBe(2);
    // Paged: a page of one holds the first; the next page the other.
    const p1 = await s.client.getBatchStatus({ batchId: r.batchId, errorsPageSize: 1 }, opts);
    expect(p1.errors.map((e) => e.memberId)).toEqual(['m_a']);
    const p2 = await s.client.getBatchStatus({ batchId: r.batchId, errorsPageSize: 1, errorsPageToken: p1.nextErrorsPageToken }, opts);
    expect(p2.errors.map((e) => e.memberId)).toEqual(['m_c']);
  });
});

describe('estimated completion (issue 10)', () => {
  test('a finished batch is estimated at its finish time; a CACHE_ONLY batch as cache reads, not Stedi calls', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const ids = Array.from({ length: 8_955 }, (_, i) => `m_${i}`);
    const r = await s.client.submitBatch(submit('cache-only', ids, { cacheControl: CacheControl.CACHE_ONLY }), opts);
    // 8,955 cache reads: seconds, not the 2 h 14 min of 8,955 real-time checks.
    expect(Number(r.estimatedCompletion!.seconds) * 1000 - Number(r.submittedAt!.seconds) * 1000).toBeLessThan(60_000);
    const v = s.t.views.get(r.batchId)!;
    s.t.views.set(r.batchId, { ...v, status: 'COMPLETED', startedAtMs: v.submittedAtMs, finishedAtMs: v.submittedAtMs + 2_000, estimatedCompletionMs: v.submittedAtMs + 8_000_000 });
    s.advance(3_600_000);
    const st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(st.progress?.estimatedCompletion).toEqual(st.finishedAt);
  });

  test('a member query that selected nobody is estimated to finish now, not in an hour', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const r = await s.client.submitBatch(create(SubmitBatchRequestSchema, { clientJobId: 'nobody', memberSelector: { case: 'memberQuery', value: { sponsorIds: ['no-such-sponsor'] } } }), opts);
    expect(r.totalMembers).toBe(0);
    expect(r.estimatedCompletion).toEqual(r.submittedAt);
  });

  test('waiting, load-deferred, paused and batch-API batches say why, until when, and never estimate the past', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const r = await s.client.submitBatch(submit('explain', ['m_1', 'm_2', 'm_3']), opts);
    const v = s.t.views.get(r.batchId)!;
    const t0 = v.submittedAtMs;
    const secondsOf = (ts: { seconds: bigint } | undefined) => Number(ts?.seconds ?? 0n) * 1000;
    // WAITING for a window: one member done long ago (a stale running estimate), the rest due at 18:00.
    const until = t0 + 3 * 3_600_000;
    s.t.views.set(r.batchId, { ...v, status: 'WAITING', startedAtMs: t0, estimatedCompletionMs: t0 + 60_000, pending: 2, counters: { ...v.counters, completed: 1 }, waitingUntilMs: until, options: { ...v.options, schedulingWindow: 'EVENING' } });
    s.advance(600_000);
    let st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(st.statusDetail).toMatch(/waiting for EVENING window until/);
    expect(secondsOf(st.waitingUntil)).toBe(until);
    expect(secondsOf(st.progress?.estimatedCompletion)).toBeGreaterThan(until);
    // PENDING because Stedi's load is high: it says so.
    s.t.views.set(r.batchId, { ...v, status: 'PENDING', waitingUntilMs: until, deferredByLoad: true });
    st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(st.statusDetail).toMatch(/deferred by Stedi load: waiting until .* or sooner when the load drops/);
    // PAUSED: nothing moves, so no estimate; who paused it.
    s.t.views.set(r.batchId, { ...v, status: 'PAUSED', paused: true, pausedBy: 'ops', startedAtMs: t0, estimatedCompletionMs: t0 + 60_000 });
    st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(st.progress?.estimatedCompletion).toBeUndefined();
    expect(st.statusDetail).toMatch(/^paused by ops/);
    // An API client resumes with the RPC (or rtectl), not the workflow's signal (probe p16 #11i).
    expect(st.statusDetail).toMatch(/ · resume with ResumeBatch \(rtectl batch resume\)$/);
    expect(st.statusDetail).not.toContain('signal');
    expect(st.waitingUntil).toBeUndefined();
    // A Stedi batch-API chunk in flight: not the extrapolation of one quick member, and never in the past.
    const now = t0 + 600_000;
    s.t.views.set(r.batchId, { ...v, status: 'RUNNING', path: 'BATCH_API', chunksInFlight: 1, startedAtMs: now - 1_000, estimatedCompletionMs: now - 500, pending: 2, counters: { ...v.counters, completed: 1 } });
    st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(secondsOf(st.progress?.estimatedCompletion)).toBeGreaterThan(now + 30 * 60_000);
    expect(st.statusDetail).toMatch(/Stedi batch API, 1 chunk in flight/);
  });

  test('a PAUSED batch with members done and a window time: no waiting_until and no estimated completion in GetBatchStatus or a repeated SubmitBatch, nobody knows when it resumes (probe p18 F3, F9)', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const r = await s.client.submitBatch(submit('paused-eta', ['m_1', 'm_2', 'm_3']), opts);
    const v = s.t.views.get(r.batchId)!;
    const t0 = v.submittedAtMs;
    // As the workflow reports it: paused in a window wait, one member done, its running estimate and next due time kept.
    s.t.views.set(r.batchId, { ...v, status: 'PAUSED', paused: true, pausedBy: 'ops', startedAtMs: t0, estimatedCompletionMs: t0 + 60_000, waitingUntilMs: t0 + 3_600_000, pending: 2, counters: { ...v.counters, completed: 1 } });
    for (const wait of [0, 600_000]) {
      s.advance(wait);
      const st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
      expect(st.status).toBe(BatchStatus.PAUSED);
      expect(st.progress).toMatchObject({ completed: 1, pending: 2 });
      expect(st.progress?.estimatedCompletion).toBeUndefined();
      expect(st.waitingUntil).toBeUndefined();
    }
    // SubmitBatch repeated (the client retrying its request) answers the paused batch without an estimate too.
    const again = await s.client.submitBatch(submit('paused-eta', ['m_1', 'm_2', 'm_3']), opts);
    expect([again.batchId, again.status]).toEqual([r.batchId, BatchStatus.PAUSED]);
    expect(again.estimatedCompletion).toBeUndefined();
    // Resumed into its window wait: both come back.
    s.t.views.set(r.batchId, { ...s.t.views.get(r.batchId)!, status: 'WAITING', paused: false });
    const st = await s.client.getBatchStatus({ batchId: r.batchId }, opts);
    expect(st.waitingUntil).toBeDefined();
    expect(st.progress?.estimatedCompletion).toBeDefined();
  });
});

describe('SubmitBatchStreaming (issue 16)', () => {
  type Seen = { type: BatchEventType; case: string | undefined; batchId: string; status: BatchStatus };
  const collect = async (it: AsyncIterable<{ eventType: BatchEventType; update: { case: string | undefined }; batchId: string; status: BatchStatus }>) => {
    const seen: Seen[] = [];
    for await (const u of it) seen.push({ type: u.eventType, case: u.update.case, batchId: u.batchId, status: u.status });
    return seen;
  };

  test('submits once and streams from an immediate first update with the batch id (a PENDING batch: an empty PROGRESS) to the terminal one', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', ['rte:batch:submit']);
    let calls = 0;
    const realStatus = s.t.port.status.bind(s.t.port);
    // The first status() (right after acceptance) still says PENDING; later ones run the batch to its end.
    s.t.port.status = async (id) => {
      const v = s.t.views.get(id)!;
      calls++;
      if (calls === 3) s.t.views.set(id, { ...v, status: 'RUNNING', startedAtMs: 10, counters: { ...v.counters, completed: 1 } });
      if (calls === 5) s.t.views.set(id, { ...v, status: 'PARTIALLY_COMPLETED', counters: { ...v.counters, completed: 2, failed: 1 }, finishedAtMs: 60 });
      return realStatus(id);
    };
    const seen = await collect(s.client.submitBatchStreaming(submit('job-s', ['a', 'b', 'c']), opts));
    expect(s.t.started).toHaveLength(1);
    expect(seen[0]).toEqual({ type: BatchEventType.EVENT_TYPE_PROGRESS, case: undefined, batchId: 'batch/svc-a/job-s', status: BatchStatus.PENDING });
    expect(seen.every((u) => u.batchId === 'batch/svc-a/job-s')).toBe(true);
    expect(seen.filter((u) => u.case !== undefined).map((u) => u.case)).toEqual(['started', 'progress', 'completed']);
    expect(seen[seen.length - 1]!.status).toBe(BatchStatus.PARTIALLY_COMPLETED);
  });

  test('a started batch: STARTED is the first update; a retry with the same client_job_id attaches (no second workflow), a different request with it is already_exists', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', ['rte:batch:submit']);
    const first = await s.client.submitBatch(submit('job-r'), opts);
    const v = s.t.views.get(first.batchId)!;
    s.t.views.set(first.batchId, { ...v, status: 'COMPLETED', startedAtMs: 10, counters: { ...v.counters, completed: 3 }, finishedAtMs: 20 });
    const seen = await collect(s.client.submitBatchStreaming(submit('job-r', ['m_3', 'm_1', 'm_2']), opts));
    expect(s.t.started).toHaveLength(1);
    expect(seen.map((u) => u.case)).toEqual(['started', 'completed']);
    expect(seen[0]!.batchId).toBe(first.batchId);
    const e = await errorOf(collect(s.client.submitBatchStreaming(submit('job-r', ['m_9']), opts)));
    expect(e.code).toBe(Code.AlreadyExists);
  });

  test('bad input is refused with its field before anything is started or staged; a read-only caller is permission_denied', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', ['rte:batch:submit']);
    let writes = 0;
    const write = s.lists.write.bind(s.lists);
    s.lists.write = async (...a) => {
      writes++;
      return write(...a);
    };
    const bad = await errorOf(collect(s.client.submitBatchStreaming(submit('job-b', ['m_1'], { options: { maxConcurrentRequests: 40 } }), opts)));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toContain('options.max_concurrent_requests');
    const noSel = await errorOf(collect(s.client.submitBatchStreaming(create(SubmitBatchRequestSchema, { clientJobId: 'job-b2' }), opts)));
    expect(noSel.code).toBe(Code.InvalidArgument);
    expect(noSel.message).toContain('member_selector');
    const reader = await errorOf(collect(s.client.submitBatchStreaming(submit('job-b3'), await s.as('svc-a', ['rte:batch:read']))));
    expect(reader.code).toBe(Code.PermissionDenied);
    expect(s.t.started).toHaveLength(0);
    expect(writes).toBe(0);
  });

  test('emits exactly what docs/batch.md lists: no MEMBER_COMPLETED even as members finish; those stay opt-in on WatchBatchStatus', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const ids = ['a', 'b', 'c'];
    let calls = 0;
    const realStatus = s.t.port.status.bind(s.t.port);
    s.t.port.status = async (id) => {
      const v = s.t.views.get(id)!;
      calls++;
      if (calls === 3) {
        await s.outcomes.record(id, [{ memberIndex: 0, memberId: 'a', success: true, durationMs: 5 }]);
        s.t.views.set(id, { ...v, status: 'RUNNING', startedAtMs: 10, counters: { ...v.counters, completed: 1 } });
      }
      if (calls === 5) {
        await s.outcomes.record(id, [{ memberIndex: 1, memberId: 'b', success: true, durationMs: 5 }, { memberIndex: 2, memberId: 'c', success: true, durationMs: 5 }]);
        s.t.views.set(id, { ...v, status: 'COMPLETED', startedAtMs: 10, counters: { ...v.counters, completed: 3 }, finishedAtMs: 60 });
      }
      return realStatus(id);
    };
    const seen = await collect(s.client.submitBatchStreaming(submit('job-mc', ids), opts));
    expect(seen.some((u) => u.type === BatchEventType.EVENT_TYPE_MEMBER_COMPLETED)).toBe(false);
    // First update at once (PENDING: an empty PROGRESS), STARTED, PROGRESS on a change, the terminal update; keepalives between.
    expect(seen[0]).toMatchObject({ type: BatchEventType.EVENT_TYPE_PROGRESS, case: undefined, status: BatchStatus.PENDING });
    expect(seen.filter((u) => u.case !== undefined).map((u) => u.case)).toEqual(['started', 'progress', 'completed']);
    const members: string[] = [];
    for await (const u of s.client.watchBatchStatus({ batchId: 'batch/svc-a/job-mc', eventTypes: [BatchEventType.EVENT_TYPE_MEMBER_COMPLETED] }, opts)) {
      if (u.update.case === 'memberCompleted') members.push(u.update.value.accountId);
    }
    expect(members.sort()).toEqual(ids);
  });

  test('the audit line is written once the outcome is known: allowed with batch id and client job id, or the refusal code', async () => {
    const lines: Record<string, unknown>[] = [];
    const s = await setup({ logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }) });
    const opts = await s.as('svc-a', ['rte:batch:submit']);
    const it = s.client.submitBatchStreaming(submit('job-a'), opts)[Symbol.asyncIterator]();
    expect((await it.next()).value?.batchId).toBe('batch/svc-a/job-a');
    await it.return?.();
    await errorOf(collect(s.client.submitBatchStreaming(submit('job-a2', ['m 1']), opts)));
    await errorOf(collect(s.client.submitBatchStreaming(submit('job-a3'), await s.as('svc-r', ['rte:batch:read']))));
    const audits = lines.filter((l) => l['audit'] === true);
    expect(audits).toHaveLength(3);
    expect(audits[0]).toMatchObject({ method: 'rte.v1.BatchEligibilityService/SubmitBatchStreaming', code: 'ok', caller: 'svc-a', clientJobId: 'job-a', batchId: 'batch/svc-a/job-a' });
    expect(audits[1]).toMatchObject({ method: 'rte.v1.BatchEligibilityService/SubmitBatchStreaming', code: 'InvalidArgument', caller: 'svc-a', clientJobId: 'job-a2' });
    expect(audits[2]).toMatchObject({ method: 'rte.v1.BatchEligibilityService/SubmitBatchStreaming', code: 'PermissionDenied', caller: 'svc-r' });
    expect(JSON.stringify(lines)).not.toContain('m 1');
  });
});

describe('rpc_requests_total for the streaming RPCs', () => {
  /** rte_rpc_requests_total by code for one method (the counter is shared by the file's tests, so read deltas). */
  const counts = async (rpc: string) => {
    const out: Record<string, number> = {};
    for (const v of (await metrics.rpcRequests.get()).values) {
      if (v.labels['method'] === `rte.v1.BatchEligibilityService/${rpc}`) out[String(v.labels['code'])] = v.value;
    }
    return out;
  };
  const delta = (before: Record<string, number>, after: Record<string, number>) =>
    Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
  const drain = async (it: AsyncIterable<unknown>) => {
    for await (const _ of it) void _;
  };

  test('a refused WatchBatchStatus / SubmitBatchStreaming is counted with its error code, not ok; a stream that ends is ok', async () => {
    const s = await setup();
    const opts = await s.as('svc-a', s.all);
    const watch0 = await counts('WatchBatchStatus');
    await errorOf(drain(s.client.watchBatchStatus({ batchId: 'batch/svc-a/nope' }, opts)));
    await errorOf(drain(s.client.watchBatchStatus({ batchId: '' }, opts)));
    expect(delta(watch0, await counts('WatchBatchStatus'))).toEqual({ NotFound: 1, InvalidArgument: 1 });

    const sub0 = await counts('SubmitBatchStreaming');
    await errorOf(drain(s.client.submitBatchStreaming(create(SubmitBatchRequestSchema, { clientJobId: 'job-m1' }), opts)));
    await errorOf(drain(s.client.submitBatchStreaming(submit('job-m2'), await s.as('svc-a', ['rte:batch:read']))));
    expect(delta(sub0, await counts('SubmitBatchStreaming'))).toEqual({ InvalidArgument: 1, PermissionDenied: 1 });

    const { batchId } = await s.client.submitBatch(submit('job-m3'), opts);
    const v = s.t.views.get(batchId)!;
    s.t.views.set(batchId, { ...v, status: 'COMPLETED', startedAtMs: 10, counters: { ...v.counters, completed: 3 }, finishedAtMs: 20 });
    const watch1 = await counts('WatchBatchStatus');
    await drain(s.client.watchBatchStatus({ batchId }, opts));
    expect(delta(watch1, await counts('WatchBatchStatus'))).toEqual({ ok: 1 });
  });
});
