import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { BatchEventType, BatchStatus, WatchBatchRequestSchema, type BatchStatusUpdate } from '../../gen/rte/v1/batch_pb';
import { emptyCounters } from '../../lib/batch/types';
import type { BatchStatusView } from '../../workflows/batch.defs';
import { applyUpdate, progressLine } from '../../cli/rtectl/watch';
import { realtimeTestOptions } from '../../test/helpers/batch-stand-ins';
import { batchStatusStream, unaskableReason } from './batch-status-stream';

describe('unaskableReason (what a client is told when a batch status could not be read for 60 s)', () => {
  test('names the error class in fixed words and never quotes the error', () => {
    const secret = 'Failed to query Workflow: 10.0.3.7:7233 sticky queue rte-worker-4f1/…';
    expect(unaskableReason(new ConnectError(secret, Code.DeadlineExceeded))).toBe('the status read timed out');
    expect(unaskableReason(new ConnectError(secret, Code.Unavailable))).toBe('a service the status read needs is unavailable');
    expect(unaskableReason(new ConnectError(secret, Code.Internal))).toBe('the batch workflow did not answer its status query');
    expect(unaskableReason(new Error(secret))).toBe('the batch workflow did not answer its status query');
    expect(unaskableReason(secret)).toBe('the batch workflow did not answer its status query');
  });
});

/** A two-member real-time batch of svc-a, PENDING in a window unless `patch` says otherwise. */
function pendingView(clientJobId: string, patch: Partial<BatchStatusView>): BatchStatusView {
  return {
    batchId: `batch/svc-a/${clientJobId}`,
    clientService: 'svc-a',
    clientJobId,
    status: 'PENDING',
    phase: 'WAITING_FOR_WINDOW',
    paused: false,
    counters: emptyCounters(2),
    pending: 2,
    percentDone: 0,
    submittedAtMs: 1_000,
    options: realtimeTestOptions(),
    recentErrors: [],
    totalErrors: 0,
    totalKnown: true,
    ...patch,
  };
}

describe('batchStatusStream: the first update', () => {
  const batchId = 'batch/svc-a/job-1';
  const view = (patch: Partial<BatchStatusView>): BatchStatusView => pendingView('job-1', patch);
  const stream = (v: BatchStatusView, signal: AbortSignal) =>
    // Polls and keepalives a minute apart: whatever comes first comes from the first view.
    batchStatusStream({ temporal: { status: async () => v }, now: Date.now, watch: { pollIntervalMs: 60_000, keepaliveMs: 60_000 } }, create(WatchBatchRequestSchema, { batchId }), signal, v);

  test('a batch waiting for its window: its status goes out at once, not after the first keepalive (probe p16 #11f)', async () => {
    const abort = new AbortController();
    try {
      const t0 = Date.now();
      const first = await stream(view({ status: 'PENDING', waitingUntilMs: Date.now() + 3_600_000 }), abort.signal).next();
      expect(Date.now() - t0).toBeLessThan(1_000);
      expect(first.value).toMatchObject({ batchId, eventType: BatchEventType.EVENT_TYPE_PROGRESS, status: BatchStatus.PENDING, update: { case: undefined } });
    } finally {
      abort.abort();
    }
  });

  test('a batch already finished: STARTED carries its real counters, not zeros beside COMPLETED (probe p16 #11g)', async () => {
    const abort = new AbortController();
    const done = view({ status: 'COMPLETED', phase: 'DONE', startedAtMs: 2_000, finishedAtMs: 5_000, pending: 0, counters: { ...emptyCounters(2), completed: 2 } });
    const updates: BatchStatusUpdate[] = [];
    for await (const u of stream(done, abort.signal)) updates.push(u);
    expect(updates.map((u) => u.update.case)).toEqual(['started', 'completed']);
    const started = updates[0]!;
    expect(started.status).toBe(BatchStatus.COMPLETED);
    expect(started.update.case === 'started' && started.update.value.progress).toMatchObject({ totalMembers: 2, completed: 2, failed: 0, pending: 0 });
    // rtectl's watch reads it: its first line is 2/2, never 0/2 … COMPLETED.
    const state = applyUpdate({ batchId, total: 2, completed: 0, failed: 0, status: BatchStatus.PENDING }, started);
    expect(progressLine(state, Date.now())).toMatch(/^2\/2 \(100%\) · 2 ok · 0 failed · .* · COMPLETED$/);
  });

  test('a batch that just started: STARTED carries zero counters and its total', async () => {
    const abort = new AbortController();
    try {
      const first = await stream(view({ status: 'RUNNING', phase: 'RUNNING', startedAtMs: Date.now() }), abort.signal).next();
      expect(first.value?.update.case === 'started' && first.value.update.value.progress).toMatchObject({ totalMembers: 2, completed: 0, failed: 0, pending: 2 });
    } finally {
      abort.abort();
    }
  });

  test('a PAUSED batch: STARTED and PROGRESS carry its counters and no estimated completion, nobody knows when it resumes (probe p18 F9)', async () => {
    const abort = new AbortController();
    const t0 = Date.now() - 60_000;
    const paused = view({ status: 'PAUSED', phase: 'RUNNING', paused: true, startedAtMs: t0, estimatedCompletionMs: Date.now() + 60_000, pending: 1, counters: { ...emptyCounters(2), completed: 1 } });
    try {
      const it = stream(paused, abort.signal);
      const started = (await it.next()).value as BatchStatusUpdate;
      const progress = (await it.next()).value as BatchStatusUpdate;
      expect([started.update.case, progress.update.case, progress.status]).toEqual(['started', 'progress', BatchStatus.PAUSED]);
      expect(started.update.case === 'started' && started.update.value.progress).toMatchObject({ completed: 1, pending: 1 });
      expect(started.update.case === 'started' && started.update.value.progress?.estimatedCompletion).toBeUndefined();
      expect(progress.update.case === 'progress' && progress.update.value).toMatchObject({ completed: 1, pending: 1 });
      expect(progress.update.case === 'progress' && progress.update.value.estimatedCompletion).toBeUndefined();
    } finally {
      abort.abort();
    }
  });
});

describe('batchStatusStream: live and last-known views during a worker outage (probe p17 #3)', () => {
  const batchId = 'batch/svc-a/job-2';
  const running = (done: { completed: number; failed?: number }, asOfMs?: number): BatchStatusView =>
    ({
      batchId,
      clientService: 'svc-a',
      clientJobId: 'job-2',
      status: 'RUNNING',
      phase: 'RUNNING',
      paused: false,
      counters: { ...emptyCounters(20), completed: done.completed, failed: done.failed ?? 0 },
      pending: 20 - done.completed - (done.failed ?? 0),
      percentDone: 0,
      submittedAtMs: 1_000,
      startedAtMs: 2_000,
      options: realtimeTestOptions(),
      recentErrors: [],
      totalErrors: 0,
      totalKnown: true,
      ...(asOfMs !== undefined ? { lastKnownAsOfMs: asOfMs } : {}),
    }) as BatchStatusView;

  test('follows whichever view is ahead, never steps counters back, says when a view is last-known, and always sends the final one', async () => {
    const polls: BatchStatusView[] = [
      // The worker stopped: activities kept recording outcomes, so the last-known view is AHEAD of the live one sent.
      running({ completed: 16, failed: 1 }, 77_000),
      // After the restart the live view lags what was shown: skipped, not sent as a step back.
      running({ completed: 6 }),
      // A last-known view behind what was sent: skipped too.
      running({ completed: 10 }, 78_000),
      // The live view catches up and passes: sent.
      running({ completed: 17, failed: 1 }),
      // Final: always sent, even when its counters are behind (a final view is the batch's own last word).
      { ...running({ completed: 15, failed: 1 }), status: 'PARTIALLY_COMPLETED', phase: 'DONE', finishedAtMs: 90_000, pending: 0, counters: { ...emptyCounters(20), completed: 15, failed: 1, cancelled: 4 } },
    ];
    const stream = batchStatusStream(
      { temporal: { status: async () => polls.shift() ?? polls[polls.length - 1] }, now: Date.now, watch: { pollIntervalMs: 1, keepaliveMs: 60_000 } },
      create(WatchBatchRequestSchema, { batchId }),
      new AbortController().signal,
      running({ completed: 3 }),
    );
    const seen: Array<{ done: number; case: string | undefined; timestampMs: number }> = [];
    const t0 = Date.now();
    for await (const u of stream) {
      const p = u.update.case === 'progress' ? u.update.value : u.update.case === 'completed' ? u.update.value.finalProgress : u.update.case === 'started' ? u.update.value.progress : undefined;
      seen.push({ done: p ? p.completed + p.failed + p.cancelled : -1, case: u.update.case, timestampMs: u.timestamp ? Number(u.timestamp.seconds) * 1000 + Math.round(u.timestamp.nanos / 1e6) : 0 });
    }
    expect(seen.map((s) => [s.case, s.done])).toEqual([
      ['started', 3],
      ['progress', 3],
      ['progress', 17],
      ['progress', 18],
      ['completed', 20],
    ]);
    // Every update is stamped with when it was sent, also the one from a last-known view: timestamps never step back.
    for (const [k, s] of seen.entries()) expect(s.timestampMs).toBeGreaterThanOrEqual(k === 0 ? t0 : seen[k - 1]!.timestampMs);
  });
});

describe('batchStatusStream: event_types filters and how the batch ended (probe p18 F17)', () => {
  const batchId = 'batch/svc-a/job-3';
  const base = (patch: Partial<BatchStatusView>): BatchStatusView => pendingView('job-3', patch);
  const completed = base({ status: 'COMPLETED', phase: 'DONE', startedAtMs: 2_000, finishedAtMs: 5_000, pending: 0, counters: { ...emptyCounters(2), completed: 2 } });
  const cancelled = base({ status: 'CANCELLED', phase: 'DONE', finishedAtMs: 5_000, pending: 0, counters: { ...emptyCounters(2), cancelled: 2 }, failure: { code: 'CANCELLED', message: 'no longer needed' } });
  type Seen = [BatchEventType, string | undefined, BatchStatus];
  const watch = async (eventTypes: BatchEventType[], first: BatchStatusView, polls: BatchStatusView[] = [], outcomes?: Array<{ memberIndex: number; memberId: string; success: boolean; seq: number }>) => {
    const seen: Seen[] = [];
    const stream = batchStatusStream(
      {
        temporal: { status: async () => polls.shift() ?? polls[polls.length - 1] ?? first },
        ...(outcomes ? { outcomes: { read: async (_id: string, after: number) => outcomes.filter((o) => o.seq > after) } } : {}),
        now: Date.now,
        watch: { pollIntervalMs: 1, keepaliveMs: 60_000 },
      },
      create(WatchBatchRequestSchema, { batchId, eventTypes }),
      new AbortController().signal,
      first,
    );
    for await (const u of stream) seen.push([u.eventType, u.update.case, u.status]);
    return seen;
  };
  const { EVENT_TYPE_STARTED: STARTED, EVENT_TYPE_PROGRESS: PROGRESS, EVENT_TYPE_MEMBER_COMPLETED: MEMBER, EVENT_TYPE_COMPLETED: COMPLETED, EVENT_TYPE_FAILED: FAILED } = BatchEventType;

  test('a watcher of COMPLETED only hears that its waiting batch was cancelled: the FAILED update, status CANCELLED', async () => {
    expect(await watch([COMPLETED], base({ waitingUntilMs: Date.now() + 3_600_000 }), [cancelled])).toEqual([
      [PROGRESS, undefined, BatchStatus.PENDING],
      [FAILED, 'failed', BatchStatus.CANCELLED],
    ]);
  });

  test('a finished batch: a filter naming either terminal kind gets the end whatever its kind', async () => {
    expect(await watch([FAILED], completed)).toEqual([[COMPLETED, 'completed', BatchStatus.COMPLETED]]);
    expect(await watch([COMPLETED], cancelled)).toEqual([[FAILED, 'failed', BatchStatus.CANCELLED]]);
  });

  test('a finished batch: a filter that matches nothing gets its status once as an empty PROGRESS, then the end', async () => {
    expect(await watch([PROGRESS], completed)).toEqual([[PROGRESS, undefined, BatchStatus.COMPLETED]]);
    expect(await watch([PROGRESS], cancelled)).toEqual([[PROGRESS, undefined, BatchStatus.CANCELLED]]);
    // STARTED already carries the final status: nothing more.
    expect(await watch([STARTED], completed)).toEqual([[STARTED, 'started', BatchStatus.COMPLETED]]);
  });

  test('MEMBER_COMPLETED only: an empty PROGRESS first, every member, and an update with the final status before the end', async () => {
    const running = base({ status: 'RUNNING', phase: 'RUNNING', startedAtMs: 2_000, pending: 0, counters: { ...emptyCounters(2), completed: 2 } });
    const rows = [
      { memberIndex: 0, memberId: 'm_1', success: true, seq: 1 },
      { memberIndex: 1, memberId: 'm_2', success: true, seq: 2 },
    ];
    // Both members are sent while the batch still reports RUNNING; the end then says COMPLETED.
    expect(await watch([MEMBER], base({}), [running, running, completed], rows)).toEqual([
      [PROGRESS, undefined, BatchStatus.PENDING],
      [MEMBER, 'memberCompleted', BatchStatus.RUNNING],
      [MEMBER, 'memberCompleted', BatchStatus.RUNNING],
      [PROGRESS, undefined, BatchStatus.COMPLETED],
    ]);
  });
});
