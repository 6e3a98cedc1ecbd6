import { create } from '@bufbuild/protobuf';
import { DurationSchema, timestampFromMs, type Duration } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import type { Logger } from 'pino';
import {
  GetWarmingStatsResponseSchema,
  ScheduleWarmingResponseSchema,
  WarmingStatsSchema,
  type GetWarmingStatsRequest,
  type GetWarmingStatsResponse,
  type ScheduleWarmingRequest,
  type ScheduleWarmingResponse,
} from '../../gen/rte/v1/warming_pb';
import type { MemberQuery } from '../../gen/rte/v1/member_query_pb';
import type { WarmingStatsReader } from '../../activities/warming-usage/ports';
import { computeWarmingStats, validateGetWarmingStats } from '../../lib/warming/stats';
import { validateScheduleWarming } from '../../schedules/warming-request';
import { desiredWarmingSchedule, upsertWarmingSchedule, WarmingScheduleManagedElsewhere, WarmingScheduleOwnedByAnother, type WarmingScheduleStore } from '../../schedules/warming';
import type { WarmingTuning } from '../../workflows/warming.defs';
import { principalKey, Scope } from '../auth';

/**
 * ScheduleWarming and GetWarmingStats handlers, as factories the CacheWarmingService implementation mounts
 * (api/services/warming-service.ts). Scopes (rte:warming:write / rte:warming:read) and the audit line for
 * ScheduleWarming come from the interceptors (api/auth.ts, api/interceptors.ts).
 */

export interface ScheduleWarmingDeps {
  schedules: WarmingScheduleStore;
  /** Task queue the scheduled cacheWarmingWorkflow runs on (the main queue). */
  taskQueue: string;
  /** The platform's warming tuning (warmingTuningFromConfig), carried in the schedule's action input. */
  tuning?: Partial<WarmingTuning>;
  logger: Logger;
  now?: () => Date;
  /**
   * The directory's own check of a member_query (catalog lookups: unknown sponsor ids and feature-flag keys refused,
   * naming them), as SubmitBatch makes: a typo would otherwise warm nobody on every run or, for a flag required
   * false, every sponsor's members.
   */
  checkMemberQuery?: (query: MemberQuery) => Promise<void>;
}

export type ScheduleWarmingHandler = (req: ScheduleWarmingRequest, ctx: HandlerContext) => Promise<ScheduleWarmingResponse>;
export type GetWarmingStatsHandler = (req: GetWarmingStatsRequest, ctx: HandlerContext) => Promise<GetWarmingStatsResponse>;

/**
 * Idempotent create-or-update of the Temporal Schedule `warming/<schedule_name>`. Everything is validated before
 * Temporal is touched (a bad cron or query creates nothing); `enabled=false` pauses the schedule and leaves
 * `next_run` unset; otherwise `next_run` is Temporal's own next action time.
 */
export function createScheduleWarmingHandler(deps: ScheduleWarmingDeps): ScheduleWarmingHandler {
  const now = deps.now ?? (() => new Date());
  return async (req, ctx) => {
    const def = validateScheduleWarming(req, now());
    if (deps.checkMemberQuery && req.memberQuery) await deps.checkMemberQuery(req.memberQuery);
    const principal = ctx.values.get(principalKey);
    const caller = principal?.service;
    const desired = { ...desiredWarmingSchedule(def, deps.taskQueue, undefined, deps.tuning), ...(caller ? { requestedBy: caller } : {}) };
    // The operators' schedules file owns the names it lists: a client's change would be undone at the next apply
    // (the file wins), so it is refused rather than answered OK. A schedule another service created is its own: only
    // it or an rte:admin caller may change it (as for acting for another service, api/auth.ts actingService).
    const result = await upsertWarmingSchedule(desired, deps.schedules, 'api', {
      refuseManagedBy: 'file',
      ...(principal ? { caller: { service: principal.service, admin: principal.scopes.has(Scope.Admin) } } : {}),
    }).catch((err: unknown) => {
      if (err instanceof WarmingScheduleOwnedByAnother) {
        // The owner is named to operators (this log line, the schedule's memo), not to the caller: another tenant has
        // no business learning which service owns a name (probe p18 F4; a foreign batch is likewise plain not_found).
        deps.logger.warn({ scheduleName: def.name, owner: err.owner, caller }, 'ScheduleWarming refused: the schedule belongs to another service');
        throw new ConnectError(
          `schedule_name: "${def.name}" belongs to another client service (the one that created the schedule); caller "${caller ?? ''}" may not change it without ${Scope.Admin}. Choose another name`,
          Code.PermissionDenied,
        );
      }
      if (!(err instanceof WarmingScheduleManagedElsewhere)) throw err;
      throw new ConnectError(
        `schedule_name: "${def.name}" is managed by the operators' warming schedules file (schedules/warming-schedules.yaml); a change through ScheduleWarming would be undone at its next apply. Choose another name, or change the file`,
        Code.FailedPrecondition,
      );
    });
    deps.logger.info(
      {
        caller,
        scheduleId: result.scheduleId,
        action: result.action,
        pausedChange: result.pausedChange,
        cron: def.cron,
        strategy: def.strategy,
        priority: def.priority,
        enabled: def.enabled,
      },
      'ScheduleWarming applied',
    );
    return create(ScheduleWarmingResponseSchema, {
      scheduleId: result.scheduleId,
      ...(result.nextRun ? { nextRun: timestampFromMs(result.nextRun.getTime()) } : {}),
    });
  };
}

export interface GetWarmingStatsDeps {
  records: Pick<WarmingStatsReader, 'aggregates' | 'readCounts'>;
  now?: () => number;
}

function durationFromMs(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return create(DurationSchema, { seconds: BigInt(seconds), nanos });
}

/** Statistics over [start_time, end_time) from the durable records (definitions: docs/warming-stats.md). */
export function createGetWarmingStatsHandler(deps: GetWarmingStatsDeps): GetWarmingStatsHandler {
  const now = deps.now ?? Date.now;
  return async (req) => {
    const q = validateGetWarmingStats(req);
    const at = now();
    const [{ total, bySource }, reads] = await Promise.all([deps.records.aggregates(q, at), deps.records.readCounts(q)]);
    const f = computeWarmingStats({ total, bySource, reads });
    return create(GetWarmingStatsResponseSchema, {
      stats: create(WarmingStatsSchema, {
        totalMembersWarmed: f.totalMembersWarmed,
        cacheHitsAvoided: f.cacheHitsAvoided,
        bySource: f.bySource,
        predictionAccuracy: f.predictionAccuracy,
        ...(f.avgWarmDurationMs !== undefined ? { avgWarmDuration: durationFromMs(f.avgWarmDurationMs) } : {}),
        cacheHitRateImprovement: f.cacheHitRateImprovement,
      }),
    });
  };
}
