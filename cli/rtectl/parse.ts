/**
 * rtectl's input parsing: enum flags, member files, query files, durations. Every refusal names the flag and,
 * for enums, lists the valid values; nothing here touches the network.
 */
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { BatchExecutionOptions_Priority, BatchExecutionOptions_Strategy, BatchStatus } from '../../gen/rte/v1/batch_pb';
import { CacheControl, SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { MemberQuerySchema, type MemberQuery } from '../../gen/rte/v1/member_query_pb';
import { WarmCacheRequest_Priority, WarmingStrategy } from '../../gen/rte/v1/warming_pb';
import { parseBatchId as parseWorkflowBatchId } from '../../workflows/batch.defs';

/** Bad input, refused before any call: the flag (or argument) and why. Exit code 2. */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

type EnumTable<T> = Readonly<Record<string, T>>;

/** CLI spellings (kebab-case) of each enum; the proto names (e.g. CACHE_CONTROL_CACHE_ONLY) are accepted too. */
export const MODES: EnumTable<CacheControl> = {
  default: CacheControl.DEFAULT,
  'cache-only': CacheControl.CACHE_ONLY,
  'prefer-cached': CacheControl.PREFER_CACHED,
  'bypass-cache': CacheControl.BYPASS_CACHE,
  'stale-while-revalidate': CacheControl.STALE_WHILE_REVALIDATE,
};
export const BATCH_PRIORITIES: EnumTable<BatchExecutionOptions_Priority> = {
  low: BatchExecutionOptions_Priority.LOW,
  normal: BatchExecutionOptions_Priority.NORMAL,
  high: BatchExecutionOptions_Priority.HIGH,
};
export const STRATEGIES: EnumTable<BatchExecutionOptions_Strategy> = {
  optimal: BatchExecutionOptions_Strategy.OPTIMAL,
  'batch-only': BatchExecutionOptions_Strategy.BATCH_ONLY,
  'realtime-only': BatchExecutionOptions_Strategy.REALTIME_ONLY,
};
export const WINDOWS: EnumTable<SchedulingWindow> = {
  any: SchedulingWindow.ANY,
  'business-hours': SchedulingWindow.BUSINESS_HOURS,
  morning: SchedulingWindow.MORNING,
  evening: SchedulingWindow.EVENING,
  'low-utilization': SchedulingWindow.LOW_UTILIZATION,
  'optimal-member-engagement': SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
};
export const WARM_PRIORITIES: EnumTable<WarmCacheRequest_Priority> = {
  background: WarmCacheRequest_Priority.BACKGROUND,
  preload: WarmCacheRequest_Priority.PRELOAD,
  urgent: WarmCacheRequest_Priority.URGENT,
};
export const WARM_STRATEGIES: EnumTable<WarmingStrategy> = {
  intelligent: WarmingStrategy.INTELLIGENT,
  force: WarmingStrategy.FORCE,
  'fill-only': WarmingStrategy.FILL_ONLY,
};
export const STATUSES: EnumTable<BatchStatus> = {
  pending: BatchStatus.PENDING,
  running: BatchStatus.RUNNING,
  completed: BatchStatus.COMPLETED,
  failed: BatchStatus.FAILED,
  cancelled: BatchStatus.CANCELLED,
  'partially-completed': BatchStatus.PARTIALLY_COMPLETED,
  waiting: BatchStatus.WAITING,
  paused: BatchStatus.PAUSED,
};

/** `cache-only`, `CACHE_ONLY`, `cache_only` and `CACHE_CONTROL_CACHE_ONLY` all name the same value. */
export function parseEnum<T>(field: string, table: EnumTable<T>, raw: string, protoPrefix = ''): T {
  const norm = raw.trim().toLowerCase().replace(/_/g, '-');
  const prefix = protoPrefix.toLowerCase().replace(/_/g, '-');
  const key = prefix && norm.startsWith(prefix) ? norm.slice(prefix.length) : norm;
  const v = table[key];
  if (v === undefined) throw new InputError(field, `unknown value '${raw}'; valid: ${Object.keys(table).join(', ')}`);
  return v;
}

export const parseMode = (raw: string) => parseEnum('--mode', MODES, raw, 'cache-control-');

/** Member ids from a file: one per line (or comma-separated); blank lines and `#` comments ignored. */
export function parseMemberList(text: string, field = '--members'): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, ''))
    .flatMap((l) => l.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new InputError(field, 'no member ids (one per line expected)');
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new InputError(field, `member id '${id}' is listed twice`);
    seen.add(id);
  }
  return ids;
}

async function readText(field: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(field, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export async function readMemberFile(file: string, field = '--members'): Promise<string[]> {
  return parseMemberList(await readText(field, file), field);
}

/** A MemberQuery in its proto JSON form, written as YAML (or JSON), e.g. `sponsorIds: [sp_1]` / `limit: 50`. */
export function parseMemberQuery(text: string, field = '--query'): MemberQuery {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InputError(field, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(field, 'expected a MemberQuery mapping (proto JSON field names, e.g. sponsorIds, limit)');
  try {
    return fromJson(MemberQuerySchema, doc as JsonValue);
  } catch (err) {
    throw new InputError(field, (err as Error).message.replace(/^cannot decode message rte\.v1\.MemberQuery from JSON: ?/, ''));
  }
}

export async function readMemberQueryFile(file: string, field = '--query'): Promise<MemberQuery> {
  return parseMemberQuery(await readText(field, file), field);
}

/** A point in time: an ISO timestamp, or an age before now such as `30m`, `24h`, `7d`. */
export function parseTimeArg(field: string, raw: string, nowMs = Date.now()): Date {
  const m = /^(\d+)\s*([smhd])$/.exec(raw.trim());
  if (m) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(nowMs - Number(m[1]) * unit);
  }
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new InputError(field, `'${raw}' is neither an ISO time nor an age like 24h / 7d`);
  return new Date(t);
}

export function parsePositiveInt(field: string, raw: string, max = 1_000_000): number {
  if (!/^\d+$/.test(raw.trim())) throw new InputError(field, `'${raw}' is not a whole number`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new InputError(field, `must be between 1 and ${max}`);
  return n;
}

/** A batch id as the API hands it out: `batch/<client service>/<client job id>`. */
export function parseBatchId(raw: string, field = 'batch-id'): string {
  if (!parseWorkflowBatchId(raw)) throw new InputError(field, `'${raw}' is not a batch id (batch/<client service>/<client job id>)`);
  return raw;
}
