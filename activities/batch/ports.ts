import type { MemberQuery } from '../../gen/rte/v1/member_query_pb';
import type { BatchErrorRecord } from '../../lib/batch/types';
import type { EngagementHint } from '../../lib/batch/windows';
import type { MemberRecordSource } from '../../lib/member-record';

/**
 * Narrow ports the batch activities and the batch API depend on. Adapters: PostgreSQL (pg-stores.ts) for the
 * member lists and errors (raw member ids live only in PostgreSQL), in-memory (memory-stores.ts) for tests.
 */

/** A batch's resolved member ids, addressed by index. `listRef` is opaque (the API derives it from the batch). */
export interface MemberListStore {
  /** Writes ids at indexes [start, start + ids.length). Idempotent: an existing index keeps its id. */
  write(listRef: string, start: number, ids: readonly string[]): Promise<void>;
  /** Ids at [start, start + count) in index order (fewer at the end of the list). */
  read(listRef: string, start: number, count: number): Promise<string[]>;
  /** The ids at the given indexes, by index (an index past the list's end is absent): one read for scattered indexes. */
  readAt(listRef: string, indexes: readonly number[]): Promise<Map<number, string>>;
  delete(listRef: string): Promise<void>;
}

export interface StoredBatchError extends BatchErrorRecord {
  memberId: string;
}

/** Every member failure of a batch, so GetBatchStatus can page errors even when all 100,000 members failed. */
export interface BatchErrorStore {
  /** Upsert by (batchId, memberIndex): a retried activity never duplicates an error. */
  record(batchId: string, errors: readonly StoredBatchError[]): Promise<void>;
  /** Keyset page: errors with memberIndex > afterIndex (start with -1), in index order. */
  page(batchId: string, afterIndex: number, limit: number): Promise<{ errors: StoredBatchError[]; total: number }>;
}

/** One member's final outcome in a batch (a MEMBER_COMPLETED update of WatchBatchStatus). */
export interface StoredMemberOutcome {
  memberIndex: number;
  memberId: string;
  success: boolean;
  /** Time spent on the member, when known (real-time checks; 0 for cache answers). */
  durationMs?: number;
  errorMessage?: string;
}

/**
 * Per-member outcomes, written as members finish so WatchBatchStatus can stream them. One outcome per
 * (batch, member): the first write wins, so retried activities never duplicate a member.
 */
export interface BatchOutcomeStore {
  record(batchId: string, outcomes: readonly StoredMemberOutcome[]): Promise<void>;
  /** Outcomes in write order after `afterSeq` (start with 0). Rows are ordered by a sequence assigned at insert. */
  read(batchId: string, afterSeq: number, limit: number): Promise<Array<StoredMemberOutcome & { seq: number }>>;
  /** Housekeeping: drops outcomes recorded more than `olderThanMs` ago (every batch). Returns rows deleted. */
  purge(olderThanMs: number): Promise<number>;
}

/**
 * The member directory as the batch sees it. `queryMemberIds` pages a MemberQuery with an opaque cursor
 * (adapter over `MemberDirectory.queryMembers`); `engagementHints` feeds OPTIMAL_MEMBER_ENGAGEMENT and may be
 * absent (every member then takes the doc's fallback).
 */
export interface BatchMemberDirectory extends MemberRecordSource {
  queryMemberIds(query: MemberQuery, cursor: string | undefined, limit: number): Promise<{ memberIds: string[]; nextCursor?: string }>;
  engagementHints?(memberIds: readonly string[], nowMs: number): Promise<Map<string, EngagementHint>>;
}

/** Real-time slot utilisation for the strategy matrix and the ANY window (adapter over SlotPool.stats()). */
export interface StediLoadSource {
  load(): Promise<{ limit: number; inUse: number }>;
}

/** prom-client adapter in metrics.ts; optional everywhere. */
export interface BatchMetrics {
  /** `eventId` dedupes retried event activities; `started: false` marks a batch that ended without STARTED. */
  /** `window`: the requested scheduling window (counted once per batch at STARTED); `mode`: batch_api, realtime or cache_only. */
  onBatchEvent(eventType: string, info: { durationSeconds?: number; eventId?: string; started?: boolean; window?: string; mode?: string }): void;
  onScheduled(window: string, members: number): void;
  onExecutionHour(hourUtc: number): void;
  onCacheLookup(hits: number, misses: number): void;
  onStediRequests(source: 'batch_api' | 'realtime', count: number): void;
}

/** A batch's progress as PostgreSQL durably recorded it (no workflow involved). */
export interface BatchDurableProgress {
  /** Members with a recorded outcome, by result. */
  completed: number;
  failed: number;
  /** Size of the batch's member list (a member_query's: what is resolved so far) and when it was staged. */
  listed?: number;
  listedAtMs?: number;
  firstOutcomeAtMs?: number;
  lastOutcomeAtMs?: number;
}

/** Reads a batch's durable progress; undefined when PostgreSQL holds nothing for it. */
export interface BatchDurableProgressReader {
  read(batchId: string): Promise<BatchDurableProgress | undefined>;
}
