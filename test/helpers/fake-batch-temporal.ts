import { emptyCounters, isTerminalStatus } from '../../lib/batch/types';
import type { BatchStatusView, BatchWorkflowInput } from '../../workflows/batch.defs';
import type { BatchListItem, BatchTemporalPort } from '../../api/services/batch-temporal-port';
import { createBatchService, type BatchServiceDeps } from '../../api/services/batch-service';
import { createInMemoryBatchErrorStore, createInMemoryMemberListStore } from '../../activities/batch/memory-stores';
import { createInMemorySubmitRateLimiter } from '../../lib/batch/submit-rate-limiter';

/** A Temporal stand-in: batches live in a map; the test drives their state. */
export function fakeTemporal() {
  const views = new Map<string, BatchStatusView>();
  const hashes = new Map<string, string | undefined>();
  const started: BatchWorkflowInput[] = [];
  const queries: string[] = [];
  const port: BatchTemporalPort = {
    async start(input) {
      if (views.has(input.batchId)) return;
      started.push(input);
      hashes.set(input.batchId, input.requestHash);
      const total = input.selector.kind === 'list' ? input.selector.total : 0;
      views.set(input.batchId, {
        batchId: input.batchId,
        clientService: input.clientService,
        clientJobId: input.clientJobId,
        status: 'PENDING',
        phase: 'WAITING_FOR_WINDOW',
        paused: false,
        counters: emptyCounters(total),
        pending: total,
        percentDone: 0,
        submittedAtMs: input.submittedAtMs,
        options: input.options,
        recentErrors: [],
        totalErrors: 0,
        totalKnown: true,
      });
    },
    async startAndAccept(input, taskQueue) {
      const startedHere = !views.has(input.batchId);
      await port.start(input, taskQueue);
      const stored = hashes.get(input.batchId);
      return { view: views.get(input.batchId)!, startedHere, ...(stored !== undefined ? { requestHash: stored } : {}) };
    },
    async exists(id) {
      return views.has(id);
    },
    async requestHash(id) {
      return hashes.get(id);
    },
    async accepted(id) {
      return views.get(id)!;
    },
    async status(id) {
      return views.get(id);
    },
    async cancel(id, reason) {
      const v = views.get(id)!;
      // As the workflow: a finished batch stays as it ended (cancelling it is a no-op).
      if (isTerminalStatus(v.status)) return v;
      const c = { ...v.counters, cancelled: v.counters.total - v.counters.completed - v.counters.failed };
      const done: BatchStatusView = { ...v, status: 'CANCELLED', counters: c, finishedAtMs: 5_000, failure: { code: 'CANCELLED', message: reason } };
      views.set(id, done);
      return done;
    },
    async pause(id, by) {
      const v = views.get(id)!;
      views.set(id, { ...v, paused: true, status: 'PAUSED', ...(by ? { pausedBy: by } : {}) });
    },
    async resume(id) {
      const v = views.get(id)!;
      const { pausedBy: _, ...rest } = v;
      views.set(id, { ...rest, paused: false, status: 'PENDING' });
    },
    async list(query, pageSize, pageToken) {
      queries.push(query);
      const items: BatchListItem[] = [...views.values()].map((v) => ({ batchId: v.batchId, clientService: v.clientService, clientJobId: v.clientJobId, status: v.status, priority: v.options.priority, strategy: 'BATCH_API', startedAtMs: v.submittedAtMs }));
      const from = pageToken ? Number(Buffer.from(pageToken).toString()) : 0;
      const next = from + pageSize < items.length ? Buffer.from(String(from + pageSize)) : undefined;
      return { items: items.slice(from, from + pageSize), ...(next ? { nextPageToken: next } : {}) };
    },
  };
  return { port, views, started, queries };
}

/**
 * The batch service on `fakeTemporal()`'s port and in-memory stores (member lists, errors, a generous submit limit):
 * what API-server tests that only need the batch RPCs and their streams build it with.
 */
export function fakeBatchService(temporal: BatchTemporalPort, watch: NonNullable<BatchServiceDeps['watch']>) {
  return createBatchService({
    temporal,
    lists: createInMemoryMemberListStore(),
    errors: createInMemoryBatchErrorStore(),
    rateLimiter: createInMemorySubmitRateLimiter({ limit: 100, windowMs: 3_600_000 }),
    taskQueue: 'rte-main',
    watch,
  });
}
