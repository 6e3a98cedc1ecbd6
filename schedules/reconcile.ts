import { createHash } from 'node:crypto';
import {
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleUpdateOptions,
  type Workflow,
} from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';

/**
 * What the member-cron apply (schedules/apply.ts) and the warming schedules apply (schedules/warming.ts) share:
 * the spec hash, the reconcile loop and its report, and the Temporal calls of their schedule stores. What differs
 * (how one schedule is created or updated, which orphans may be deleted) stays with each caller.
 */

/** One canonical JSON form (sorted keys, undefined dropped) so equal specs hash equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The spec hash an apply keeps in the schedule's action memo: sha-256 of the canonical JSON, 32 hex chars. */
export function specHashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 32);
}

export interface ScheduleApplyReport {
  dryRun: boolean;
  created: string[];
  updated: string[];
  paused: string[];
  unpaused: string[];
  deleted: string[];
  unchanged: string[];
}

export type UpsertAction = 'created' | 'updated' | 'unchanged';

/** What reconciling one listed schedule did (or would do, in a dry run). */
export interface ScheduleOutcome {
  scheduleId: string;
  action: UpsertAction;
  /** Set when the pause state changed. */
  pausedChange?: 'paused' | 'unpaused';
}

export interface ReconcileOps<T> {
  /** Only schedules whose id starts with this are ever deleted. */
  prefix: string;
  dryRun: boolean;
  /** Creates/updates/pauses one listed schedule (honouring dryRun) and says what it did. */
  upsert(item: T): Promise<ScheduleOutcome>;
  /** Ids under the prefix (may be eventually consistent). */
  listIds(prefix: string): Promise<string[]>;
  /** Strongly consistent check of an unlisted id: true when it exists and this apply may delete it. */
  deletable(scheduleId: string): Promise<boolean>;
  delete(scheduleId: string): Promise<void>;
}

/**
 * Reconciles Temporal Schedules with a file: upserts every item in order, then deletes the schedules under the
 * prefix that the file no longer lists (and `deletable` confirms). Every list of the report is sorted.
 */
export async function reconcileSchedules<T>(items: readonly T[], ops: ReconcileOps<T>): Promise<ScheduleApplyReport> {
  const { prefix, dryRun } = ops;
  const report: ScheduleApplyReport = { dryRun, created: [], updated: [], paused: [], unpaused: [], deleted: [], unchanged: [] };
  const wanted = new Set<string>();
  for (const item of items) {
    const r = await ops.upsert(item);
    wanted.add(r.scheduleId);
    if (r.action !== 'unchanged') report[r.action].push(r.scheduleId);
    if (r.pausedChange) report[r.pausedChange].push(r.scheduleId);
    if (r.action === 'unchanged' && !r.pausedChange) report.unchanged.push(r.scheduleId);
  }
  for (const id of await ops.listIds(prefix)) {
    if (wanted.has(id) || !id.startsWith(prefix)) continue;
    // List is eventually consistent: confirm before deleting.
    if (!(await ops.deletable(id))) continue;
    if (!dryRun) await ops.delete(id);
    report.deleted.push(id);
  }
  for (const list of [report.created, report.updated, report.paused, report.unpaused, report.deleted, report.unchanged]) list.sort();
  return report;
}

export function formatScheduleReport(title: string, r: ScheduleApplyReport): string {
  const lines = [`${title}${r.dryRun ? ' (dry run: nothing changed)' : ''}:`];
  // A dry run says what it would do, never that it did it.
  const verb = (done: string, wouldDo: string) => (r.dryRun ? `would ${wouldDo}` : done);
  for (const [label, ids] of [
    [verb('created', 'create'), r.created],
    [verb('updated', 'update'), r.updated],
    [verb('paused', 'pause'), r.paused],
    [verb('unpaused', 'unpause'), r.unpaused],
    [verb('deleted', 'delete'), r.deleted],
    ['unchanged', r.unchanged],
  ] as const) {
    for (const id of ids) lines.push(`  ${label.padEnd(r.dryRun ? 14 : 9)} ${id}`);
  }
  lines.push(
    `  total: ${r.created.length} created, ${r.updated.length} updated, ${r.paused.length} paused, ${r.unpaused.length} unpaused, ${r.deleted.length} deleted, ${r.unchanged.length} unchanged`,
  );
  return lines.join('\n');
}

/** A schedule action that starts `workflowType` on each tick with `input` as its only argument. */
export function startWorkflowAction(a: {
  workflowType: string;
  scheduleId: string;
  taskQueue: string;
  input: unknown;
  /** Action memo: schedule memos cannot be updated, the action's can, so it holds what apply compares. */
  memo: Record<string, unknown>;
  searchAttributes: SearchAttributePair[];
  summary: string;
}): ScheduleOptionsStartWorkflowAction<Workflow> {
  return {
    type: 'startWorkflow',
    workflowType: a.workflowType,
    // The schedule appends the scheduled time to this id, so each tick has its own workflow id.
    workflowId: a.scheduleId,
    taskQueue: a.taskQueue,
    args: [a.input],
    memo: a.memo,
    typedSearchAttributes: new TypedSearchAttributes(a.searchAttributes),
    staticSummary: a.summary,
  };
}

/** The Temporal calls both schedule stores make the same way. */
export const temporalSchedules = {
  /** Strongly consistent read; undefined if the schedule does not exist. */
  async describe(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
    try {
      return await client.schedule.getHandle(scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    }
  },
  async listIds(client: Client, prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(prefix)) ids.push(s.scheduleId);
    return ids;
  },
  async update(client: Client, scheduleId: string, next: Omit<ScheduleUpdateOptions, 'state'>): Promise<void> {
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...next,
      // Pause state is reconciled separately (setPaused) so an update never flips it by accident.
      state: { paused: prev.state.paused, note: prev.state.note },
    }));
  },
  async setPaused(client: Client, scheduleId: string, paused: boolean, note: string): Promise<void> {
    const handle = client.schedule.getHandle(scheduleId);
    if (paused) await handle.pause(note);
    else await handle.unpause(note);
  },
  /** Deleting a schedule that is already gone is not an error. */
  async delete(client: Client, scheduleId: string): Promise<void> {
    try {
      await client.schedule.getHandle(scheduleId).delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  },
};
