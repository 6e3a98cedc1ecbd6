import { create } from '@bufbuild/protobuf';
import { batchClient, waitFor, waitForBatchEnd } from '../../bench/batch-harness';
import { BatchExecutionOptions_Priority as Priority, BatchExecutionOptions_Strategy as Strategy, BatchStatus, SubmitBatchRequestSchema } from '../../gen/rte/v1/batch_pb';
import { CacheControl } from '../../gen/rte/v1/common_pb';
import { silentLogger } from '../../lib/logger';
import { verdictFor } from '../../stedi-sim/answers';
import { startTestPlatform, type TestPlatform } from '../helpers/platform';
import { uniqueName } from '../helpers/temporal';

/**
 * The batch metrics the design doc names, after real batches on the real platform (Temporal, Redis, PostgreSQL,
 * Kafka, the Stedi simulator): batch_jobs_scheduled_total counts batches (not members), rte_batch_job_duration_seconds
 * by mode and status, rte_requests_total{source} on the worker (batch) and the API (realtime), and
 * stedi_concurrency_during_batch once per batch member's real-time call.
 */
/** Sum of the samples of `name` whose labels include `labels` (the default `process` label is ignored). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = /\{([^}]*)\}/.exec(line)?.[1] ?? '';
    const got = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('batch metrics after real batches (integration)', () => {
  let p: TestPlatform;

  beforeAll(async () => {
    p = await startTestPlatform({ population: 400, sim: { logger: silentLogger() } });
  }, 120_000);

  afterAll(async () => {
    await p?.close();
  }, 60_000);

  it('one real-time batch and one CACHE_ONLY batch: 2 batches scheduled, durations by mode, batch requests by source, Stedi concurrency per batch call', async () => {
    // Members the simulator answers with coverage (no AAA error of any kind): every batch member succeeds.
    const members = p.members.filter((m) => verdictFor(`${m.payerId}|${m.payerMemberId}`).kind !== 'aaa').slice(0, 6);
    const memberIds = members.map((m) => m.memberId);
    const c = await batchClient(p, 'svc-metrics');
    const worker = () => p.workers[0]!.metrics.registry.metrics();

    const rt = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('metrics-rt'),
        memberSelector: { case: 'memberIds', value: { memberIds } },
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY },
      }),
    );
    expect((await waitForBatchEnd(c, rt.batchId, 120_000)).status).toBe(BatchStatus.COMPLETED);
    await waitFor('the real-time batch duration', async () => value(await worker(), 'rte_batch_job_duration_seconds_count', { mode: 'realtime' }) === 1, 30_000);

    const only = await c.submitBatch(
      create(SubmitBatchRequestSchema, {
        clientJobId: uniqueName('metrics-co'),
        memberSelector: { case: 'memberIds', value: { memberIds } },
        cacheControl: CacheControl.CACHE_ONLY,
        options: { priority: Priority.HIGH, strategy: Strategy.REALTIME_ONLY },
      }),
    );
    expect((await waitForBatchEnd(c, only.batchId, 120_000)).status).toBe(BatchStatus.COMPLETED);
    await waitFor('the CACHE_ONLY batch duration', async () => value(await worker(), 'rte_batch_job_duration_seconds_count', { mode: 'cache_only' }) === 1, 30_000);

    const text = await worker();
    // Batches, not members: two batches in the ANY window; the members go to their own counter.
    expect(value(text, 'batch_jobs_scheduled_total')).toBe(2);
    expect(value(text, 'batch_jobs_scheduled_total', { window: 'any' })).toBe(2);
    expect(value(text, 'batch_members_scheduled_total')).toBe(12);
    expect(value(text, 'rte_batch_job_duration_seconds_count', { mode: 'realtime', status: 'COMPLETED' })).toBe(1);
    expect(value(text, 'rte_batch_job_duration_seconds_count', { mode: 'cache_only', status: 'COMPLETED' })).toBe(1);
    expect(value(text, 'rte_batch_job_duration_seconds_count', { mode: 'batch_api' })).toBe(0);
    // Every member of both batches was a batch request (6 refreshed, then 6 read from the cache).
    expect(value(text, 'rte_requests_total', { source: 'batch' })).toBe(12);
    // One observation per real-time Stedi call of the first batch, never above the pool's 15 slots.
    expect(value(text, 'stedi_concurrency_during_batch_count')).toBe(6);
    expect(value(text, 'stedi_concurrency_during_batch_bucket', { le: '15' })).toBe(6);
    expect(value(text, 'stedi_concurrency_during_batch_sum')).toBeGreaterThanOrEqual(6);

    // The API counts real-time CheckEligibility by declared source.
    const token = await p.token(['rte:eligibility:read']);
    await p.eligibilityClient().checkEligibility({ memberId: memberIds[0]!, cacheControl: CacheControl.CACHE_ONLY }, { headers: { authorization: `Bearer ${token}` } });
    await p.eligibilityClient().checkEligibility(
      { memberId: memberIds[1]!, cacheControl: CacheControl.CACHE_ONLY },
      { headers: { authorization: `Bearer ${token}`, 'rte-request-source': 'batch' } },
    );
    const api = await (await fetch(`${p.apiUrl}/metrics`)).text();
    expect(value(api, 'rte_requests_total', { source: 'realtime' })).toBe(1);
    expect(value(api, 'rte_requests_total', { source: 'batch' })).toBe(1);
  }, 300_000);
});
