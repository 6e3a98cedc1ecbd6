import { ApplicationFailure, asyncLocalStorage, CancelledFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../../lib/errors';
import type { RefreshActivityInput, RefreshRequester, RefreshSource } from '../../workflows/eligibility-refresh.defs';
import type { MemberListStore } from '../batch/ports';
import type { BatchDispatchGate } from '../../workflows/batch.defs';
import type { MemberRecord, MemberRecordSource } from '../../lib/member-record';
import { createGroupCommit } from '../../lib/group-commit';
import type { CachePutInput, CachePutResult } from '../cache';
import type { StoredMemberOutcome } from '../batch/ports';
import { createEligibilityActivities, type EligibilityActivityDeps } from './activities';

/**
 * Real-time batch members in chunks (issue 14): one activity runs many members of a batch, each through exactly the
 * code of `refreshEligibility` (slot pool, cache, Stedi, outcome and warm records), at most `lanes` at a time.
 *
 * - Each member runs in a Temporal activity context of its own derived from the chunk's (same info: attempt,
 *   schedule time, workflow id), so refreshEligibility's retry rule ("a retried attempt reuses the answer an earlier
 *   attempt stored") covers a chunk retried after a worker loss, and its heartbeats carry the chunk's progress.
 * - Progress is heartbeated: the outcomes of finished members. A retry starts from them, so a member is neither
 *   checked nor counted twice; the workflow counts every outcome once, when the chunk's result is in its history.
 * - The chunk polls the batch's dispatch gate (a workflow query, no history event) every `GATE_POLL_MS`: while the
 *   batch is paused no new member starts (running ones finish); on cancel or timeout running members are cancelled.
 * - It stops starting members after `maxStartMs` and returns, so progress reaches the workflow every few seconds;
 *   members it did not start go back to the workflow (`notStarted`).
 * - A member whose check failed with a retryable error is handed back (`r: 'retry'`): the workflow retries it on
 *   its own with the batch's retry policy, as before.
 */

/** The batch workflow's batchDispatchGate query (workflows/batch.defs.ts). */
const GATE_QUERY = 'batchDispatchGate';
/** Poll interval of the batch's dispatch gate. */
const GATE_POLL_MS = 250;
/** Heartbeat interval of a chunk (members' own heartbeats add to it). */
const BEAT_MS = 1_000;


export interface RealtimeChunkInput {
  batchId: string;
  /** The batch workflow, for the dispatch gate query. */
  workflowId: string;
  listRef: string;
  operation: string;
  requester: RefreshRequester;
  source: RefreshSource;
  /** List indices of the members to check, all due now. */
  items: number[];
  /** Members at a time (the chunk's share of the batch's max_concurrent_requests). */
  lanes: number;
  /** No member starts after this long; the chunk then finishes its running members and returns. */
  maxStartMs: number;
}

/** ok: answered with coverage; err: answered with a payer error (cached); failed: a non-retryable failure; retry:
 * a retryable failure (the workflow retries it); cancelled: cancel or timeout reached it. */
export type ChunkMemberResult = 'ok' | 'err' | 'failed' | 'retry' | 'cancelled';

export interface ChunkMemberOutcome {
  i: number;
  r: ChunkMemberResult;
  /** Stedi calls this member made (ok / err). */
  calls?: number;
  ms: number;
  /** failed / retry: the error type and message; err: what the payer said (EligibilityRefreshResult.payerError). */
  type?: string;
  msg?: string;
}

export interface RealtimeChunkResult {
  outcomes: ChunkMemberOutcome[];
  /** Members never started (pause, time bound): the workflow dispatches them again. */
  notStarted: number[];
}

interface ChunkProgress {
  outcomes: ChunkMemberOutcome[];
}

export interface RealtimeChunkDeps {
  /** What refreshEligibility runs on; a chunk shares its members' directory read, cache writes and outcome records. */
  eligibility: EligibilityActivityDeps;
  lists: Pick<MemberListStore, 'read'>;
  logger: Logger;
}

/** Most writes in one group (cache pipeline, outcome INSERT). */
const GROUP_MAX = 200;

/**
 * The eligibility ports of one chunk (issue 14), each member still going through refreshEligibility's own code:
 * - directory: the chunk's members are read in one query up front; a member's lookup is answered from it (an id
 *   the read did not cover, or a failed read, goes to the directory as before);
 * - cache writes: the same conditional put per member, written together (one Redis pipeline) while a write is out;
 * - outcome records: likewise one INSERT for the members that finished meanwhile.
 * Every member still waits for its own write before it reports, so nothing is reported that was not stored.
 */
export async function chunkPorts(base: EligibilityActivityDeps, memberIds: string[], logger: Logger): Promise<EligibilityActivityDeps> {
  const known = new Map<string, MemberRecord | undefined>();
  if (memberIds.length > 0) {
    try {
      const found = await base.members.getMemberRecords(memberIds);
      for (const id of memberIds) known.set(id, found.get(id));
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.message : String(err), members: memberIds.length }, 'chunk directory read failed; members read their own records');
    }
  }
  const members: MemberRecordSource = {
    async getMemberRecords(ids) {
      if (!ids.every((id) => known.has(id))) return base.members.getMemberRecords(ids);
      const out = new Map<string, MemberRecord>();
      for (const id of ids) {
        const r = known.get(id);
        if (r) out.set(id, r);
      }
      return out;
    },
  };
  const baseCache = base.cache;
  const putMany = baseCache.putMany?.bind(baseCache);
  const cacheWrites = putMany ? createGroupCommit<CachePutInput, CachePutResult>((items) => putMany(items), { maxItems: GROUP_MAX }) : undefined;
  const outcomeStore = base.batchOutcomes;
  const outcomeWrites = outcomeStore
    ? createGroupCommit<{ batchId: string; outcomes: readonly StoredMemberOutcome[] }, void>(
        async (items) => {
          const byBatch = new Map<string, StoredMemberOutcome[]>();
          for (const it of items) byBatch.set(it.batchId, [...(byBatch.get(it.batchId) ?? []), ...it.outcomes]);
          for (const [batchId, outcomes] of byBatch) await outcomeStore.record(batchId, outcomes);
          return items.map(() => ({ status: 'fulfilled', value: undefined }));
        },
        { maxItems: GROUP_MAX },
      )
    : undefined;
  return {
    ...base,
    members,
    cache: { get: (id, op) => baseCache.get(id, op), put: cacheWrites ? (i) => cacheWrites.add(i) : (i) => baseCache.put(i) },
    ...(outcomeWrites ? { batchOutcomes: { record: (batchId, outcomes) => outcomeWrites.add({ batchId, outcomes }) } } : {}),
  };
}

function errorType(err: unknown): string | undefined {
  return err instanceof ApplicationFailure && err.type ? err.type : undefined;
}

export function createRealtimeChunkActivities(deps: RealtimeChunkDeps) {
  return {
    async refreshEligibilityChunk(input: RealtimeChunkInput): Promise<RealtimeChunkResult> {
      const outer = Context.current();
      const prior = (outer.info.heartbeatDetails as ChunkProgress | undefined)?.outcomes ?? [];
      const outcomes: ChunkMemberOutcome[] = [...prior];
      const done = new Set(prior.map((o) => o.i));
      const todo = input.items.filter((i) => !done.has(i));
      const beat = (): void => outer.heartbeat({ outcomes } satisfies ChunkProgress);
      beat();

      // Member ids for the whole chunk in one read (the list range the chunk spans); never in the result.
      const ids = new Map<number, string>();
      if (todo.length > 0) {
        const lo = Math.min(...todo);
        const hi = Math.max(...todo);
        const read = await deps.lists.read(input.listRef, lo, hi - lo + 1);
        for (const i of todo) {
          const id = read[i - lo];
          if (id) ids.set(i, id);
        }
      }

      // Members see their own cancellation: aborted on stop (cancel / timeout) or when Temporal cancels the chunk;
      // a pause only holds new starts.
      const memberAbort = new AbortController();
      const stopMembers = (reason: string): void => {
        if (!memberAbort.signal.aborted) memberAbort.abort(new CancelledFailure(reason));
      };
      const onOuterAbort = (): void => stopMembers('chunk cancelled');
      if (outer.cancellationSignal.aborted) onOuterAbort();
      else outer.cancellationSignal.addEventListener('abort', onOuterAbort, { once: true });
      const memberCancelled = new Promise<never>((_, reject) => {
        memberAbort.signal.addEventListener('abort', () => reject(memberAbort.signal.reason), { once: true });
      });
      memberCancelled.catch(() => undefined);
      const o = outer as unknown as { _client: unknown; _cancellationDetails: unknown };
      const { refreshEligibility } = createEligibilityActivities(await chunkPorts(deps.eligibility, [...new Set(ids.values())], deps.logger));
      const memberCtx = new (Context as unknown as new (...args: unknown[]) => Context)(
        outer.info,
        memberCancelled,
        memberAbort.signal,
        () => beat(),
        o._client,
        outer.log,
        outer.metricMeter,
        o._cancellationDetails,
      );

      let hold = false;
      let draining = false;
      let gateBusy = false;
      const pollGate = async (): Promise<void> => {
        if (gateBusy) return;
        gateBusy = true;
        try {
          const g = (await outer.client.workflow.getHandle(input.workflowId).query<BatchDispatchGate>(GATE_QUERY));
          if (g.hold) hold = true;
          if (g.stop) stopMembers('batch stopped');
        } catch (err) {
          // The heartbeat's cancellation is the backstop when the workflow cannot be queried.
          deps.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'batch dispatch gate not readable');
        } finally {
          gateBusy = false;
        }
      };
      const gateTimer = setInterval(() => void pollGate(), GATE_POLL_MS);
      const beatTimer = setInterval(beat, BEAT_MS);

      const started = Date.now();
      const notStarted: number[] = [];
      let next = 0;
      const runMember = async (i: number): Promise<void> => {
        const t0 = Date.now();
        const memberId = ids.get(i);
        const given: RefreshActivityInput = {
          ...(memberId !== undefined ? { memberId } : {}),
          operation: input.operation,
          requester: input.requester,
          source: input.source,
          batchMember: { batchId: input.batchId, index: i, ...(memberId === undefined ? { listRef: input.listRef } : {}) },
        };
        let out: ChunkMemberOutcome;
        try {
          const r = await asyncLocalStorage.run(memberCtx, () => refreshEligibility(given));
          out = { i, r: r.outcome === 'success' ? 'ok' : 'err', calls: r.stediCalls ?? 1, ms: Date.now() - t0, ...(r.payerError ? { msg: r.payerError } : {}) };
        } catch (err) {
          const type = errorType(err);
          const msg = err instanceof Error ? err.message.slice(0, 500) : String(err);
          if (type === ErrorType.WorkerShuttingDown && !memberAbort.signal.aborted) {
            // This worker is draining (probe p17 #1): the member made no Stedi call. It goes back to the workflow as not
            // started (no retry attempt spent), and so do the members after it; the chunk returns within the grace.
            draining = true;
            notStarted.push(i);
            return;
          }
          if (memberAbort.signal.aborted) out = { i, r: 'cancelled', ms: Date.now() - t0 };
          else if (err instanceof ApplicationFailure && (err.nonRetryable || (type !== undefined && NON_RETRYABLE_ERROR_TYPES.includes(type))))
            out = { i, r: 'failed', ms: Date.now() - t0, ...(type ? { type } : {}), msg };
          else out = { i, r: 'retry', ms: Date.now() - t0, ...(type ? { type } : {}), msg };
        }
        outcomes.push(out);
      };
      const lane = async (): Promise<void> => {
        for (;;) {
          if (next >= todo.length) return;
          if (hold || draining || memberAbort.signal.aborted || Date.now() - started >= input.maxStartMs) {
            while (next < todo.length) notStarted.push(todo[next++]!);
            return;
          }
          await runMember(todo[next++]!);
        }
      };
      try {
        await pollGate();
        await Promise.all(Array.from({ length: Math.max(1, Math.min(input.lanes, todo.length)) }, lane));
      } finally {
        clearInterval(gateTimer);
        clearInterval(beatTimer);
        outer.cancellationSignal.removeEventListener('abort', onOuterAbort);
      }
      // Temporal cancelled the chunk: its result would not be recorded anyway.
      if (outer.cancellationSignal.aborted) throw outer.cancellationSignal.reason ?? new CancelledFailure('chunk cancelled');
      return { outcomes, notStarted };
    },
  };
}

export type RealtimeChunkActivities = ReturnType<typeof createRealtimeChunkActivities>;
