import { create, fromJson, toBinary, type JsonValue, type MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { BatchJobEventSchema } from '../../gen/rte/v1/events_pb';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { Bitmap } from '../../lib/batch/bitmap';
import type { BatchEventPayload } from '../../lib/batch/events';
import { averageDurationMs, pendingOf } from '../../lib/batch/progress';
import { CACHE_TO_PROTO, PRIORITY_TO_PROTO, STATUS_TO_PROTO, STRATEGY_TO_PROTO, PATH_TO_PROTO, WINDOW_TO_PROTO } from '../../lib/batch/proto-mapping';
import type { BatchCacheMode, WindowName } from '../../lib/batch/types';
import { cacheRefreshedOf } from '../../lib/batch/types';
import { pageDueMs, scheduleMember, windowForMember, type EngagementHint } from '../../lib/batch/windows';
import { decideCacheAction, hasFreshPayerError } from '../../lib/cache-policy';
import { CONNECTIVITY_AAA_CODES } from '../../lib/stedi-codes';
import { normalizeEligibilityResponse } from '../../lib/coverage-summary';
import { ErrorType, MEMBER_NOT_FOUND_MESSAGE } from '../../lib/errors';
import { EventHeaders } from '../../lib/kafka-topics';
import type { MemberRecord } from '../../lib/member-record';
import { payerErrorEntry, type EligibilityCache } from '../cache';
import type { EventPublisher } from '../kafka/types';
import { toApplicationFailure } from '../stedi/classify';
import { StediRequestError, type StediGateway } from '../stedi/gateway';
import { batchNameFromSeed, buildBatchItem, type StediProviderConfig } from '../stedi/request-builder';
import type { BatchEligibilityItem } from '../stedi/types';
import { batchFailureOf, memberFailureText } from '../../lib/batch/member-failure';
import type { WarmCompletion, WarmRecordStore } from '../warming/ports';
import { payerErrorReason } from '../../lib/warming/reasons';
import type { BatchErrorStore, BatchMemberDirectory, BatchMetrics, BatchOutcomeStore, MemberListStore, StediLoadSource, StoredBatchError, StoredMemberOutcome } from './ports';

export interface BatchActivityDeps {
  lists: MemberListStore;
  errors: BatchErrorStore;
  /** Per-member outcomes for WatchBatchStatus (MEMBER_COMPLETED); absent: not recorded. */
  outcomes?: BatchOutcomeStore;
  /** Outcomes older than this are purged when a batch finishes (default 7 days). */
  outcomeRetentionMs?: number;
  directory: BatchMemberDirectory;
  cache: Pick<EligibilityCache, 'getMany' | 'put'>;
  stedi: StediGateway;
  load: StediLoadSource;
  events: EventPublisher;
  provider: StediProviderConfig;
  logger: Logger;
  metrics?: BatchMetrics;
  /** Records warming children's warms (cache_warms); absent: not recorded. */
  warms?: Pick<WarmRecordStore, 'complete'>;
  now?: () => number;
}

// ---- payloads -------------------------------------------------------------------------------------------------

export interface ResolveQueryPageInput {
  batchId: string;
  listRef: string;
  /** MemberQuery as protobuf JSON. */
  query: unknown;
  cursor?: string;
  /** Index of the first member this page writes. */
  start: number;
  pageSize: number;
  /** Stop once the list would exceed this many members. */
  maxMembers: number;
}
export interface ResolveQueryPageResult {
  count: number;
  /**
   * Opaque position of the next page, passed back as `cursor`. A reference `stored:<start>` to the directory cursor kept
   * in PostgreSQL (`<listRef>#cursor`, index = the next page's start): the directory's cursor is base64 JSON naming the
   * last member, so it stays out of history. A cursor without the prefix (runs from before) is used as it is.
   */
  nextCursor?: string;
  /** The query matches more members than maxMembers. */
  exceeded: boolean;
}

export interface PlanMembersInput {
  batchId: string;
  listRef: string;
  /** Global index of the first member and how many. */
  start: number;
  count: number;
  total: number;
  cacheMode: BatchCacheMode;
  operation: string;
  window: WindowName;
  /** Fixed base for window computations (same for every page of the batch). */
  scheduleBaseMs: number;
  /** Workflow time of this call. */
  nowMs: number;
  load: number;
  /** 'realtime' returns members to refresh with their times; 'batch' a bitmap and one submission time. */
  mode: 'realtime' | 'batch';
  /**
   * Set by workflows from patch `batch-member-refs-v1` on: refresh items carry only the member's index (the refresh
   * activity reads the id from the list), so no member id enters history. Absent (older runs): items carry `memberId`.
   */
  refsOnly?: boolean;
}

export interface RefreshItem {
  /** Global member index (the member's place in the batch's list `listRef`). */
  i: number;
  /** Only in results for older runs (no `refsOnly`): the raw id. New runs resolve it from the list by index. */
  memberId?: string;
  atMs: number;
}

export type PlanMembersResult =
  | { kind: 'wait'; notBeforeMs: number }
  | {
      kind: 'plan';
      /** Members served from cache with a success / with a cached error (failed). */
      hits: number;
      hitErrors: number;
      /** CACHE_ONLY members with nothing cached (failed NOT_CACHED, or MemberNotFoundError when not in the directory). */
      notCached: number;
      refreshCount: number;
      refresh?: RefreshItem[];
      /** Offsets within the page, base64 bitmap (batch mode). */
      refreshBitmap?: string;
      windows: Record<string, number>;
    };

export interface SubmitStediChunkInput {
  batchId: string;
  chunkNo: number;
  listRef: string;
  start: number;
  size: number;
  refreshBitmap: string;
  operation: string;
  maxRetryHours: number;
  /** Workflow time before the first attempt: the earliest a crashed earlier attempt could have submitted. */
  firstAttemptAtMs: number;
}
export interface SubmitStediChunkResult {
  stediBatchId: string;
  /** Members actually submitted (bitmap of offsets) and how many. */
  submitted: string;
  submittedCount: number;
  /** Members that could not be submitted (no directory record, invalid record): already recorded as errors. */
  rejected: number;
  recoveredByName: boolean;
}

export interface PollStediChunkInput {
  batchId: string;
  stediBatchId: string;
  listRef: string;
  start: number;
  size: number;
  submitted: string;
  seen: string;
  operation: string;
  /** Set when the batch is a cache-warming child: entries are written with source 'warming' and recorded in cache_warms. */
  warmJobId?: string;
  /** When Stedi accepted the chunk: the warms' started_at (avg_warm_duration counts from the submission). */
  warmStartedAtMs?: number;
}
export interface PollStediChunkResult {
  seen: string;
  seenCount: number;
  newCompleted: number;
  newFailed: number;
  /** Submitted members Stedi finished without returning a result (counted failed NO_RESULT). */
  missing: number;
  /** New results written to the cache (a result older than the cached entry is not). */
  refreshed: number;
  stediStatus: string;
  done: boolean;
}

export interface RecordErrorsInput {
  batchId: string;
  listRef: string;
  errors: Array<{ memberIndex: number; errorCode: string; errorMessage: string; occurredAtMs: number }>;
}

export interface PublishBatchEventInput {
  topic: string;
  event: BatchEventPayload;
}

// ---- helpers --------------------------------------------------------------------------------------------------

export const STEDI_BATCH_NAME_PREFIX = 'rte';

const STORED_CURSOR = 'stored:';
/** Where resolveQueryPage keeps a query's directory cursors (dropped with the list). */
export const queryCursorListRef = (listRef: string): string => `${listRef}#cursor`;

/** Deterministic Stedi batch name per chunk: a retried submission collides with the first one (409) instead of duplicating it. */
export function stediBatchName(batchId: string, chunkNo: number): string {
  return batchNameFromSeed(`${STEDI_BATCH_NAME_PREFIX}/${batchId}/chunk-${chunkNo}`);
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Outside an activity (unit tests calling the function directly).
  }
}

/**
 * Why a member served from a cached payer error failed. A payer connectivity answer (AAA 42/79/80, "retry later")
 * says until when it is cached: the batch made no Stedi call for it, and a later run after that time will.
 */
function cachedErrorMessage(entry: { summary: { errors: { code: string }[] }; expiresAt: number }): string {
  const connectivity = [...new Set(entry.summary.errors.map((e) => e.code).filter((c) => CONNECTIVITY_AAA_CODES.has(c)))];
  if (connectivity.length === 0) return 'the cached eligibility answer is a payer error';
  return `the payer was unavailable (AAA ${connectivity.join(',')}); this answer is cached until ${new Date(entry.expiresAt).toISOString()}, retry after that`;
}

export function createBatchActivities(deps: BatchActivityDeps) {
  const now = deps.now ?? Date.now;

  async function readIds(listRef: string, start: number, count: number): Promise<string[]> {
    const ids = await deps.lists.read(listRef, start, count);
    if (ids.length !== count) {
      throw ApplicationFailure.create({ type: ErrorType.BatchMemberListIncomplete, message: `member list has ${ids.length} of ${count} ids at ${start}`, nonRetryable: true });
    }
    return ids;
  }

  async function recordErrors(batchId: string, errors: StoredBatchError[]): Promise<void> {
    if (errors.length === 0) return;
    await deps.errors.record(batchId, errors);
    await recordOutcomes(
      batchId,
      errors.map((e) => ({ memberIndex: e.memberIndex, memberId: e.memberId, success: false, errorMessage: memberFailureText(e.errorCode, e.errorMessage) })),
    );
  }

  async function recordOutcomes(batchId: string, outcomes: StoredMemberOutcome[]): Promise<void> {
    if (outcomes.length > 0 && deps.outcomes) await deps.outcomes.record(batchId, outcomes);
  }

  async function findStediBatchIdByName(name: string, sinceMs: number): Promise<string | undefined> {
    let pageToken: string | undefined;
    for (let page = 0; page < 500; page++) {
      const r = await deps.stedi.pollBatchResults({ pageSize: 200, startDateTime: new Date(sinceMs).toISOString(), ...(pageToken ? { pageToken } : {}) });
      heartbeat({ scanningForBatchName: page });
      const hit = r.items.find((i) => i.batchName === name && typeof i.batchId === 'string');
      if (hit?.batchId) return hit.batchId;
      if (!r.nextPageToken) return undefined;
      pageToken = r.nextPageToken;
    }
    return undefined;
  }

  return {
    /** Pages a MemberQuery into the batch's member list (ids stay in PostgreSQL; only counts return). */
    async resolveQueryPage(input: ResolveQueryPageInput): Promise<ResolveQueryPageResult> {
      const query = fromJson(MemberQuerySchema, input.query as JsonValue);
      // A query's `limit` caps the batch (the doc's examples, e.g. `limit: 5000`); pages are bounded separately.
      const capped = query.limit > 0 && query.limit < input.maxMembers;
      const room = (capped ? query.limit : input.maxMembers) - input.start;
      if (room <= 0) return { count: 0, exceeded: false };
      const limit = Math.max(1, Math.min(input.pageSize, room + 1));
      let cursor = input.cursor;
      if (cursor?.startsWith(STORED_CURSOR)) {
        const at = Number(cursor.slice(STORED_CURSOR.length));
        [cursor] = await deps.lists.read(queryCursorListRef(input.listRef), at, 1);
        if (cursor === undefined) {
          throw ApplicationFailure.create({ type: ErrorType.BatchMemberListIncomplete, message: `stored query cursor ${input.cursor} is gone`, nonRetryable: true });
        }
      }
      const page = await deps.directory.queryMemberIds(query, cursor, limit);
      let ids = page.memberIds;
      if (ids.length > room) {
        if (!capped) return { count: 0, exceeded: true };
        ids = ids.slice(0, room);
      }
      await deps.lists.write(input.listRef, input.start, ids);
      const more = page.nextCursor && ids.length > 0 && ids.length < room;
      if (!more) return { count: ids.length, exceeded: false };
      const next = input.start + ids.length;
      await deps.lists.write(queryCursorListRef(input.listRef), next, [page.nextCursor!]);
      return { count: ids.length, exceeded: false, nextCursor: `${STORED_CURSOR}${next}` };
    },

    /** Real-time slot utilisation, for the strategy matrix and the ANY window. */
    async getStediLoad(): Promise<{ limit: number; inUse: number; freeSlots: number; load: number }> {
      const l = await deps.load.load();
      const limit = Math.max(1, l.limit);
      return { limit, inUse: l.inUse, freeSlots: Math.max(0, limit - l.inUse), load: Math.min(1, l.inUse / limit) };
    },

    /**
     * Schedules the members of one page in their own time zones; once the page is due, does the pre-flight bulk
     * cache lookup and splits members by the batch's cache-control mode. Cache answers (hits, cached errors,
     * CACHE_ONLY misses) are final here; the rest are returned for a Stedi refresh.
     */
    async planMembers(input: PlanMembersInput): Promise<PlanMembersResult> {
      const ids = await readIds(input.listRef, input.start, input.count);
      const recordsRead = !(input.window === 'ANY' && input.load < 0.7);
      const records = recordsRead ? await deps.directory.getMemberRecords(ids) : new Map<string, MemberRecord>();
      const hints: Map<string, EngagementHint> =
        input.window === 'OPTIMAL_MEMBER_ENGAGEMENT' && deps.directory.engagementHints ? await deps.directory.engagementHints(ids, input.scheduleBaseMs) : new Map();
      const windows: Record<string, number> = {};
      const times = ids.map((id, k) => {
        const g = windowForMember(input.window, input.total, input.start + k);
        const s = scheduleMember({
          window: g.window,
          nowMs: input.scheduleBaseMs,
          timeZone: records.get(id)?.timeZone ?? null,
          seed: input.batchId,
          position: g.position,
          groupSize: g.groupSize,
          load: input.load,
          ...(hints.get(id) ? { engagement: hints.get(id)! } : {}),
        });
        windows[s.effectiveWindow] = (windows[s.effectiveWindow] ?? 0) + 1;
        return s.atMs;
      });
      const due = pageDueMs(times, input.mode);
      if (due > input.nowMs + 1000) return { kind: 'wait', notBeforeMs: due };

      const entries = await deps.cache.getMany(ids.map((memberId) => ({ memberId, operation: input.operation })));
      const lookupAt = now();
      // A CACHE_ONLY miss of a member that is not in the directory is "not found", as in every other cache mode
      // (there the refresh finds no member), not "not cached": caching could never answer it. Read only for misses,
      // and only when the window did not already read the records.
      const misses = input.cacheMode === 'CACHE_ONLY' ? ids.filter((_, k) => decideCacheAction(input.cacheMode, entries[k] ?? null, lookupAt).action === 'miss-error') : [];
      const known = recordsRead || misses.length === 0 ? records : await deps.directory.getMemberRecords(misses);
      let hits = 0;
      let hitErrors = 0;
      let notCached = 0;
      const refresh: RefreshItem[] = [];
      const bitmap = Bitmap.empty(ids.length);
      const errors: StoredBatchError[] = [];
      const served: StoredMemberOutcome[] = [];
      ids.forEach((memberId, k) => {
        const entry = entries[k] ?? null;
        const d = decideCacheAction(input.cacheMode, entry, lookupAt);
        // DEFAULT asks for a current answer: an expired success whose live check met a payer
        // outage (a kept "retry later" error inside its TTL) fails with that error, as the live check did; CACHE_ONLY and
        // PREFER_CACHED accept the expired answer, so it counts.
        const keptError = entry && input.cacheMode === 'DEFAULT' && hasFreshPayerError(entry, lookupAt) ? payerErrorEntry(entry) : undefined;
        if (d.action === 'serve' || d.action === 'serve-and-refresh') {
          const failedEntry = entry?.outcome === 'error' ? entry : keptError;
          if (failedEntry) {
            hitErrors++;
            errors.push({ memberIndex: input.start + k, memberId, errorCode: 'CACHED_ERROR', errorMessage: cachedErrorMessage(failedEntry), occurredAtMs: failedEntry.fetchedAt });
          } else {
            hits++;
            served.push({ memberIndex: input.start + k, memberId, success: true, durationMs: 0 });
          }
        } else if (d.action === 'miss-error') {
          notCached++;
          if (known.has(memberId)) errors.push({ memberIndex: input.start + k, memberId, errorCode: 'NOT_CACHED', errorMessage: 'CACHE_ONLY: no cached eligibility for this member', occurredAtMs: lookupAt });
          else errors.push({ memberIndex: input.start + k, memberId, errorCode: ErrorType.MemberNotFound, errorMessage: MEMBER_NOT_FOUND_MESSAGE, occurredAtMs: lookupAt });
        } else if (input.mode === 'realtime') {
          refresh.push({ i: input.start + k, ...(input.refsOnly ? {} : { memberId }), atMs: times[k]! });
        } else {
          bitmap.add(k);
        }
      });
      await recordErrors(input.batchId, errors);
      await recordOutcomes(input.batchId, served);
      const refreshCount = input.mode === 'realtime' ? refresh.length : bitmap.count();
      deps.metrics?.onCacheLookup(hits + hitErrors, refreshCount + notCached);
      for (const [w, n] of Object.entries(windows)) deps.metrics?.onScheduled(w, n);
      refresh.sort((a, b) => a.atMs - b.atMs || a.i - b.i);
      return {
        kind: 'plan',
        hits,
        hitErrors,
        notCached,
        refreshCount,
        windows,
        ...(input.mode === 'realtime' ? { refresh } : { refreshBitmap: bitmap.encode() }),
      };
    },

    /**
     * Submits one chunk (≤ 10,000) to the Stedi batch API under a deterministic name. If an earlier attempt already
     * submitted it (worker died after Stedi answered), Stedi rejects the name with 409 and we recover that batch's id
     * from the polling feed instead of creating a second batch.
     */
    async submitStediChunk(input: SubmitStediChunkInput): Promise<SubmitStediChunkResult> {
      const log = deps.logger.child({ batchId: input.batchId, chunkNo: input.chunkNo });
      const ids = await readIds(input.listRef, input.start, input.size);
      const wanted = Bitmap.decode(input.size, input.refreshBitmap);
      const wantedIds = [...wanted.indexes()].map((k) => ids[k]!);
      const records = await deps.directory.getMemberRecords(wantedIds);
      const submitted = Bitmap.empty(input.size);
      const items: BatchEligibilityItem[] = [];
      const errors: StoredBatchError[] = [];
      const at = now();
      for (const k of wanted.indexes()) {
        const memberId = ids[k]!;
        const member = records.get(memberId);
        const globalIndex = input.start + k;
        if (!member) {
          errors.push({ memberIndex: globalIndex, memberId, errorCode: ErrorType.MemberNotFound, errorMessage: MEMBER_NOT_FOUND_MESSAGE, occurredAtMs: at });
          continue;
        }
        try {
          items.push(
            buildBatchItem({
              member,
              provider: deps.provider,
              controlNumberSeed: `${input.batchId}:${globalIndex}:${input.operation}`,
              // Opaque correlation id: the member's index in the batch, never the raw member id.
              submitterTransactionIdentifier: String(globalIndex),
            }),
          );
          submitted.add(k);
        } catch (err) {
          errors.push({ memberIndex: globalIndex, memberId, errorCode: ErrorType.InvalidMemberRecord, errorMessage: err instanceof Error ? err.message : String(err), occurredAtMs: at });
        }
      }
      await recordErrors(input.batchId, errors);
      const base = { submitted: submitted.encode(), submittedCount: items.length, rejected: errors.length };
      if (items.length === 0) return { stediBatchId: '', recoveredByName: false, ...base };
      const name = stediBatchName(input.batchId, input.chunkNo);
      // Submitting 10,000 items can take a while: keep heartbeating so the 2-minute heartbeat timeout only
      // fires when this worker is really gone.
      const beat = setInterval(() => heartbeat({ submitting: name }), 10_000);
      try {
        const r = await deps.stedi.submitBatch({ name, items, maxRetryHours: input.maxRetryHours });
        deps.metrics?.onStediRequests('batch_api', items.length);
        log.info({ stediBatchId: r.batchId, items: items.length }, 'stedi batch submitted');
        return { stediBatchId: r.batchId, recoveredByName: false, ...base };
      } catch (err) {
        if (err instanceof StediRequestError && err.httpStatus === 409) {
          const id = await findStediBatchIdByName(name, input.firstAttemptAtMs - 60_000);
          if (id) {
            log.warn({ stediBatchId: id }, 'stedi batch already existed (earlier attempt); reusing it');
            return { stediBatchId: id, recoveredByName: true, ...base };
          }
          // The batch exists but none of its items has completed yet, so its id is not visible: try again later.
          throw ApplicationFailure.create({ type: ErrorType.StediBatchIdPending, message: `stedi batch ${name} exists; waiting for its first result to learn its id` });
        }
        if (err instanceof StediRequestError) throw toApplicationFailure(err.classification, err);
        throw err;
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * Reads the chunk's results so far (every page, each pass), writes new ones to the cache and reports only
     * members not in `seen`. The workflow counts from these deltas, so a retried poll never double counts.
     */
    async pollStediChunk(input: PollStediChunkInput): Promise<PollStediChunkResult> {
      const ids = await readIds(input.listRef, input.start, input.size);
      const submitted = Bitmap.decode(input.size, input.submitted);
      const seen = Bitmap.decode(input.size, input.seen);
      // Batch status first: if it is final now, every result is already in the feed we read next.
      let stediStatus: string;
      try {
        stediStatus = (await deps.stedi.getBatch(input.stediBatchId)).status;
      } catch (err) {
        if (err instanceof StediRequestError) throw toApplicationFailure(err.classification, err);
        throw err;
      }
      let newCompleted = 0;
      let newFailed = 0;
      let refreshed = 0;
      const errors: StoredBatchError[] = [];
      const completed: StoredMemberOutcome[] = [];
      const warmed: WarmCompletion[] = [];
      let pageToken: string | undefined;
      for (let page = 0; ; page++) {
        let r;
        try {
          r = await deps.stedi.pollBatchResults({ batchId: input.stediBatchId, pageSize: 200, ...(pageToken ? { pageToken } : {}) });
        } catch (err) {
          if (err instanceof StediRequestError) throw toApplicationFailure(err.classification, err);
          throw err;
        }
        heartbeat({ page });
        for (const item of r.items) {
          const globalIndex = Number(item.submitterTransactionIdentifier);
          const k = globalIndex - input.start;
          if (!Number.isInteger(k) || !submitted.has(k) || seen.has(k)) continue;
          const memberId = ids[k]!;
          const summary = normalizeEligibilityResponse(item);
          const failed = summary.status === 'error';
          const fetchedAt = now();
          const put = await deps.cache.put({
            memberId,
            operation: input.operation,
            summary,
            outcome: failed ? 'error' : 'success',
            source: input.warmJobId ? 'warming' : 'batch',
            ...(summary.stediCheckId ? { stediCheckId: summary.stediCheckId } : {}),
            fetchedAt,
            // As the real-time path (classifyAaaErrors on HTTP 200): a connectivity code means "retry later", which is
            // kept beside an expired good answer instead of replacing it.
            ...(failed && summary.errors.some((e) => CONNECTIVITY_AAA_CODES.has(e.code)) ? { retryLater: true } : {}),
          });
          if (put.written) refreshed++;
          if (input.warmJobId) {
            // The same words as the real-time path (AAA code and description), so one cause is one failure reason.
            const payerError = failed ? payerErrorReason(summary.errors ?? []) : undefined;
            warmed.push(
              put.written
                ? {
                    memberId,
                    operation: input.operation,
                    fetchedAt: put.entry.fetchedAt,
                    outcome: failed ? 'failed' : 'warmed',
                    ...(payerError ? { reason: payerError } : {}),
                    ...(input.warmStartedAtMs !== undefined ? { startedAtMs: input.warmStartedAtMs } : {}),
                  }
                : put.reason === 'newer-entry'
                  ? { memberId, operation: input.operation, fetchedAt: null, outcome: 'skipped_fresh', reason: 'a newer entry was written meanwhile' }
                  : { memberId, operation: input.operation, fetchedAt: null, outcome: 'failed', reason: payerError ?? 'payer error not cached over a fresh success' },
            );
          }
          seen.add(k);
          if (failed) {
            newFailed++;
            const first = summary.errors?.[0];
            errors.push({ memberIndex: globalIndex, memberId, errorCode: first?.code ? `AAA_${first.code}` : 'PAYER_ERROR', errorMessage: first?.description ?? 'payer returned an error', occurredAtMs: fetchedAt });
          } else {
            newCompleted++;
            completed.push({ memberIndex: globalIndex, memberId, success: true });
          }
        }
        if (!r.nextPageToken) break;
        pageToken = r.nextPageToken;
      }
      let missing = 0;
      const final = stediStatus === 'COMPLETED' || stediStatus === 'COMPLETED_WITH_ERRORS' || stediStatus === 'VALIDATION_FAILED';
      if (final) {
        const at = now();
        for (const k of submitted.indexes()) {
          if (seen.has(k)) continue;
          seen.add(k);
          missing++;
          errors.push({ memberIndex: input.start + k, memberId: ids[k]!, errorCode: 'NO_RESULT', errorMessage: `Stedi finished the batch (${stediStatus}) without a result for this member`, occurredAtMs: at });
        }
      }
      await recordErrors(input.batchId, errors);
      await recordOutcomes(input.batchId, completed);
      if (input.warmJobId && deps.warms) await deps.warms.complete(input.warmJobId, warmed);
      const seenCount = seen.count();
      return { seen: seen.encode(), seenCount, newCompleted, newFailed, missing, refreshed, stediStatus, done: seenCount >= submitted.count() };
    },

    /** Stores real-time failures (member ids resolved here, so they never enter workflow history twice). */
    async recordMemberErrors(input: RecordErrorsInput): Promise<void> {
      if (input.errors.length === 0) return;
      const min = Math.min(...input.errors.map((e) => e.memberIndex));
      const max = Math.max(...input.errors.map((e) => e.memberIndex));
      const ids = await deps.lists.read(input.listRef, min, max - min + 1);
      await recordErrors(
        input.batchId,
        input.errors.map((e) => ({ ...e, memberId: ids[e.memberIndex - min] ?? '' })),
      );
    },

    /** BatchJobEvent (protobuf) on Kafka, keyed by batch id; the event id makes redelivery idempotent for consumers. */
    async publishBatchEvent(input: PublishBatchEventInput): Promise<void> {
      const e = input.event;
      const c = e.counters;
      const durationMs = e.finishedAtMs !== undefined && e.startedAtMs !== undefined ? e.finishedAtMs - e.startedAtMs : 0;
      const avg = averageDurationMs(c) ?? 0;
      const completedResult = {
        totalMembers: c.total,
        successful: c.completed,
        failed: c.failed,
        skipped: c.cancelled,
        cacheHits: c.cacheHits,
        cacheRefreshed: cacheRefreshedOf(c),
        totalDuration: durationFromMs(Math.max(0, durationMs)),
        avgMemberDuration: durationFromMs(avg),
        stediBatchCalls: c.stediBatches,
        stediRealtimeCalls: c.stediRealtimeCalls,
      };
      let result: MessageInitShape<typeof BatchJobEventSchema>['result'];
      if (e.eventType === 'PROGRESS' || e.eventType === 'STARTED') {
        result = {
          case: 'progress',
          value: {
            // Wire meaning since the first release (proto: "members processed"): successes + failures; `failed`
            // (additive, field 5) lets a consumer tell them apart before the terminal event (probe p15 #5).
            completed: c.completed + c.failed,
            failed: c.failed,
            total: c.total,
            percentComplete: e.percentDone,
            ...(e.estimatedCompletionMs !== undefined ? { estimatedCompletion: timestampFromMs(e.estimatedCompletionMs) } : {}),
          },
        };
      } else if (e.eventType === 'COMPLETED' || e.eventType === 'PARTIALLY_COMPLETED') {
        result = { case: 'completed', value: completedResult };
      } else {
        const failure = batchFailureOf(e.status, e.failure, c);
        result = { case: 'failed', value: { errorCode: failure?.code ?? e.eventType, errorMessage: failure?.message ?? '', partialResult: completedResult } };
      }
      const msg = create(BatchJobEventSchema, {
        eventId: e.eventId,
        occurredAt: timestampFromMs(e.occurredAtMs),
        eventType: e.eventType,
        batchId: e.batchId,
        jobType: e.jobType,
        details: {
          clientJobId: e.clientJobId,
          clientServiceName: e.clientService,
          totalMembers: c.total,
          priority: PRIORITY_TO_PROTO[e.options.priority],
          strategy: e.path ? PATH_TO_PROTO[e.path] : STRATEGY_TO_PROTO[e.options.strategy],
          schedulingWindow: WINDOW_TO_PROTO[e.options.schedulingWindow],
          cacheControl: CACHE_TO_PROTO[e.options.cacheMode],
          submittedAt: timestampFromMs(e.submittedAtMs),
          status: STATUS_TO_PROTO[e.status],
        },
        initiatedByService: e.clientService,
        initiatedByUserId: e.initiatedByUserId ?? '',
        result,
      });
      await deps.events.publish([
        {
          topic: input.topic,
          key: e.batchId,
          value: toBinary(BatchJobEventSchema, msg),
          eventId: e.eventId,
          schema: BatchJobEventSchema.typeName,
          headers: { [EventHeaders.eventId]: e.eventId, 'event-type': e.eventType },
        },
      ]);
      deps.metrics?.onBatchEvent(e.eventType, {
        eventId: e.eventId,
        started: e.startedAtMs !== undefined,
        window: e.options.schedulingWindow,
        mode: e.options.cacheMode === 'CACHE_ONLY' ? 'cache_only' : e.path === 'BATCH_API' ? 'batch_api' : e.path === 'REALTIME' ? 'realtime' : 'unknown',
        ...(e.eventType !== 'STARTED' && e.eventType !== 'PROGRESS' ? { durationSeconds: durationMs / 1000 } : {}),
      });
      if (e.eventType === 'STARTED') deps.metrics?.onExecutionHour(new Date(e.occurredAtMs).getUTCHours());
      deps.logger.info({ batchId: e.batchId, eventType: e.eventType, pending: pendingOf(c) }, 'batch event published');
    },

    /** Drops the staged member list once the batch is final (errors keep their own copy of the ids). */
    async releaseMemberList(input: { listRef: string }): Promise<void> {
      await deps.lists.delete(input.listRef);
      await deps.lists.delete(queryCursorListRef(input.listRef));
      if (deps.outcomes) {
        // Housekeeping piggybacks on batch ends: outcomes only serve watchers, so old ones go.
        const purged = await deps.outcomes.purge(deps.outcomeRetentionMs ?? 7 * 24 * 3_600_000);
        if (purged > 0) deps.logger.info({ purged }, 'old batch member outcomes purged');
      }
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
