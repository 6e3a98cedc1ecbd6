import { toJson, type JsonObject } from '@bufbuild/protobuf';
import { SchedulingWindow } from '../gen/rte/v1/common_pb';
import { MemberQuerySchema, type MemberQuery } from '../gen/rte/v1/member_query_pb';
import { WarmCacheRequest_Priority, WarmingStrategy, type ScheduleWarmingRequest } from '../gen/rte/v1/warming_pb';
import { compileMemberQuery, normalizeFloat } from '../directory/query/compile';
import { CronError, parseCron } from '../lib/cron';
import { FieldError } from '../lib/errors';
import type { WarmingPriority, WarmingStrategyName } from '../lib/warming/types';

/**
 * ScheduleWarming validation (pure): every problem is a FieldError naming the proto field (snake_case), which
 * the API maps to `invalid_argument` before anything touches Temporal. The warming schedules file goes through
 * the same function, so a file entry and an RPC are accepted or refused alike.
 */

/** Lower-case kebab-case: it becomes the schedule id `warming/<name>` and the job source `schedule-<name>`. */
export const WARMING_SCHEDULE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const STRATEGY_NAMES: Readonly<Record<number, WarmingStrategyName>> = {
  [WarmingStrategy.INTELLIGENT]: 'INTELLIGENT',
  [WarmingStrategy.FORCE]: 'FORCE',
  [WarmingStrategy.FILL_ONLY]: 'FILL_ONLY',
};
export const PRIORITY_NAMES: Readonly<Record<number, WarmingPriority>> = {
  [WarmCacheRequest_Priority.BACKGROUND]: 'BACKGROUND',
  [WarmCacheRequest_Priority.PRELOAD]: 'PRELOAD',
  [WarmCacheRequest_Priority.URGENT]: 'URGENT',
};

/** A validated warming schedule: plain data (safe in workflow inputs and spec hashes). */
export interface WarmingScheduleDefinition {
  name: string;
  /** Trimmed; UTC. */
  cron: string;
  /** rte.v1.MemberQuery in proto3 JSON form. */
  memberQuery: JsonObject;
  strategy: WarmingStrategyName;
  priority: WarmingPriority;
  enabled: boolean;
  description: string;
}

function rejectUnknownFields(message: { $unknown?: readonly { no: number }[] | undefined }, path: string): void {
  const unknown = message.$unknown;
  if (unknown && unknown.length > 0) {
    throw new FieldError(path === '' ? `(field ${unknown[0]!.no})` : `${path}.(field ${unknown[0]!.no})`, 'is not a known field of this message');
  }
}

/**
 * Compiles the query with the directory's compiler, as the workflow will at run time. Feature flags are
 * resolved per run (a sponsor may change its flags between runs), so here every flag resolves to no sponsor:
 * the flag key is still checked, the resolution is not.
 */
export function checkMemberQuery(query: MemberQuery, now: Date): void {
  if (query.cursor !== '') throw new FieldError('member_query.cursor', 'must not be set (each run pages the query itself)');
  if (query.limit !== 0) throw new FieldError('member_query.limit', 'must not be set (each run warms every matching member)');
  // Never ignored (warming #9): a warming job's window comes from its priority (BACKGROUND waits for LOW_UTILIZATION,
  // PRELOAD and URGENT run at once); a window in the query would be stored and never applied.
  if (query.schedulingWindow !== SchedulingWindow.ANY) {
    throw new FieldError(
      'member_query.scheduling_window',
      'is not supported by warming schedules: the window comes from priority (BACKGROUND waits for the LOW_UTILIZATION window, PRELOAD and URGENT run at once); leave it unset (SCHEDULING_WINDOW_ANY)',
    );
  }
  rejectUnknownFields(query, 'member_query');
  const flagSponsors = new Map(Object.keys(query.requiredFeatureFlags).map((k) => [k, [] as string[]]));
  try {
    compileMemberQuery(query, { now, flagSponsors, contractPredicates: new Map() });
  } catch (err) {
    if (err instanceof FieldError) throw err;
    throw new FieldError('member_query', `cannot be compiled: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * proto floats arrive as their float32 value (0.8 → 0.800000011920929); the stored query keeps the decimal the
 * caller wrote, as the compiler reads it (normalizeFloat), so the schedule's input and spec hash stay readable.
 */
function normalizeJsonFloats(value: unknown): unknown {
  if (typeof value === 'number') return normalizeFloat(value);
  if (Array.isArray(value)) return value.map(normalizeJsonFloats);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalizeJsonFloats(v)]));
  return value;
}

export function validateScheduleWarming(req: ScheduleWarmingRequest, now: Date, description = ''): WarmingScheduleDefinition {
  rejectUnknownFields(req, '');
  if (!WARMING_SCHEDULE_NAME.test(req.scheduleName)) {
    throw new FieldError('schedule_name', 'required: 1-63 lower-case letters, digits and inner hyphens (e.g. "morning-preload")');
  }
  const cron = req.cronExpression.trim();
  if (cron === '') throw new FieldError('cron_expression', 'is required (five fields, UTC, e.g. "0 4 * * *")');
  try {
    parseCron(cron);
  } catch (err) {
    throw new FieldError('cron_expression', err instanceof CronError ? err.message : String(err));
  }
  if (!req.memberQuery) throw new FieldError('member_query', 'is required (an empty MemberQuery selects every member)');
  checkMemberQuery(req.memberQuery, now);
  const strategy = STRATEGY_NAMES[req.strategy];
  if (!strategy) throw new FieldError('strategy', `unknown enum value ${req.strategy}`);
  const priority = PRIORITY_NAMES[req.priority];
  if (!priority) throw new FieldError('priority', `unknown enum value ${req.priority}`);
  return {
    name: req.scheduleName,
    cron,
    memberQuery: normalizeJsonFloats(toJson(MemberQuerySchema, req.memberQuery)) as JsonObject,
    strategy,
    priority,
    enabled: req.enabled,
    description,
  };
}
