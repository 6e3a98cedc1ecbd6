import { fromBinary } from '@bufbuild/protobuf';
import type { Client } from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import { bundleWorkflowCode, Worker, type NativeConnection } from '@temporalio/worker';
import path from 'node:path';
import { BatchJobEventSchema, type BatchJobEvent } from '../gen/rte/v1/events_pb';
import { createBatchActivities, type BatchActivityDeps } from '../activities/batch/activities';
import { createInMemoryBatchErrorStore, createInMemoryMemberListStore } from '../activities/batch/memory-stores';
import type { BatchMemberDirectory } from '../activities/batch/ports';
import { createInMemoryEligibilityCache } from '../activities/cache';
import { createEligibilityActivities } from '../activities/eligibility/activities';
import type { EventPublisher, OutgoingEvent } from '../activities/kafka/types';
import { createInMemorySlotPool } from '../activities/slot-pool';
import { createHttpStediGateway, type StediGateway } from '../activities/stedi/gateway';
import { createStaticWebhookSecretStore, createWebhookActivities } from '../activities/webhooks/activities';
import { DEFAULT_SUBMIT_LIMITS } from '../lib/batch/submit-validation';
import type { ResolvedBatchOptions } from '../lib/batch/types';
import { silentLogger } from '../lib/logger';
import { createFixtureMemberSource, syntheticMembers } from '../lib/member-fixtures';
import type { MemberRecord } from '../lib/member-record';
import { createStediSim, type StediSim } from '../stedi-sim/server';
import type { batchWorkflow } from '../workflows/batch';
import { BATCH_WORKFLOW_TYPE, batchWorkflowId, type BatchTuning, type BatchWorkflowInput } from '../workflows/batch.defs';
import { RteBatchStatus, RteClientJobId, RteClientService, RteJobType, RtePriority, RteStrategy } from '../workflows/search-attributes';

/**
 * In-process batch stack for integration tests and benchmarks: the Stedi simulator on a random port, in-memory
 * cache / slot pool / member lists / errors, a capturing EventPublisher, and a worker for the batch workflows and
 * the eligibility + batch + webhook activities on its own task queue of the real Temporal dev server.
 */
let bundle: Promise<{ code: string }> | undefined;
export function batchWorkflowBundle(): Promise<{ code: string }> {
  const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../workflows/batch-workflows.ts'), logger: quiet });
  return bundle;
}

export interface HarnessOptions {
  members: number;
  /** Mean real-time latency before time scaling (ms). Default 13,500. */
  latencyMeanMs?: number;
  latencySigma?: number;
  timeScale?: number;
  batchDurationMs?: number;
  slots?: number;
  webhookSecrets?: Record<string, string>;
  webhookHosts?: string[];
  /** Wraps the simulator gateway (fault injection in tests). */
  wrapGateway?: (g: StediGateway) => StediGateway;
}

export interface BatchHarness {
  sim: StediSim;
  simUrl: string;
  members: MemberRecord[];
  lists: ReturnType<typeof createInMemoryMemberListStore>;
  errors: ReturnType<typeof createInMemoryBatchErrorStore>;
  cache: ReturnType<typeof createInMemoryEligibilityCache>;
  events: Array<OutgoingEvent & { decoded: BatchJobEvent }>;
  deps: BatchActivityDeps;
  activities: Record<string, (...args: never[]) => Promise<unknown>>;
  createWorker(connection: NativeConnection, namespace: string, taskQueue: string): Promise<Worker>;
  simStats(): Promise<{ peak: number; realtimeCalls: number; batchesSubmitted: number; itemsSubmitted: number }>;
  stop(): Promise<void>;
}

export async function startBatchHarness(o: HarnessOptions): Promise<BatchHarness> {
  const sim = createStediSim({
    concurrency: o.slots ?? 15,
    latency: { meanMs: o.latencyMeanMs ?? 13_500, sigma: o.latencySigma ?? 0.5, minMs: 1 },
    timeScale: o.timeScale ?? 1,
    batchDurationMs: o.batchDurationMs ?? 120_000,
    logger: silentLogger(),
  });
  const { url } = await sim.start(0, '127.0.0.1');
  const members = syntheticMembers(o.members);
  const fixture = createFixtureMemberSource(members);
  const directory: BatchMemberDirectory = {
    getMemberRecords: (ids) => fixture.getMemberRecords(ids),
    async queryMemberIds(_query, cursor, limit) {
      const start = cursor ? Number(cursor) : 0;
      const page = members.slice(start, start + limit).map((m) => m.memberId);
      return { memberIds: page, ...(start + limit < members.length ? { nextCursor: String(start + limit) } : {}) };
    },
  };
  const base = createHttpStediGateway({ baseUrl: url, apiKey: 'local-batch-key' });
  const stedi = o.wrapGateway ? o.wrapGateway(base) : base;
  const slots = createInMemorySlotPool({ limit: o.slots ?? 15, reservedInteractive: 0 });
  const cache = createInMemoryEligibilityCache();
  const lists = createInMemoryMemberListStore();
  const errors = createInMemoryBatchErrorStore();
  const events: BatchHarness['events'] = [];
  const publisher: EventPublisher = {
    async publish(batch) {
      for (const e of batch) events.push({ ...e, decoded: fromBinary(BatchJobEventSchema, e.value) });
    },
    async close() {},
  };
  const provider = { npi: '1999999984', organizationName: 'RTE Test Provider' };
  const logger = silentLogger();
  const deps: BatchActivityDeps = {
    lists,
    errors,
    directory,
    cache,
    stedi,
    load: {
      async load() {
        const st = await slots.stats();
        return { limit: st.limit, inUse: st.interactiveInUse + st.batchInUse };
      },
    },
    events: publisher,
    provider,
    logger,
  };
  const activities = {
    ...createBatchActivities(deps),
    ...createEligibilityActivities({ members: fixture, stedi, slots, cache, provider, memberHashSecret: 'test-secret-0123456789', logger }),
    ...createWebhookActivities({
      secrets: createStaticWebhookSecretStore(o.webhookSecrets ?? {}),
      policy: { allowedHosts: o.webhookHosts ?? ['127.0.0.1'], allowHttp: true },
      logger,
    }),
  } as unknown as BatchHarness['activities'];
  return {
    sim,
    simUrl: url,
    members,
    lists,
    errors,
    cache,
    events,
    deps,
    activities,
    async createWorker(connection, namespace, taskQueue) {
      return Worker.create({ connection, namespace, taskQueue, workflowBundle: await batchWorkflowBundle(), activities, maxConcurrentActivityTaskExecutions: 200 });
    },
    async simStats() {
      const st = sim.stats();
      const realtimeCalls = Object.entries(st.calls)
        .filter(([route]) => route.includes('eligibility/v3'))
        .reduce((n, [, byStatus]) => n + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
      return { peak: st.inFlight.peak, realtimeCalls, batchesSubmitted: st.batches.submitted, itemsSubmitted: st.batches.items };
    },
    async stop() {
      await slots.close();
      await sim.stop();
    },
  };
}

export const TEST_OPTIONS: ResolvedBatchOptions = {
  priority: 'NORMAL',
  strategy: 'OPTIMAL',
  schedulingWindow: 'ANY',
  maxConcurrentRequests: 15,
  timeoutMs: DEFAULT_SUBMIT_LIMITS.defaultTimeoutMs,
  retry: { maxAttempts: 3, initialIntervalMs: 200, maxIntervalMs: 2_000, backoffMultiplier: 2 },
  notifications: { kafkaTopic: 'domain.rte.v1.batch_job_events', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
  cacheMode: 'DEFAULT',
};

export const FAST_TUNING: Partial<BatchTuning> = {
  pollBackoff: { initialMs: 300, maxMs: 2_000, multiplier: 2 },
  webhookScheduleMs: [0, 300, 300, 300],
};

/** Stages member ids like the API does and starts the batch workflow the way the API does. */
export async function startBatch(
  client: Client,
  h: BatchHarness,
  args: { taskQueue: string; clientService: string; clientJobId: string; memberIds: string[]; options?: Partial<ResolvedBatchOptions>; tuning?: Partial<BatchTuning> },
) {
  const batchId = batchWorkflowId(args.clientService, args.clientJobId);
  const listRef = `${batchId}#ids`;
  await h.lists.write(listRef, 0, args.memberIds);
  const options = { ...TEST_OPTIONS, ...args.options };
  const input: BatchWorkflowInput = {
    batchId,
    clientService: args.clientService,
    clientJobId: args.clientJobId,
    submittedAtMs: Date.now(),
    selector: { kind: 'list', listRef, total: args.memberIds.length },
    options,
    tuning: { ...FAST_TUNING, ...args.tuning },
  };
  return client.workflow.start<typeof batchWorkflow>(BATCH_WORKFLOW_TYPE, {
    taskQueue: args.taskQueue,
    workflowId: batchId,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    typedSearchAttributes: [
      { key: RteBatchStatus, value: 'PENDING' },
      { key: RteClientService, value: args.clientService },
      { key: RteClientJobId, value: args.clientJobId },
      { key: RtePriority, value: options.priority },
      { key: RteStrategy, value: options.strategy },
      { key: RteJobType, value: 'RTE_BATCH' },
    ],
  });
}
