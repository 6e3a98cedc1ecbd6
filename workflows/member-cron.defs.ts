import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Member cron workflow contract: types, ids and query names shared by the workflow bodies, the schedule
 * apply, the CLI and other Temporal services (importing this file does not pull workflow code).
 *
 * - Scheduled workflow `memberCronWorkflow`, started by the Temporal Schedule `member-cron/<name>`
 *   (workflow id `member-cron/<name>-<scheduled time>`, assigned by the schedule).
 * - Child `memberCronShardWorkflow` per page, id `member-cron/<name>/<scheduled time ISO>/<page>`.
 * - Search attributes: RteScheduleName=<name>, RteJobType=member-cron, RteBatchStatus=RUNNING|PAUSED|COMPLETED|DISABLED
 *   (the batches' words; a run never waits for a window, so it has no WAITING).
 * - Query `memberCronProgress` → MemberCronProgress; signals `pauseMemberCron({by?})` (no new page is fetched or
 *   shard started; shards in flight finish) and `resumeMemberCron`. The Web UI shows current details.
 */
export const MEMBER_CRON_WORKFLOW_TYPE = 'memberCronWorkflow';
export const MEMBER_CRON_SHARD_WORKFLOW_TYPE = 'memberCronShardWorkflow';
export const MEMBER_CRON_JOB_TYPE = 'member-cron';

/** Plain JSON (the proto3 JSON form of rte.v1.MemberQuery). */
export type MemberQueryJson = { [key: string]: unknown };

export interface MemberCronCounts {
  /** Members the directory returned for the schedule's query. */
  scanned: number;
  /** Members that passed run-time checks (per-sponsor overrides) and were due an event. */
  matched: number;
  /** Events newly written to Kafka by this run. */
  emitted: number;
  /** Members already emitted for this schedule + scheduled time (a rerun); not written again. */
  duplicates: number;
  /** Members excluded at run time by a per-sponsor override. */
  skipped: number;
  /** Events that could not be published after retries and went to the dead-letter topic. */
  deadLettered: number;
}

export const ZERO_COUNTS: MemberCronCounts = { scanned: 0, matched: 0, emitted: 0, duplicates: 0, skipped: 0, deadLettered: 0 };

export function addCounts(a: MemberCronCounts, b: MemberCronCounts): MemberCronCounts {
  return {
    scanned: a.scanned + b.scanned,
    matched: a.matched + b.matched,
    emitted: a.emitted + b.emitted,
    duplicates: a.duplicates + b.duplicates,
    skipped: a.skipped + b.skipped,
    deadLettered: a.deadLettered + b.deadLettered,
  };
}

/** State carried across continue-as-new. */
export interface MemberCronCarry {
  /** Directory cursor of the next page (runs before patch member-cron-page-refs-v1; it encodes a member id). */
  cursor: string;
  /** Since member-cron-page-refs-v1: the next page's cursor is stored with page `nextPage`'s ref (`cursor` is ''). */
  cursorStored?: boolean;
  nextPage: number;
  counts: MemberCronCounts;
  runs: number;
  /** Paused by an operator when the run continued as new (kept paused). */
  paused?: { by?: string };
}

export interface MemberCronInput {
  scheduleName: string;
  cronExpression: string;
  memberQuery: MemberQueryJson;
  /** Members per page (= per child shard workflow). */
  pageSize: number;
  /** Child shard workflows in flight at once. */
  maxConcurrentShards: number;
  /** Pages handled per workflow run before continue-as-new (keeps history bounded). Default 50. */
  pagesPerRun?: number;
  /**
   * The scheduled time this run stands for (ISO 8601). Normally taken from the schedule's
   * TemporalScheduledStartTime search attribute; set it explicitly to rerun a past tick (events already
   * emitted for that tick are not emitted again).
   */
  scheduledTime?: string;
  /** Internal: progress carried over continue-as-new. */
  carry?: MemberCronCarry;
}

export type MemberCronStatus = 'RUNNING' | 'PAUSED' | 'COMPLETED' | 'DISABLED';

export interface MemberCronProgress extends MemberCronCounts {
  scheduleName: string;
  scheduledTime: string;
  status: MemberCronStatus;
  pagesStarted: number;
  pagesCompleted: number;
  /** Workflow runs so far (continue-as-new count + 1). */
  runs: number;
  /** PAUSED: who paused it, when the signal said. */
  pausedBy?: string;
}

export type MemberCronResult = MemberCronProgress;

export interface MemberCronShardInput {
  scheduleName: string;
  cronExpression: string;
  scheduledTime: string;
  page: number;
  /** One bounded page of member ids (≤ pageSize): shards started before patch member-cron-page-refs-v1. */
  memberIds?: string[];
  /**
   * Since member-cron-page-refs-v1: the page's stored member list (PostgreSQL, written by memberCronFetchPage) and
   * its size. The shard's activities read the ids; no member id enters history. The shard drops the list when done.
   */
  pageRef?: string;
  count?: number;
}

/**
 * Where a member cron run (chain of continued-as-new runs, by its first run id) stores page `page`'s member ids; the
 * directory cursor that page is fetched from is stored at `<ref>#cursor` (it encodes a member id, so it stays out of
 * history too).
 */
export function memberCronPageRef(firstRunId: string, page: number): string {
  return `member-cron-page/${firstRunId}/${page}`;
}

export const memberCronProgressQuery = defineQuery<MemberCronProgress>('memberCronProgress');
export interface PauseMemberCronArgs {
  by?: string;
}
/** Holds the run before its next page (shards in flight finish); status PAUSED until resumeMemberCron. */
export const pauseMemberCronSignal = defineSignal<[PauseMemberCronArgs?]>('pauseMemberCron');
export const resumeMemberCronSignal = defineSignal<[]>('resumeMemberCron');

/** Deterministic child id: a rerun of the same tick reuses the same ids. */
export function memberCronShardWorkflowId(scheduleName: string, scheduledTime: string, page: number): string {
  return `member-cron/${scheduleName}/${scheduledTime}/${page}`;
}
