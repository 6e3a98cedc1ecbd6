/**
 * Records batchWorkflow histories for the replay test (workflows/replay.test.ts), one per path a running batch can
 * take: the Stedi batch API with webhooks and past its deadline, real-time outcomes with pause/resume and the
 * accepted update, a query selector cancelled by the update, the timeout, CACHE_ONLY under load, continue-as-new, a
 * warming batch-API child under load, and a window deferred by Stedi load (before and after the load re-check of issue 10).
 *
 *   npx tsx scripts/record-batch-histories.ts [--workflows <path to a workflows/index.ts>] [--prefix <p>] [--suffix <s>] [only...]
 *
 * `--workflows` records with other workflow code, e.g. the previous release's (a checkout of main), so the saved
 * histories prove that today's code replays what the previous code wrote. Activities are stand-ins with fixed
 * answers (the histories are about the workflow's commands, not the adapters); everything runs on the shared
 * Temporal dev server with the production data converter (payloads encrypted like production). Writes
 * test/histories/<prefix><scenario><suffix>.bin.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { PlanMembersInput, PlanMembersResult, PollStediChunkInput, ResolveQueryPageInput, SubmitStediChunkInput } from '../activities/batch/activities';
import { Bitmap } from '../lib/batch/bitmap';
import type { ResolvedBatchOptions } from '../lib/batch/types';
import { loadConfig } from '../lib/config';
import { ErrorType } from '../lib/errors';
import { temporalDataConverter } from '../lib/temporal/connect';
import { batchAcceptedUpdate, batchStatusQuery, cancelBatchUpdate, pauseBatchSignal, resumeBatchSignal, type BatchTuning, type BatchWorkflowInput } from '../workflows/batch.defs';
import type { EligibilityRefreshInput } from '../workflows/eligibility-refresh.defs';
import { connectTemporal, uniqueName, type TemporalTestContext } from '../test/helpers/temporal';

const OPTIONS: ResolvedBatchOptions = {
  priority: 'NORMAL',
  strategy: 'REALTIME_ONLY',
  schedulingWindow: 'ANY',
  maxConcurrentRequests: 2,
  timeoutMs: 3_600_000,
  retry: { maxAttempts: 1, initialIntervalMs: 200, maxIntervalMs: 1_000, backoffMultiplier: 2 },
  notifications: { kafkaTopic: 'unused-in-recording', eventTypes: [], deliveryMode: 'AT_LEAST_ONCE' },
  cacheMode: 'DEFAULT',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stand-in batch activities; each scenario overrides what it exercises. */
function baseActivities(load: () => number) {
  return {
    async getStediLoad() {
      const l = load();
      return { limit: 15, inUse: Math.round(l * 15), freeSlots: 15 - Math.round(l * 15), load: l };
    },
    /** Every member needs a Stedi call; a page under load ≥ 0.3 is deferred 6 s past the batch's schedule base. */
    async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
      const due = input.load >= 0.3 ? input.scheduleBaseMs + 6_000 : input.scheduleBaseMs;
      if (due > input.nowMs + 1000) return { kind: 'wait', notBeforeMs: due };
      const refresh = Array.from({ length: input.count }, (_, k) => ({ i: input.start + k, memberId: `rec-${input.start + k}`, atMs: 0 }));
      return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: refresh.length, refresh, windows: { ANY: refresh.length } };
    },
    async refreshEligibility(_input: EligibilityRefreshInput) {
      return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
    },
    async recordMemberErrors() {},
    async publishBatchEvent() {},
    async releaseMemberList() {},
    async deliverWebhook() {
      return { outcome: 'delivered' as const, httpStatus: 200 };
    },
  };
}

/** Waits, heartbeating, until the workflow cancels the activity. */
async function hangUntilCancelled(): Promise<never> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await ctx.sleep(200);
  }
}

interface Scenario {
  activities: Record<string, (...args: never[]) => Promise<unknown>>;
  input: (batchId: string) => Omit<BatchWorkflowInput, 'batchId' | 'clientService' | 'clientJobId' | 'submittedAtMs'>;
  /** Drives the run (signals, updates) and returns the run id whose history is saved (default: the first run). */
  drive?: (ctx: TemporalTestContext, batchId: string) => Promise<void>;
}

const list = (batchId: string, total: number) => ({ kind: 'list' as const, listRef: `${batchId}#ids`, total });

const SCENARIOS: Record<string, Scenario> = {
  // Stedi batch API: cache answers at planning, rejected members at submission, partial then final polls, a webhook
  // child per event.
  'batch-api-webhook': {
    activities: {
      ...baseActivities(() => 0),
      async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
        return { kind: 'plan', hits: 1, hitErrors: 1, notCached: 0, refreshCount: input.count - 2, refreshBitmap: 'AAA=', windows: { ANY: input.count } };
      },
      async submitStediChunk(input: SubmitStediChunkInput) {
        return { stediBatchId: `sb-${input.chunkNo}`, submitted: 'AAA=', submittedCount: input.size - 3, rejected: 1, recoveredByName: false };
      },
      async pollStediChunk(input: PollStediChunkInput) {
        const first = input.seen === 'AAA=' || !input.seen.startsWith('seen');
        return first
          ? { seen: 'seen-1', seenCount: 2, newCompleted: 1, newFailed: 1, missing: 0, stediStatus: 'IN_PROGRESS', done: false }
          : { seen: 'seen-2', seenCount: input.size - 3, newCompleted: input.size - 6, newFailed: 0, missing: 1, stediStatus: 'COMPLETED', done: true };
      },
    },
    input: (batchId) => ({
      selector: list(batchId, 12),
      options: { ...OPTIONS, strategy: 'BATCH_ONLY', notifications: { ...OPTIONS.notifications, callbackUrl: 'https://hooks.example.test/rte' } },
      tuning: { batchChunkSize: 6, pollBackoff: { initialMs: 500, maxMs: 1_000, multiplier: 2 }, progressStepPercent: 25, webhookScheduleMs: [0] } satisfies Partial<BatchTuning>,
    }),
  },
  // Stedi batch API past its deadline (deadline-ends-waits-v1): the poll backoff is cut to the deadline, so the wait
  // for that poll has no timer of its own and the batch timeout ends it.
  'batch-api-deadline': {
    activities: {
      ...baseActivities(() => 0),
      async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
        const all = Bitmap.fromIndexes(input.count, Array.from({ length: input.count }, (_, k) => k));
        return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: input.count, refreshBitmap: all.encode(), windows: { ANY: input.count } };
      },
      async submitStediChunk(input: SubmitStediChunkInput) {
        return { stediBatchId: `sb-${input.chunkNo}`, submitted: input.refreshBitmap, submittedCount: input.size, rejected: 0, recoveredByName: false };
      },
      async pollStediChunk(input: PollStediChunkInput) {
        return { seen: input.seen, seenCount: 0, newCompleted: 0, newFailed: 0, missing: 0, stediStatus: 'IN_PROGRESS', done: false };
      },
    },
    input: (batchId) => ({
      selector: list(batchId, 3),
      options: { ...OPTIONS, strategy: 'BATCH_ONLY', timeoutMs: 3_000 },
      tuning: { pollBackoff: { initialMs: 1_000, maxMs: 8_000, multiplier: 2 } } satisfies Partial<BatchTuning>,
    }),
  },
  // Real time: success, payer error, rejected by Stedi, not in the directory, answered by a newer cache entry; paused
  // and resumed mid-run; SubmitBatch's accepted update.
  'batch-realtime-outcomes': {
    activities: {
      ...baseActivities(() => 0),
      async refreshEligibility(input: EligibilityRefreshInput) {
        const i = input.batchMember?.index ?? 0;
        await sleep(300);
        if (i === 1) return { outcome: 'error' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
        if (i === 2) throw ApplicationFailure.create({ type: ErrorType.StediValidation, message: 'rejected by Stedi', nonRetryable: true });
        if (i === 3) throw ApplicationFailure.create({ type: ErrorType.MemberNotFound, message: 'not in the directory', nonRetryable: true });
        return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: i === 4 ? 0 : 1 };
      },
    },
    input: (batchId) => ({ selector: list(batchId, 6), options: { ...OPTIONS, maxConcurrentRequests: 1 }, tuning: { progressStepPercent: 20 } }),
    drive: async (ctx, batchId) => {
      const h = ctx.client.workflow.getHandle(batchId);
      await h.executeUpdate(batchAcceptedUpdate);
      await h.signal(pauseBatchSignal);
      await sleep(1_000);
      await h.query(batchStatusQuery);
      await h.signal(resumeBatchSignal);
    },
  },
  // A member_query resolved in two pages, then cancelled with cancelBatchAndWait while checks are in flight.
  'batch-query-cancel': {
    activities: {
      ...baseActivities(() => 0),
      async resolveQueryPage(input: ResolveQueryPageInput) {
        return input.cursor ? { count: 2, exceeded: false } : { count: 3, nextCursor: 'page-2', exceeded: false };
      },
      refreshEligibility: hangUntilCancelled,
    },
    input: () => ({ selector: { kind: 'query', query: { cohorts: [] } }, options: OPTIONS }),
    drive: async (ctx, batchId) => {
      const h = ctx.client.workflow.getHandle(batchId);
      for (let k = 0; k < 100 && (await h.query(batchStatusQuery)).startedAtMs === undefined; k++) await sleep(100);
      await sleep(500);
      await h.executeUpdate(cancelBatchUpdate, { args: [{ reason: 'recording: cancel while checks run' }] });
    },
  },
  // A member_query whose resolution outlasts SubmitBatch's 15 s bound (batch-accepted-bounded-v1: the accepted update
  // answers with totalKnown false), then 4 members one at a time with a webhook, cancelled while the third check
  // runs: that check's progress step is published and delivered like any other (batch-events-outlive-cancel-v1).
  'batch-query-slow-cancel-mid-check': {
    activities: {
      ...baseActivities(() => 0),
      async resolveQueryPage(input: ResolveQueryPageInput) {
        if (input.cursor) return { count: 2, exceeded: false };
        await sleep(17_000);
        return { count: 2, nextCursor: 'page-2', exceeded: false };
      },
      async refreshEligibility(input: EligibilityRefreshInput) {
        if (input.batchMember?.index === 2) return hangUntilCancelled();
        await sleep(300);
        return { outcome: 'success' as const, fetchedAt: 1, expiresAt: 2, stediCalls: 1 };
      },
    },
    input: () => ({
      selector: { kind: 'query', query: { cohorts: [] } },
      options: { ...OPTIONS, maxConcurrentRequests: 1, notifications: { ...OPTIONS.notifications, callbackUrl: 'https://hooks.example.test/rte' } },
      tuning: { webhookScheduleMs: [0] } satisfies Partial<BatchTuning>,
    }),
    drive: async (ctx, batchId) => {
      const h = ctx.client.workflow.getHandle(batchId);
      const accepted = await h.executeUpdate(batchAcceptedUpdate);
      if (accepted.totalKnown) throw new Error('recording: the accepted update should have answered before the query resolved');
      for (let k = 0; k < 300 && (await h.query(batchStatusQuery)).counters.completed < 2; k++) await sleep(100);
      await sleep(500);
      await h.executeUpdate(cancelBatchUpdate, { args: [{ reason: 'recording: cancel during the third check' }] });
    },
  },
  // The batch timeout fires while a check hangs.
  'batch-timeout': {
    activities: { ...baseActivities(() => 0), refreshEligibility: hangUntilCancelled },
    input: (batchId) => ({ selector: list(batchId, 3), options: { ...OPTIONS, timeoutMs: 2_000 } }),
  },
  // CACHE_ONLY while Stedi is busy: planned with load 0, answered from cache only.
  'batch-cache-only-busy': {
    activities: {
      ...baseActivities(() => 0.9),
      async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
        if (input.load >= 0.3) return { kind: 'wait', notBeforeMs: input.scheduleBaseMs + 6_000 };
        return { kind: 'plan', hits: 1, hitErrors: 0, notCached: input.count - 1, refreshCount: 0, refresh: [], windows: { ANY: input.count } };
      },
    },
    input: (batchId) => ({ selector: list(batchId, 4), options: { ...OPTIONS, cacheMode: 'CACHE_ONLY' } }),
  },
  // Small pages and a low event limit: the first run continues as new (its history is the one saved).
  'batch-continue-as-new': {
    activities: baseActivities(() => 0),
    input: (batchId) => ({ selector: list(batchId, 8), options: OPTIONS, tuning: { realtimePageSize: 2, continueAsNewAfterEvents: 40 } }),
  },
  // Real-time chunks at Stedi latency (issue 14, realtime-chunks-slow-v1): the run's first chunks are probes of 3
  // members; their members took 13 s (median), so the rest of the batch goes one refreshEligibility activity each.
  'batch-realtime-chunks-slow': {
    activities: {
      ...baseActivities(() => 0),
      async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
        const refresh = Array.from({ length: input.count }, (_, k) => ({ i: input.start + k, atMs: 0 }));
        return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: refresh.length, refresh, windows: { ANY: refresh.length } };
      },
      async refreshEligibilityChunk(input: { items: number[] }) {
        await sleep(200);
        return { outcomes: input.items.map((i) => ({ i, r: 'ok' as const, calls: 1, ms: 13_000 })), notStarted: [] };
      },
    },
    input: (batchId) => ({ selector: list(batchId, 20), options: { ...OPTIONS, maxConcurrentRequests: 15 }, tuning: { realtimeChunkMembers: 4 } }),
  },
  // Real-time members in chunks (issue 14, realtime-chunks-v1): a full-width batch whose plans carry list indices;
  // chunks of 4 answer success, a payer error, a non-retryable failure, a retryable failure (retried on its own with
  // the batch's policy) and hand members back not started; a pause and resume between chunks.
  'batch-realtime-chunks': {
    activities: (() => {
      let calls = 0;
      return {
        ...baseActivities(() => 0),
        async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
          const refresh = Array.from({ length: input.count }, (_, k) => ({ i: input.start + k, atMs: 0 }));
          return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: refresh.length, refresh, windows: { ANY: refresh.length } };
        },
        async refreshEligibilityChunk(input: { items: number[] }) {
          await sleep(300);
          const first = ++calls === 1;
          const run = first ? input.items.slice(0, 2) : input.items;
          const outcomes = run.map((i) =>
            i === 1
              ? { i, r: 'err' as const, calls: 1, ms: 5 }
              : i === 2
                ? { i, r: 'failed' as const, ms: 5, type: ErrorType.MemberNotFound, msg: 'not in the directory' }
                : i === 3
                  ? { i, r: 'retry' as const, ms: 5, type: ErrorType.Internal, msg: 'internal error' }
                  : { i, r: 'ok' as const, calls: 1, ms: 5 },
          );
          return { outcomes, notStarted: first ? input.items.slice(2) : [] };
        },
      };
    })(),
    input: (batchId) => ({
      selector: list(batchId, 10),
      options: { ...OPTIONS, maxConcurrentRequests: 15, retry: { ...OPTIONS.retry, maxAttempts: 2 } },
      tuning: { realtimeChunkMembers: 4, progressStepPercent: 50 },
    }),
    drive: async (ctx, batchId) => {
      const h = ctx.client.workflow.getHandle(batchId);
      await h.executeUpdate(batchAcceptedUpdate);
      await h.signal(pauseBatchSignal);
      await sleep(800);
      await h.query('batchDispatchGate');
      await h.signal(resumeBatchSignal);
    },
  },
  // A cache-warming job's Stedi batch-API child (PRELOAD: window ANY, priority NORMAL) while the real-time slots are
  // busy (load 0.9): it takes no slot, so it plans with load 0 and submits at once (warming-batch-api-ignores-slot-load-v1;
  // recorded with older workflow code, the page is deferred 6 s by the load first).
  'batch-warming-api-busy': {
    activities: {
      ...baseActivities(() => 0.9),
      async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
        if (input.load >= 0.3 && input.nowMs < input.scheduleBaseMs + 6_000) return { kind: 'wait', notBeforeMs: input.scheduleBaseMs + 6_000 };
        const all = Bitmap.fromIndexes(input.count, Array.from({ length: input.count }, (_, k) => k));
        return { kind: 'plan', hits: 0, hitErrors: 0, notCached: 0, refreshCount: input.count, refreshBitmap: all.encode(), windows: { ANY: input.count } };
      },
      async submitStediChunk(input: SubmitStediChunkInput) {
        return { stediBatchId: `sb-${input.chunkNo}`, submitted: input.refreshBitmap, submittedCount: input.size, rejected: 0, recoveredByName: false };
      },
      async pollStediChunk(input: PollStediChunkInput) {
        return { seen: input.submitted, seenCount: input.size, newCompleted: input.size, newFailed: 0, missing: 0, stediStatus: 'COMPLETED', done: true };
      },
    },
    input: (batchId) => ({
      selector: list(batchId, 3),
      options: { ...OPTIONS, strategy: 'BATCH_ONLY', cacheMode: 'BYPASS_CACHE' },
      warming: { jobId: `${batchId}-job`, priority: 'PRELOAD' },
      tuning: { pollBackoff: { initialMs: 500, maxMs: 1_000, multiplier: 2 } } satisfies Partial<BatchTuning>,
    }),
  },
  // ANY window deferred by Stedi load (0.9 at the start, 0.1 from the third reading on); re-checked every second
  // where the workflow code re-checks, else started when the deferral ends.
  'batch-load-deferred': {
    activities: (() => {
      let reads = 0;
      return baseActivities(() => (++reads <= 2 ? 0.9 : 0.1));
    })(),
    input: (batchId) => ({ selector: list(batchId, 3), options: OPTIONS, tuning: { loadRecheckMs: 1_000 } as Partial<BatchTuning> }),
  },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const k = args.indexOf(name);
    if (k < 0) return undefined;
    const v = args[k + 1];
    args.splice(k, 2);
    return v;
  };
  const workflowsPath = path.resolve(flag('--workflows') ?? path.resolve(__dirname, '../workflows/index.ts'));
  const prefix = flag('--prefix') ?? '';
  const suffix = flag('--suffix') ?? '';
  const only = args.length > 0 ? args : Object.keys(SCENARIOS);
  const config = loadConfig();
  const bundle = await bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } });
  const ctx = await connectTemporal();
  try {
    for (const name of only) {
      const sc = SCENARIOS[name];
      if (!sc) throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
      const taskQueue = uniqueName(`tq-record-${name}`);
      const worker = await Worker.create({
        connection: ctx.nativeConnection,
        namespace: ctx.namespace,
        taskQueue,
        workflowBundle: bundle,
        dataConverter: temporalDataConverter(config),
        activities: sc.activities,
      });
      const batchId = uniqueName(`batch/record/${name}`);
      let runId = '';
      await worker.runUntil(async () => {
        const handle = await ctx.client.workflow.start('batchWorkflow', {
          taskQueue,
          workflowId: batchId,
          args: [{ batchId, clientService: 'record', clientJobId: batchId, submittedAtMs: Date.now(), ...sc.input(batchId) }],
        });
        runId = handle.firstExecutionRunId;
        if (sc.drive) await sc.drive(ctx, batchId);
        await handle.result();
        // Webhook children (abandoned by the parent) finish on this worker too.
        await sleep(1_500);
      });
      const history = await ctx.client.workflow.getHandle(batchId, runId).fetchHistory();
      const bytes = temporal.api.history.v1.History.encode(history).finish();
      const file = path.resolve(__dirname, '../test/histories', `${prefix}${name}${suffix}.bin`);
      writeFileSync(file, bytes);
      console.log(`${file}: ${history.events?.length ?? 0} events, ${bytes.length} bytes`);
    }
  } finally {
    await ctx.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
