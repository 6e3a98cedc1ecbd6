import { Code, ConnectError, createContextValues, type HandlerContext } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { BatchStatus } from '../../gen/rte/v1/batch_pb';
import { GetWarmingJobRequestSchema } from '../../gen/rte/v1/warming_pb';
import type { WarmJobDurableState, WarmJobReader } from '../../activities/warming/ports';
import { FieldError } from '../../lib/errors';
import type { WarmingStatusView } from '../../workflows/warming.defs';
import { principalKey } from '../auth';
import { createGetWarmingJobHandler, validateWarmingJobId, warmingJobReason, type GetWarmingJobDeps } from './warming-job';

const JOB = 'warming/manual-trigger/api-0123456789abcdef0123456789abcdef';
const ctxOf = (service: string, scopes: string[] = ['rte:warming:read']) =>
  ({ values: createContextValues().set(principalKey, { service, scopes: new Set(scopes) }) }) as unknown as HandlerContext;
const outcomes = (o: Partial<WarmJobDurableState['counts']> = {}) => ({ pending: 0, warmed: 0, skipped_fresh: 0, skipped_cached: 0, failed: 0, cancelled: 0, ...o });

const record = (o: Partial<WarmJobDurableState> = {}): WarmJobDurableState => ({
  jobId: JOB,
  source: 'manual-trigger',
  priority: 'URGENT',
  strategy: 'INTELLIGENT',
  status: 'RUNNING',
  createdAtMs: 1_000_000,
  updatedAtMs: 1_005_000,
  requestedBy: 'svc-a',
  members: 10,
  operations: ['check_eligibility'],
  counts: outcomes({ warmed: 6, pending: 4 }),
  membersSkipped: 0,
  failureReasons: [],
  ...o,
});

const view = (o: Partial<WarmingStatusView> = {}): WarmingStatusView => ({
  jobId: JOB,
  source: 'manual-trigger',
  priority: 'URGENT',
  strategy: 'INTELLIGENT',
  operations: ['check_eligibility'],
  status: 'RUNNING',
  phase: 'RUNNING',
  paused: false,
  counters: { members: 10, membersPlanned: 10, membersSkipped: 0, realtime: 10, batchApi: 0, outcomes: outcomes() },
  firstPlanned: true,
  acceptedAtMs: 1_000_000,
  children: [],
  ...o,
});

type Describe = () => Promise<unknown>;
function client(describe: Describe, query: () => Promise<unknown> = async () => view()): GetWarmingJobDeps['client'] {
  return {
    withDeadline: (_d: number | Date, fn: () => Promise<unknown>) => fn(),
    workflow: { getHandle: () => ({ describe, query, result: query }) },
  } as unknown as GetWarmingJobDeps['client'];
}
const running = (memo: Record<string, unknown> = { requestedBy: 'svc-a' }): Describe => async () => ({
  type: 'cacheWarmingWorkflow',
  status: { name: 'RUNNING' },
  memo,
  startTime: new Date(1_000_000),
  typedSearchAttributes: { get: () => undefined },
});
const unreachable: Describe = () => Promise.reject(Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14 }));
const notFound: Describe = () => Promise.reject(Object.assign(new Error('workflow not found'), { name: 'WorkflowNotFoundError' }));
const jobs = (r: WarmJobDurableState | undefined | Error): WarmJobReader => ({ read: () => (r instanceof Error ? Promise.reject(r) : Promise.resolve(r)) });
const req = (jobId = JOB) => create(GetWarmingJobRequestSchema, { jobId });
const codeOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => ConnectError.from(e).code);

describe('validateWarmingJobId', () => {
  it.each([
    ['a WarmCache id', JOB],
    ['a member-cron intake id', 'warming/member-cron-daily-rte-warmup/i-0123456789abcdef0123456789abcdef'],
    ['a scheduled run', 'warming/morning-preload-2026-12-03T04:00:00Z'],
  ])('accepts %s', (_n, id) => expect(validateWarmingJobId(id)).toBe(id));
  it("reads a scheduled run's time written with zero milliseconds (toISOString) as Temporal's whole seconds", () => {
    expect(validateWarmingJobId('warming/morning-preload-2026-12-03T04:00:00.000Z')).toBe('warming/morning-preload-2026-12-03T04:00:00Z');
    expect(validateWarmingJobId('warming/morning-preload-2026-12-03T04:00:00.500Z')).toBe('warming/morning-preload-2026-12-03T04:00:00.500Z');
  });
  it.each([
    ['empty', ''],
    ['a batch id', 'batch/svc/job-1'],
    ['a child batch of a job', `${JOB}/p0/check_eligibility/realtime`],
    ['a space', 'warming/a b/c'],
    ['overlong', `warming/${'a'.repeat(121)}/x`],
  ])('refuses %s naming job_id', (_n, id) => {
    expect(() => validateWarmingJobId(id)).toThrow(FieldError);
    expect(() => validateWarmingJobId(id)).toThrow(/^job_id: /);
  });
});

describe('warmingJobReason', () => {
  it.each([
    [{ status: 'PAUSED', pausedBy: 'ops' }, 'paused by ops'],
    [{ status: 'PAUSED' }, 'paused'],
    [{ status: 'PENDING', waitingUntilMs: Date.UTC(2026, 11, 3, 4) }, 'held until 2026-12-03T04:00:00.000Z (not before)'],
    [{ status: 'PENDING', resolving: true }, 'resolving its member query'],
    [{ status: 'WAITING', waitingUntilMs: Date.UTC(2026, 11, 3, 2) }, 'waiting for the scheduling window of its batches until 2026-12-03T02:00:00.000Z'],
    [{ status: 'WAITING', waitingUntilMs: Date.UTC(2026, 11, 3, 7), window: 'LOW_UTILIZATION' }, 'waiting for the LOW_UTILIZATION window until 2026-12-03T07:00:00.000Z'],
    // Warming finding 7: a child parked by the ANY window's slot-load rule says so, in the batches' words, with its bound.
    [
      { status: 'WAITING', waitingUntilMs: Date.UTC(2026, 11, 3, 7), window: 'ANY', deferredByLoad: true },
      'deferred by Stedi load: waiting until 2026-12-03T07:00:00.000Z at the latest, or sooner when the load drops',
    ],
    [{ status: 'CANCELLED', explicit: 'cancelled: superseded' }, 'cancelled: superseded'],
    [
      { status: 'PARTIALLY_COMPLETED', counts: outcomes({ warmed: 57, failed: 3 }), topReason: { reason: 'PAYER_ERROR: AAA 72', count: 2 } },
      '3 failed of 60 warms; most common: PAYER_ERROR: AAA 72 (2)',
    ],
    [{ status: 'FAILED', counts: outcomes() }, 'no warm succeeded'],
    [{ status: 'RUNNING' }, ''],
    [{ status: 'COMPLETED', counts: outcomes({ warmed: 3 }) }, ''],
  ] as const)('%j → %s', (f, want) => expect(warmingJobReason(f)).toBe(want));
});

describe('GetWarmingJob handler', () => {
  it('live: status from the workflow, counts and failure reasons from the durable records', async () => {
    const h = createGetWarmingJobHandler({
      client: client(running(), async () => view({ status: 'PAUSED', paused: true, pausedBy: 'ops' })),
      jobs: jobs(record({ failureReasons: [{ reason: 'PAYER_ERROR: x', count: 1 }] })),
    });
    const r = await h(req(), ctxOf('svc-a'));
    expect(r.status).toBe(BatchStatus.PAUSED);
    expect([r.pausedBy, r.reason, r.lastKnown]).toEqual(['ops', 'paused by ops', false]);
    expect(r.counts).toMatchObject({ warmed: 6, pending: 4 });
    expect(r.failureReasons.map((x) => x.reason)).toEqual(['PAYER_ERROR: x']);
  });

  it('records unreadable, workflow answering: its own counts (settled per page) stand in, no failure reasons', async () => {
    const h = createGetWarmingJobHandler({ client: client(running()), jobs: jobs(new Error('pg down')) });
    const r = await h(req(), ctxOf('svc-a'));
    // The workflow's own counts (settled per page) stand in; failure reasons need the records.
    expect(r.counts).toBeDefined();
    expect(r.failureReasons).toEqual([]);
  });

  it('another service sees not_found, the same as an unknown id; rte:admin sees it; a platform job is visible to every reader', async () => {
    const h = createGetWarmingJobHandler({ client: client(running()), jobs: jobs(record()) });
    expect(await codeOf(h(req(), ctxOf('svc-b')))).toBe(Code.NotFound);
    expect((await h(req(), ctxOf('svc-b', ['rte:admin']))).jobId).toBe(JOB);
    const platform = 'warming/member-cron-daily/i-0123456789abcdef0123456789abcdef';
    const hp = createGetWarmingJobHandler({ client: client(running({}), async () => view({ jobId: platform })), jobs: jobs(record({ jobId: platform, requestedBy: undefined })) });
    expect((await hp(req(platform), ctxOf('svc-b'))).jobId).toBe(platform);
    // A WarmCache job without a recorded owner (started before owners were recorded): rte:admin only.
    const ho = createGetWarmingJobHandler({ client: client(running({})), jobs: jobs(record({ requestedBy: undefined })) });
    expect(await codeOf(ho(req(), ctxOf('svc-a')))).toBe(Code.NotFound);
  });

  it('Temporal unreachable: last-known from the durable record (as_of = its last write); no record either → unavailable, never not_found', async () => {
    const h = createGetWarmingJobHandler({ client: client(unreachable), jobs: jobs(record()) });
    const r = await h(req(), ctxOf('svc-a'));
    expect([r.status, r.lastKnown, Number(r.asOf!.seconds)]).toEqual([BatchStatus.RUNNING, true, 1_005]);
    expect(await codeOf(createGetWarmingJobHandler({ client: client(unreachable), jobs: jobs(undefined) })(req(), ctxOf('svc-a')))).toBe(Code.Unavailable);
    expect(await codeOf(createGetWarmingJobHandler({ client: client(unreachable), jobs: jobs(new Error('pg down')) })(req(), ctxOf('svc-a')))).toBe(Code.Unavailable);
  });

  it('not in Temporal: the durable record answers (past retention); no record → not_found; records unreadable → unavailable', async () => {
    const done = record({ status: 'CANCELLED', reason: 'cancelled: superseded', finishedAtMs: 1_010_000 });
    const r = await createGetWarmingJobHandler({ client: client(notFound), jobs: jobs(done) })(req(), ctxOf('svc-a'));
    expect([r.status, r.reason, r.lastKnown]).toEqual([BatchStatus.CANCELLED, 'cancelled: superseded', true]);
    expect(await codeOf(createGetWarmingJobHandler({ client: client(notFound), jobs: jobs(undefined) })(req(), ctxOf('svc-a')))).toBe(Code.NotFound);
    expect(await codeOf(createGetWarmingJobHandler({ client: client(notFound), jobs: jobs(new Error('pg down')) })(req(), ctxOf('svc-a')))).toBe(Code.Unavailable);
  });

  it('no worker answers the query: the status operators see (RteBatchStatus) with the record, last-known', async () => {
    const desc: Describe = async () => ({
      type: 'cacheWarmingWorkflow',
      status: { name: 'RUNNING' },
      memo: { requestedBy: 'svc-a' },
      startTime: new Date(1_000_000),
      typedSearchAttributes: { get: (k: { name: string }) => ({ RteBatchStatus: 'PAUSED', RteBatchProgress: 'paused by ops-oncall · 3 / 10 warmed' })[k.name] },
    });
    const h = createGetWarmingJobHandler({ client: client(desc, () => Promise.reject(new Error('DEADLINE_EXCEEDED: query'))), jobs: jobs(record()), budgetMs: 50 });
    const r = await h(req(), ctxOf('svc-a'));
    expect([r.status, r.pausedBy, r.reason, r.lastKnown]).toEqual([BatchStatus.PAUSED, 'ops-oncall', 'paused by ops-oncall', true]);
  });

  it('a workflow of another type under the id is not a warming job', async () => {
    const desc: Describe = async () => ({ type: 'batchWorkflow', status: { name: 'RUNNING' }, memo: {}, startTime: new Date(0), typedSearchAttributes: { get: () => undefined } });
    expect(await codeOf(createGetWarmingJobHandler({ client: client(desc), jobs: jobs(undefined) })(req(), ctxOf('svc-a')))).toBe(Code.NotFound);
  });
});
