import { createHash } from 'node:crypto';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
  type Workflow,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { cronToScheduleSpec } from '../lib/cron';
import { MEMBER_CRON_JOB_TYPE, MEMBER_CRON_WORKFLOW_TYPE, type MemberCronInput } from '../workflows/member-cron.defs';
import { RteJobType, RteScheduleName } from '../workflows/search-attributes';
import { SCHEDULE_ID_PREFIX, type ScheduleDefinition } from './load';

/** Memo key holding the hash of everything apply controls (spec, action input, policies). */
export const SPEC_HASH_MEMO_KEY = 'memberCronSpecHash';
const PAUSED_BY_FILE_NOTE = 'paused by schedules apply: enabled=false in member-cron-schedules.yaml';

export interface ApplyOptions {
  /** Task queue the scheduled workflows run on. */
  taskQueue: string;
  dryRun?: boolean;
  /** Only touch schedules whose id starts with this prefix (tests use a unique one). Default `member-cron/`. */
  idPrefix?: string;
}

export interface ApplyReport {
  dryRun: boolean;
  created: string[];
  updated: string[];
  paused: string[];
  unpaused: string[];
  deleted: string[];
  unchanged: string[];
}

export interface ExistingSchedule {
  scheduleId: string;
  specHash: string | undefined;
  paused: boolean;
}

/** What apply needs from Temporal; the Temporal adapter is below, unit tests use an in-memory fake. */
export interface ScheduleStore {
  /** Ids of schedules under the prefix (may be eventually consistent). */
  listIds(prefix: string): Promise<string[]>;
  /** Strongly consistent read; undefined if the schedule does not exist. */
  get(scheduleId: string): Promise<ExistingSchedule | undefined>;
  create(desired: DesiredSchedule): Promise<void>;
  update(desired: DesiredSchedule): Promise<void>;
  setPaused(scheduleId: string, paused: boolean, note: string): Promise<void>;
  delete(scheduleId: string): Promise<void>;
}

export interface DesiredSchedule {
  scheduleId: string;
  definition: ScheduleDefinition;
  spec: ScheduleSpec;
  input: MemberCronInput;
  taskQueue: string;
  specHash: string;
  paused: boolean;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function desiredSchedule(def: ScheduleDefinition, taskQueue: string, scheduleId = def.scheduleId): DesiredSchedule {
  const spec = cronToScheduleSpec(def.cron, { jitterMs: def.policy.jitterMs });
  const input: MemberCronInput = {
    scheduleName: def.name,
    cronExpression: def.cron,
    memberQuery: def.memberQuery,
    pageSize: def.policy.pageSize,
    maxConcurrentShards: def.policy.maxConcurrentShards,
  };
  // `enabled` is state (pause/unpause), not spec: flipping it must not count as a spec change.
  const specHash = createHash('sha256')
    .update(canonicalJson({ v: 1, spec, input, taskQueue, overlap: def.policy.overlap, catchup: def.policy.catchupWindowMs, description: def.description }))
    .digest('hex')
    .slice(0, 32);
  return { scheduleId, definition: def, spec, input, taskQueue, specHash, paused: !def.enabled };
}

/**
 * Reconciles Temporal Schedules with the file: creates missing ones, updates those whose spec hash
 * differs, pauses/unpauses on `enabled`, deletes schedules under the prefix that the file no longer
 * lists, and leaves the rest untouched. Safe to run repeatedly and from several places at once (the
 * worst case of a race is a redundant update with identical content).
 */
export async function applySchedules(defs: readonly ScheduleDefinition[], store: ScheduleStore, opts: ApplyOptions): Promise<ApplyReport> {
  const prefix = opts.idPrefix ?? SCHEDULE_ID_PREFIX;
  const dryRun = opts.dryRun ?? false;
  const report: ApplyReport = { dryRun, created: [], updated: [], paused: [], unpaused: [], deleted: [], unchanged: [] };
  const desired = defs.map((d) => desiredSchedule(d, opts.taskQueue, `${prefix}${d.name}`));
  const wanted = new Set(desired.map((d) => d.scheduleId));

  for (const want of desired) {
    const existing = await store.get(want.scheduleId);
    if (!existing) {
      if (!dryRun) await store.create(want);
      report.created.push(want.scheduleId);
      continue;
    }
    let touched = false;
    if (existing.specHash !== want.specHash) {
      if (!dryRun) await store.update(want);
      report.updated.push(want.scheduleId);
      touched = true;
    }
    if (existing.paused !== want.paused) {
      if (!dryRun) await store.setPaused(want.scheduleId, want.paused, want.paused ? PAUSED_BY_FILE_NOTE : 'unpaused by schedules apply');
      (want.paused ? report.paused : report.unpaused).push(want.scheduleId);
      touched = true;
    }
    if (!touched) report.unchanged.push(want.scheduleId);
  }

  for (const id of await store.listIds(prefix)) {
    if (wanted.has(id) || !id.startsWith(prefix)) continue;
    // List is eventually consistent: confirm before deleting.
    if (!(await store.get(id))) continue;
    if (!dryRun) await store.delete(id);
    report.deleted.push(id);
  }
  for (const list of [report.created, report.updated, report.paused, report.unpaused, report.deleted, report.unchanged]) list.sort();
  return report;
}

const OVERLAP: Record<ScheduleDefinition['policy']['overlap'], ScheduleOverlapPolicy> = {
  SKIP: ScheduleOverlapPolicy.SKIP,
  BUFFER_ONE: ScheduleOverlapPolicy.BUFFER_ONE,
  BUFFER_ALL: ScheduleOverlapPolicy.BUFFER_ALL,
  CANCEL_OTHER: ScheduleOverlapPolicy.CANCEL_OTHER,
  TERMINATE_OTHER: ScheduleOverlapPolicy.TERMINATE_OTHER,
  ALLOW_ALL: ScheduleOverlapPolicy.ALLOW_ALL,
};

function scheduleAction(d: DesiredSchedule): ScheduleOptionsStartWorkflowAction<Workflow> {
  return {
    type: 'startWorkflow',
    workflowType: MEMBER_CRON_WORKFLOW_TYPE,
    // The schedule appends the scheduled time to this id, so each tick has its own workflow id.
    workflowId: d.scheduleId,
    taskQueue: d.taskQueue,
    args: [d.input],
    // Schedule memos cannot be updated; the action memo can, so it holds the authoritative hash.
    memo: { [SPEC_HASH_MEMO_KEY]: d.specHash },
    typedSearchAttributes: new TypedSearchAttributes([
      { key: RteScheduleName, value: d.definition.name },
      { key: RteJobType, value: MEMBER_CRON_JOB_TYPE },
    ]),
    staticSummary: `member cron ${d.definition.name} (${d.definition.cron})`,
  };
}

function policies(d: DesiredSchedule) {
  return { overlap: OVERLAP[d.definition.policy.overlap], catchupWindow: d.definition.policy.catchupWindowMs, pauseOnFailure: false };
}

function hashOf(desc: ScheduleDescription): string | undefined {
  const action = desc.action as { memo?: Record<string, unknown> };
  const fromAction = action.memo?.[SPEC_HASH_MEMO_KEY];
  if (typeof fromAction === 'string') return fromAction;
  const fromSchedule = desc.memo?.[SPEC_HASH_MEMO_KEY];
  return typeof fromSchedule === 'string' ? fromSchedule : undefined;
}

/** The Temporal adapter of `ScheduleStore`. */
export function createTemporalScheduleStore(client: Client): ScheduleStore {
  return {
    async listIds(prefix) {
      const ids: string[] = [];
      for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
      return ids;
    },
    async get(scheduleId) {
      try {
        const desc = await client.schedule.getHandle(scheduleId).describe();
        return { scheduleId, specHash: hashOf(desc), paused: desc.state.paused };
      } catch (err) {
        if (err instanceof ScheduleNotFoundError) return undefined;
        throw err;
      }
    },
    async create(d) {
      await client.schedule.create({
        scheduleId: d.scheduleId,
        spec: d.spec,
        action: scheduleAction(d),
        policies: policies(d),
        memo: { [SPEC_HASH_MEMO_KEY]: d.specHash, description: d.definition.description },
        state: { paused: d.paused, note: d.paused ? PAUSED_BY_FILE_NOTE : 'created by schedules apply' },
      });
    },
    async update(d) {
      await client.schedule.getHandle(d.scheduleId).update((prev) => ({
        spec: d.spec,
        action: scheduleAction(d),
        policies: policies(d),
        // Pause state is reconciled separately (setPaused) so an update never flips it by accident.
        state: { paused: prev.state.paused, note: prev.state.note },
      }));
    },
    async setPaused(scheduleId, paused, note) {
      const handle = client.schedule.getHandle(scheduleId);
      if (paused) await handle.pause(note);
      else await handle.unpause(note);
    },
    async delete(scheduleId) {
      try {
        await client.schedule.getHandle(scheduleId).delete();
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
    },
  };
}

export function formatReport(r: ApplyReport): string {
  const lines = [`member-cron schedules${r.dryRun ? ' (dry run: nothing changed)' : ''}:`];
  const section = (label: string, ids: string[]) => {
    for (const id of ids) lines.push(`  ${label.padEnd(9)} ${id}`);
  };
  section('created', r.created);
  section('updated', r.updated);
  section('paused', r.paused);
  section('unpaused', r.unpaused);
  section('deleted', r.deleted);
  section('unchanged', r.unchanged);
  lines.push(
    `  total: ${r.created.length} created, ${r.updated.length} updated, ${r.paused.length} paused, ${r.unpaused.length} unpaused, ${r.deleted.length} deleted, ${r.unchanged.length} unchanged`,
  );
  return lines.join('\n');
}

/** Shared with the warming schedules (schedules/warming.ts): one canonical form for spec hashes. */
export { canonicalJson };
