import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleSpec } from '@temporalio/client';
import { cronToScheduleSpec } from '../lib/cron';
import { CACHE_WARMING_JOB_TYPE } from '../lib/warming/types';
import { RteJobType, RtePriority, RteScheduleName, RteStrategy } from '../workflows/search-attributes';
import { formatScheduleReport, reconcileSchedules, specHashOf, startWorkflowAction, temporalSchedules, type ScheduleApplyReport, type ScheduleOutcome, type UpsertAction } from './reconcile';
import { resolveOperations } from '../lib/warming/decide';
import { CACHE_WARMING_WORKFLOW_TYPE, type CacheWarmingWorkflowInput, type WarmingTuning } from '../workflows/warming.defs';
import type { WarmingScheduleDefinition } from './warming-request';

/**
 * Warming schedules (design doc, Component 4 "Scheduling Examples"): one Temporal Schedule per schedule name,
 * id `warming/<name>`, whose action starts `cacheWarmingWorkflow` on the main task queue. Two writers share them:
 * the ScheduleWarming RPC and the schedules file (schedules/warming-schedules.yaml, applied on `stack up`). Both
 * go through `upsertWarmingSchedule`, so the same definition always yields the same schedule; which writer last
 * set a schedule is kept in its action memo, and the file apply deletes only schedules the file created.
 */
export const WARMING_SCHEDULE_ID_PREFIX = 'warming/';
export { CACHE_WARMING_WORKFLOW_TYPE };
/** Action memo keys (schedule memos cannot be updated; the action's can). */
export const WARMING_SPEC_HASH_MEMO_KEY = 'warmingSpecHash';
export const WARMING_MANAGED_BY_MEMO_KEY = 'warmingManagedBy';
/** The service that created a ScheduleWarming schedule (its owner: only it, or an rte:admin caller, may change it). */
export const WARMING_OWNER_MEMO_KEY = 'warmingOwner';
export type WarmingScheduleWriter = 'api' | 'file';

/** The input a scheduled tick hands `cacheWarmingWorkflow` (its contract: workflows/warming.defs.ts). */
export type ScheduledWarmingInput = CacheWarmingWorkflowInput;

export function warmingScheduleSource(name: string): string {
  return `schedule-${name}`;
}

/** `tuning`: the platform's warming tuning (warmingTuningFromConfig); absent = the workflow's defaults. */
export function buildScheduledWarmingInput(def: WarmingScheduleDefinition, tuning?: Partial<WarmingTuning>): ScheduledWarmingInput {
  return {
    // A Schedule action cannot know its run's id: the workflow uses its own id as the job id.
    jobId: '',
    source: warmingScheduleSource(def.name),
    scheduleName: def.name,
    selector: { kind: 'query', query: def.memberQuery },
    strategy: def.strategy,
    priority: def.priority,
    operations: resolveOperations([]),
    ...(tuning ? { tuning } : {}),
  };
}

/**
 * Policies: BUFFER_ONE so a slow run delays the next tick rather than running two warmings of one query at once;
 * a 2 h catch-up window so a short Temporal outage before the morning rush still warms, while a tick missed by
 * half a day (its members' usage window is gone) is not replayed.
 */
export const WARMING_SCHEDULE_POLICY = { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindowMs: 2 * 3_600_000 } as const;

export interface DesiredWarmingSchedule {
  scheduleId: string;
  definition: WarmingScheduleDefinition;
  spec: ScheduleSpec;
  input: ScheduledWarmingInput;
  taskQueue: string;
  specHash: string;
  paused: boolean;
  /** The ScheduleWarming caller's service, named in the pause note operators see (not part of the spec hash). */
  requestedBy?: string;
  /** The owning service recorded in the action memo (set by `upsertWarmingSchedule` for API writes). */
  owner?: string;
}

export function desiredWarmingSchedule(
  def: WarmingScheduleDefinition,
  taskQueue: string,
  idPrefix = WARMING_SCHEDULE_ID_PREFIX,
  tuning?: Partial<WarmingTuning>,
): DesiredWarmingSchedule {
  const spec = cronToScheduleSpec(def.cron);
  const input = buildScheduledWarmingInput(def, tuning);
  // `enabled` is state (pause/unpause), not spec: flipping it must not count as a spec change.
  const specHash = specHashOf({ v: 1, spec, input, taskQueue, policy: WARMING_SCHEDULE_POLICY, description: def.description });
  return { scheduleId: `${idPrefix}${def.name}`, definition: def, spec, input, taskQueue, specHash, paused: !def.enabled };
}

export interface ExistingWarmingSchedule {
  scheduleId: string;
  specHash: string | undefined;
  managedBy: WarmingScheduleWriter | undefined;
  paused: boolean;
  /** Next action time as Temporal reports it (absent while paused). */
  nextRun: Date | undefined;
  /** The service that created it through ScheduleWarming; undefined for the file's and for older schedules. */
  owner?: string | undefined;
}

/** What the upsert needs from Temporal; the Temporal adapter is below, unit tests use an in-memory fake. */
export interface WarmingScheduleStore {
  /** Strongly consistent read; undefined if the schedule does not exist. */
  get(scheduleId: string): Promise<ExistingWarmingSchedule | undefined>;
  /** Throws `WarmingScheduleExists` when another writer created it first. */
  create(desired: DesiredWarmingSchedule, writer: WarmingScheduleWriter): Promise<void>;
  update(desired: DesiredWarmingSchedule, writer: WarmingScheduleWriter): Promise<void>;
  setPaused(scheduleId: string, paused: boolean, note: string): Promise<void>;
  /** Ids under the prefix (eventually consistent). */
  listIds(prefix: string): Promise<string[]>;
  delete(scheduleId: string): Promise<void>;
}

export class WarmingScheduleExists extends Error {}

/** The schedule exists and another writer manages it (`upsertWarmingSchedule`'s `refuseManagedBy`). */
export class WarmingScheduleManagedElsewhere extends Error {
  constructor(
    readonly scheduleId: string,
    readonly managedBy: WarmingScheduleWriter,
  ) {
    super(`schedule ${scheduleId} is managed by the ${managedBy}`);
  }
}

/** A ScheduleWarming schedule another service created: only its owner or an rte:admin caller may change it. */
export class WarmingScheduleOwnedByAnother extends Error {
  constructor(
    readonly scheduleId: string,
    readonly owner: string,
  ) {
    super(`schedule ${scheduleId} belongs to service ${owner}`);
  }
}

/** The ScheduleWarming caller, for the ownership check: its service name and whether it holds rte:admin. */
export interface WarmingScheduleCaller {
  service: string;
  admin: boolean;
}

export type { UpsertAction };

export interface UpsertResult extends ScheduleOutcome {
  /** Temporal's next action time; undefined when the schedule is paused (disabled). */
  nextRun: Date | undefined;
}

function pauseNote(writer: WarmingScheduleWriter, paused: boolean, requestedBy?: string): string {
  // Operators see this note (`temporal schedule describe`, the Web UI): it names the calling service, not just the RPC.
  const by = writer === 'api' ? `ScheduleWarming${requestedBy ? ` (caller ${requestedBy.slice(0, 100)})` : ''}` : 'warming-schedules.yaml';
  return paused ? `paused by ${by}: enabled=false` : `enabled by ${by}`;
}

/**
 * Idempotent create-or-update of one schedule: creates it when missing, updates it when its spec hash differs,
 * pauses/unpauses on `enabled`, and then reads it back so `nextRun` is Temporal's own answer.
 */
export async function upsertWarmingSchedule(
  desired: DesiredWarmingSchedule,
  store: WarmingScheduleStore,
  writer: WarmingScheduleWriter,
  opts: { dryRun?: boolean; refuseManagedBy?: WarmingScheduleWriter; caller?: WarmingScheduleCaller; settle?: PauseSettle } = {},
): Promise<UpsertResult> {
  let existing = await store.get(desired.scheduleId);
  // Checked on the same read the upsert decides from, before anything is written.
  const check = (e: ExistingWarmingSchedule | undefined) => {
    if (opts.refuseManagedBy && e?.managedBy === opts.refuseManagedBy) throw new WarmingScheduleManagedElsewhere(desired.scheduleId, opts.refuseManagedBy);
    // Owned (warming #10): another service may not rewrite or pause a schedule it did not create, unless rte:admin.
    // A schedule created before owners were recorded has none: its next API writer becomes its owner.
    if (opts.caller && !opts.caller.admin && e?.owner !== undefined && e.owner !== opts.caller.service) throw new WarmingScheduleOwnedByAnother(desired.scheduleId, e.owner);
  };
  check(existing);
  // The owner is kept across updates (an admin's change does not take the schedule over).
  const ownerOf = (e: ExistingWarmingSchedule | undefined) => e?.owner ?? opts.caller?.service;
  let want: DesiredWarmingSchedule = opts.caller ? { ...desired, owner: ownerOf(existing)! } : desired;
  let action: UpsertAction = 'unchanged';
  if (!existing) {
    if (opts.dryRun) return { scheduleId: desired.scheduleId, action: 'created', nextRun: undefined };
    try {
      await store.create(want, writer);
      action = 'created';
    } catch (err) {
      // A concurrent writer created it between our read and create: converge on it like an update (if it may).
      if (!(err instanceof WarmingScheduleExists)) throw err;
    }
    existing = await store.get(desired.scheduleId);
    if (!existing) throw new Error(`schedule ${desired.scheduleId} vanished after create`);
    if (action !== 'created') {
      check(existing);
      if (opts.caller) want = { ...desired, owner: ownerOf(existing)! };
    }
  }
  if (action !== 'created' && (existing.specHash !== want.specHash || existing.managedBy !== writer || (want.owner !== undefined && existing.owner !== want.owner))) {
    if (!opts.dryRun) await store.update(want, writer);
    action = 'updated';
  }
  let pausedChange: UpsertResult['pausedChange'];
  if (existing.paused !== desired.paused) {
    if (!opts.dryRun) await store.setPaused(desired.scheduleId, desired.paused, pauseNote(writer, desired.paused, desired.requestedBy));
    pausedChange = desired.paused ? 'paused' : 'unpaused';
  }
  if (opts.dryRun) return { scheduleId: desired.scheduleId, action, ...(pausedChange ? { pausedChange } : {}), nextRun: existing.nextRun };
  let after = action === 'unchanged' && !pausedChange ? existing : await store.get(desired.scheduleId);
  if (pausedChange && after && after.paused !== desired.paused) after = await pausedSettled(store, desired.scheduleId, desired.paused, opts.settle);
  return {
    scheduleId: desired.scheduleId,
    action,
    ...(pausedChange ? { pausedChange } : {}),
    nextRun: desired.paused ? undefined : after?.nextRun,
  };
}

/** How long, and how often, an upsert re-reads a schedule until its describe shows the pause it just set. */
export interface PauseSettle {
  timeoutMs: number;
  intervalMs: number;
  sleep?: (ms: number) => Promise<void>;
}
export const DEFAULT_PAUSE_SETTLE: PauseSettle = { timeoutMs: 5_000, intervalMs: 100 };

/**
 * Re-reads the schedule until it shows `paused`, for at most `settle.timeoutMs`. Temporal applies a pause to the
 * schedule asynchronously: a describe right after the pause call answered can still show the old state (seen on a
 * loaded 2-core CI machine: ScheduleWarming enabled=false answered, and the operator's describe said not paused).
 * So the caller, and any describe after its answer, see the state it asked for. If it does not show in time, the last
 * read is returned: the pause was accepted and Temporal applies it.
 */
async function pausedSettled(store: WarmingScheduleStore, scheduleId: string, paused: boolean, settle: PauseSettle = DEFAULT_PAUSE_SETTLE): Promise<ExistingWarmingSchedule | undefined> {
  const sleep = settle.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let waited = 0;
  let last = await store.get(scheduleId);
  while (last && last.paused !== paused && waited < settle.timeoutMs) {
    await sleep(settle.intervalMs);
    waited += settle.intervalMs;
    last = await store.get(scheduleId);
  }
  return last;
}

export type WarmingApplyReport = ScheduleApplyReport;

/**
 * Reconciles the schedules file: upserts every entry (the file wins for the names it lists) and deletes
 * schedules under the prefix that the file created earlier but no longer lists. Schedules made through the
 * ScheduleWarming RPC are never deleted here.
 */
export async function applyWarmingSchedules(
  defs: readonly WarmingScheduleDefinition[],
  store: WarmingScheduleStore,
  opts: { taskQueue: string; dryRun?: boolean; idPrefix?: string; tuning?: Partial<WarmingTuning> },
): Promise<WarmingApplyReport> {
  const prefix = opts.idPrefix ?? WARMING_SCHEDULE_ID_PREFIX;
  const dryRun = opts.dryRun ?? false;
  return reconcileSchedules(defs, {
    prefix,
    dryRun,
    upsert: (def) => upsertWarmingSchedule(desiredWarmingSchedule(def, opts.taskQueue, prefix, opts.tuning), store, 'file', { dryRun }),
    listIds: (p) => store.listIds(p),
    deletable: async (id) => (await store.get(id))?.managedBy === 'file',
    delete: (id) => store.delete(id),
  });
}

export function formatWarmingReport(r: WarmingApplyReport): string {
  return formatScheduleReport('warming schedules', r);
}

function scheduleAction(d: DesiredWarmingSchedule, writer: WarmingScheduleWriter) {
  return startWorkflowAction({
    workflowType: CACHE_WARMING_WORKFLOW_TYPE,
    scheduleId: d.scheduleId,
    taskQueue: d.taskQueue,
    input: d.input,
    memo: { [WARMING_SPEC_HASH_MEMO_KEY]: d.specHash, [WARMING_MANAGED_BY_MEMO_KEY]: writer, ...(writer === 'api' && d.owner ? { [WARMING_OWNER_MEMO_KEY]: d.owner } : {}) },
    searchAttributes: [
      { key: RteScheduleName, value: d.definition.name },
      { key: RteJobType, value: CACHE_WARMING_JOB_TYPE },
      { key: RtePriority, value: d.definition.priority },
      { key: RteStrategy, value: d.definition.strategy },
    ],
    summary: `cache warming ${d.definition.name} (${d.definition.cron}, ${d.definition.strategy}, ${d.definition.priority})`,
  });
}

const policies = () => ({ overlap: WARMING_SCHEDULE_POLICY.overlap, catchupWindow: WARMING_SCHEDULE_POLICY.catchupWindowMs, pauseOnFailure: false });

function readExisting(scheduleId: string, desc: ScheduleDescription): ExistingWarmingSchedule {
  const memo = (desc.action as { memo?: Record<string, unknown> }).memo ?? {};
  const hash = memo[WARMING_SPEC_HASH_MEMO_KEY];
  const by = memo[WARMING_MANAGED_BY_MEMO_KEY];
  const owner = memo[WARMING_OWNER_MEMO_KEY];
  return {
    scheduleId,
    specHash: typeof hash === 'string' ? hash : undefined,
    managedBy: by === 'api' || by === 'file' ? by : undefined,
    // Only an API schedule has an owner (the file owns the rest; a file apply rewrites the memo without one).
    owner: by === 'api' && typeof owner === 'string' && owner !== '' ? owner : undefined,
    paused: desc.state.paused,
    nextRun: desc.state.paused ? undefined : desc.info.nextActionTimes[0],
  };
}

/** The Temporal adapter of `WarmingScheduleStore`. */
export function createTemporalWarmingScheduleStore(client: Client): WarmingScheduleStore {
  return {
    async get(scheduleId) {
      const desc = await temporalSchedules.describe(client, scheduleId);
      return desc && readExisting(scheduleId, desc);
    },
    async create(d, writer) {
      try {
        await client.schedule.create({
          scheduleId: d.scheduleId,
          spec: d.spec,
          action: scheduleAction(d, writer),
          policies: policies(),
          memo: { description: d.definition.description },
          state: { paused: d.paused, note: pauseNote(writer, d.paused, d.requestedBy) },
        });
      } catch (err) {
        if (err instanceof ScheduleAlreadyRunning) throw new WarmingScheduleExists(d.scheduleId);
        throw err;
      }
    },
    update: (d, writer) => temporalSchedules.update(client, d.scheduleId, { spec: d.spec, action: scheduleAction(d, writer), policies: policies() }),
    setPaused: (scheduleId, paused, note) => temporalSchedules.setPaused(client, scheduleId, paused, note),
    listIds: (prefix) => temporalSchedules.listIds(client, prefix),
    delete: (scheduleId) => temporalSchedules.delete(client, scheduleId),
  };
}
