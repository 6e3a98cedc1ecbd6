import { ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleSpec } from '@temporalio/client';
import { cronToScheduleSpec } from '../lib/cron';
import { MEMBER_CRON_JOB_TYPE, MEMBER_CRON_WORKFLOW_TYPE, type MemberCronInput } from '../workflows/member-cron.defs';
import { RteJobType, RteScheduleName } from '../workflows/search-attributes';
import { SCHEDULE_ID_PREFIX, type ScheduleDefinition } from './load';
import { formatScheduleReport, reconcileSchedules, specHashOf, startWorkflowAction, temporalSchedules, type ScheduleApplyReport, type ScheduleOutcome } from './reconcile';

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

export type ApplyReport = ScheduleApplyReport;

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
  const specHash = specHashOf({ v: 1, spec, input, taskQueue, overlap: def.policy.overlap, catchup: def.policy.catchupWindowMs, description: def.description });
  return { scheduleId, definition: def, spec, input, taskQueue, specHash, paused: !def.enabled };
}

/** Creates the schedule when missing, updates it when its spec hash differs, pauses/unpauses it on `enabled`. */
async function upsertSchedule(want: DesiredSchedule, store: ScheduleStore, dryRun: boolean): Promise<ScheduleOutcome> {
  const existing = await store.get(want.scheduleId);
  if (!existing) {
    if (!dryRun) await store.create(want);
    return { scheduleId: want.scheduleId, action: 'created' };
  }
  const outcome: ScheduleOutcome = { scheduleId: want.scheduleId, action: 'unchanged' };
  if (existing.specHash !== want.specHash) {
    if (!dryRun) await store.update(want);
    outcome.action = 'updated';
  }
  if (existing.paused !== want.paused) {
    if (!dryRun) await store.setPaused(want.scheduleId, want.paused, want.paused ? PAUSED_BY_FILE_NOTE : 'unpaused by schedules apply');
    outcome.pausedChange = want.paused ? 'paused' : 'unpaused';
  }
  return outcome;
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
  const desired = defs.map((d) => desiredSchedule(d, opts.taskQueue, `${prefix}${d.name}`));
  return reconcileSchedules(desired, {
    prefix,
    dryRun,
    upsert: (want) => upsertSchedule(want, store, dryRun),
    listIds: (p) => store.listIds(p),
    deletable: async (id) => (await store.get(id)) !== undefined,
    delete: (id) => store.delete(id),
  });
}

const OVERLAP: Record<ScheduleDefinition['policy']['overlap'], ScheduleOverlapPolicy> = {
  SKIP: ScheduleOverlapPolicy.SKIP,
  BUFFER_ONE: ScheduleOverlapPolicy.BUFFER_ONE,
  BUFFER_ALL: ScheduleOverlapPolicy.BUFFER_ALL,
  CANCEL_OTHER: ScheduleOverlapPolicy.CANCEL_OTHER,
  TERMINATE_OTHER: ScheduleOverlapPolicy.TERMINATE_OTHER,
  ALLOW_ALL: ScheduleOverlapPolicy.ALLOW_ALL,
};

function scheduleAction(d: DesiredSchedule) {
  return startWorkflowAction({
    workflowType: MEMBER_CRON_WORKFLOW_TYPE,
    scheduleId: d.scheduleId,
    taskQueue: d.taskQueue,
    input: d.input,
    // The action memo holds the authoritative hash.
    memo: { [SPEC_HASH_MEMO_KEY]: d.specHash },
    searchAttributes: [
      { key: RteScheduleName, value: d.definition.name },
      { key: RteJobType, value: MEMBER_CRON_JOB_TYPE },
    ],
    summary: `member cron ${d.definition.name} (${d.definition.cron})`,
  });
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
    listIds: (prefix) => temporalSchedules.listIds(client, prefix),
    async get(scheduleId) {
      const desc = await temporalSchedules.describe(client, scheduleId);
      return desc && { scheduleId, specHash: hashOf(desc), paused: desc.state.paused };
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
    update: (d) => temporalSchedules.update(client, d.scheduleId, { spec: d.spec, action: scheduleAction(d), policies: policies(d) }),
    setPaused: (scheduleId, paused, note) => temporalSchedules.setPaused(client, scheduleId, paused, note),
    delete: (scheduleId) => temporalSchedules.delete(client, scheduleId),
  };
}

export function formatReport(r: ApplyReport): string {
  return formatScheduleReport('member-cron schedules', r);
}

/** Shared with the warming schedules (schedules/warming.ts): one canonical form for spec hashes. */
export { canonicalJson } from './reconcile';
