/**
 * `--watch`: follows WatchBatchStatus and shows a live bar (cli-progress) with done / failed / ETA, member lines with
 * `--verbose`, or NDJSON with `--json`. Ctrl-C stops watching only; the batch keeps running, and the message says how
 * to resume watching. A dropped stream is re-opened (WatchBatchStatus starts again from the batch's current state).
 */
import { toJson } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import cliProgress from 'cli-progress';
import {
  BatchEventType,
  BatchStatus,
  BatchStatusUpdateSchema,
  type BatchEligibilityService,
  type BatchProgress,
  type BatchStatusUpdate,
} from '../../gen/rte/v1/batch_pb';
import { EXIT, exitCodeForTerminal } from './exit-codes';
import type { CliIo } from './io';

export interface WatchState {
  batchId: string;
  total: number;
  completed: number;
  failed: number;
  status: BatchStatus;
  /** Server ETA (progress.estimated_completion), ms since the epoch. */
  etaMs?: number;
  terminal?: { status: BatchStatus; code?: string; message?: string };
}

export const statusName = (s: BatchStatus): string => (BatchStatus[s] ?? String(s)).toString();

/** Folds one update into the state (pure; counters never go backwards). */
export function applyUpdate(s: WatchState, u: BatchStatusUpdate): WatchState {
  const next: WatchState = { ...s, status: u.status };
  const take = (p: BatchProgress | undefined) => {
    if (!p) return;
    if (p.totalMembers > 0) next.total = p.totalMembers;
    next.completed = Math.max(next.completed, p.completed);
    next.failed = Math.max(next.failed, p.failed);
    if (p.estimatedCompletion) next.etaMs = timestampMs(p.estimatedCompletion);
  };
  switch (u.update.case) {
    case 'started':
      if (u.update.value.totalMembers > 0) next.total = u.update.value.totalMembers;
      // A batch already under way or finished when watching began: STARTED carries its counters (probe p16 #11g).
      take(u.update.value.progress);
      break;
    case 'progress':
      take(u.update.value);
      break;
    case 'completed':
      take(u.update.value.finalProgress);
      next.status = u.update.value.status;
      next.terminal = { status: u.update.value.status };
      break;
    case 'failed':
      take(u.update.value.finalProgress);
      next.status = u.update.value.status;
      next.terminal = { status: u.update.value.status, code: u.update.value.errorCode, message: u.update.value.errorMessage };
      break;
    default:
      break;
  }
  return next;
}

/** `ETA 12s` / `ETA 3m05s`, from the server's estimate; `ETA --` when unknown or past. */
export function formatEta(etaMs: number | undefined, nowMs: number): string {
  if (etaMs === undefined) return 'ETA --';
  const s = Math.max(0, Math.round((etaMs - nowMs) / 1000));
  if (s >= 3600) return `ETA ${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `ETA ${s}s`;
}

/** One plain line of progress (non-TTY output and the final line). */
export function progressLine(s: WatchState, nowMs: number): string {
  const done = s.completed + s.failed;
  const pct = s.total > 0 ? Math.floor((done / s.total) * 100) : 0;
  return `${done}/${s.total} (${pct}%) · ${s.completed} ok · ${s.failed} failed · ${formatEta(s.terminal ? undefined : s.etaMs, nowMs)} · ${statusName(s.status)}`;
}

export function resumeHint(batchId: string): string {
  return `rtectl batch watch ${batchId}`;
}

export interface WatchOptions {
  batchId: string;
  initialTotal: number;
  verbose: boolean;
  json: boolean;
  /** Re-open attempts after a dropped stream (default 5). */
  reconnects?: number;
}

/**
 * Watches until the batch ends (exit code from its terminal status), the user presses Ctrl-C (130; the batch keeps
 * running) or the stream cannot be re-opened (the error goes to the caller).
 */
export async function watchBatch(client: Client<typeof BatchEligibilityService>, io: CliIo, opts: WatchOptions): Promise<number> {
  let state: WatchState = { batchId: opts.batchId, total: opts.initialTotal, completed: 0, failed: 0, status: BatchStatus.PENDING };
  const abort = new AbortController();
  let interrupted = false;
  const offSigint = io.onInterrupt(() => {
    interrupted = true;
    abort.abort();
  });
  const tty = io.isTTY && !opts.json;
  const multibar = tty
    ? new cliProgress.MultiBar(
        {
          stream: io.stderrStream,
          format: `{bar} {percentage}% | {value}/{total} done | {failed} failed | {etaText} | {status}`,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          fps: 10,
          barsize: 30,
          forceRedraw: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bar = multibar?.create(Math.max(1, state.total), 0, { failed: 0, etaText: 'ETA --', status: 'PENDING' });
  let lastPlain = 0;
  const render = (force = false) => {
    const now = Date.now();
    if (bar) {
      bar.setTotal(Math.max(1, state.total));
      bar.update(state.completed + state.failed, { failed: state.failed, etaText: formatEta(state.terminal ? undefined : state.etaMs, now), status: statusName(state.status) });
    } else if (!opts.json && (force || now - lastPlain >= 1_000)) {
      lastPlain = now;
      io.err(progressLine(state, now));
    }
  };
  const eventTypes = opts.verbose
    ? [BatchEventType.EVENT_TYPE_STARTED, BatchEventType.EVENT_TYPE_PROGRESS, BatchEventType.EVENT_TYPE_MEMBER_COMPLETED, BatchEventType.EVENT_TYPE_COMPLETED, BatchEventType.EVENT_TYPE_FAILED]
    : [];
  const reconnects = opts.reconnects ?? 5;
  let attempt = 0;
  try {
    for (;;) {
      try {
        for await (const u of client.watchBatchStatus({ batchId: opts.batchId, eventTypes }, { signal: abort.signal })) {
          attempt = 0;
          if (opts.json && u.update.case !== undefined) io.out(JSON.stringify({ type: 'update', update: toJson(BatchStatusUpdateSchema, u, { alwaysEmitImplicit: true }) }));
          if (u.update.case === 'memberCompleted' && opts.verbose && !opts.json) {
            const m = u.update.value;
            const line = `${m.success ? '✓' : '✗'} ${m.accountId}${m.success ? '' : ` — ${m.errorMessage ?? 'failed'}`}`;
            if (multibar) multibar.log(`${line}\n`);
            else io.err(line);
          }
          state = applyUpdate(state, u);
          render();
        }
        break; // the stream ended: the batch reached a terminal status
      } catch (err) {
        if (interrupted) break;
        const ce = ConnectError.from(err);
        if ((ce.code === Code.Unavailable || ce.code === Code.Unknown || ce.code === Code.Internal) && attempt < reconnects) {
          attempt++;
          await new Promise((r) => setTimeout(r, 500 * attempt));
          continue;
        }
        throw err;
      }
    }
  } finally {
    offSigint();
    render(true);
    multibar?.stop();
  }
  if (interrupted) {
    const msg = `Stopped watching ${opts.batchId}. The batch was NOT cancelled and keeps running (${statusName(state.status)}, ${state.completed + state.failed}/${state.total} done). Resume watching: ${resumeHint(opts.batchId)}`;
    if (opts.json) io.out(JSON.stringify({ type: 'interrupted', batchId: opts.batchId, status: statusName(state.status), resume: resumeHint(opts.batchId), message: msg }));
    else io.err(msg);
    return EXIT.INTERRUPTED;
  }
  const end = state.terminal;
  const code = end ? exitCodeForTerminal(end.status) : EXIT.OK;
  if (opts.json) {
    io.out(
      JSON.stringify({
        type: 'end',
        batchId: opts.batchId,
        status: statusName(state.status),
        total: state.total,
        completed: state.completed,
        failed: state.failed,
        ...(end?.code ? { failureCode: end.code, failureMessage: end.message ?? '' } : {}),
      }),
    );
  } else {
    io.err(`${opts.batchId}: ${statusName(state.status)} — ${state.completed} ok, ${state.failed} failed of ${state.total}${end?.code ? ` (${end.code}: ${end.message ?? ''})` : ''}`);
    if (state.failed > 0) io.err(`failed members: rtectl batch status ${opts.batchId} --errors`);
  }
  return code;
}
