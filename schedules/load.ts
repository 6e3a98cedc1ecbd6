import { fromJson, toJson, type JsonObject } from '@bufbuild/protobuf';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { readFile } from 'node:fs/promises';
import { isMap, isNode, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { MemberQuerySchema } from '../gen/rte/v1/member_query_pb';
import { CronError, parseCron } from '../lib/cron';
import schema from './schema.json';

/** Schedule ids owned by this file; apply deletes orphans only under this prefix. */
export const SCHEDULE_ID_PREFIX = 'member-cron/';

export type OverlapPolicyName = 'SKIP' | 'BUFFER_ONE' | 'BUFFER_ALL' | 'CANCEL_OTHER' | 'TERMINATE_OTHER' | 'ALLOW_ALL';

export interface SchedulePolicy {
  overlap: OverlapPolicyName;
  catchupWindowMs: number;
  jitterMs: number;
  pageSize: number;
  maxConcurrentShards: number;
}

/**
 * Defaults (rationale in docs/member-cron.md): BUFFER_ONE so a slow run delays the next tick instead of
 * dropping it or running two fan-outs at once; a 6 h catch-up window so a Temporal outage around
 * midnight still warms caches before the 6-9 AM rush but a day-old tick is not replayed; 5 min jitter
 * so schedules sharing 00:00 (daily + monthly on the 1st) do not hit the directory at the same instant.
 */
export const DEFAULT_POLICY: SchedulePolicy = {
  overlap: 'BUFFER_ONE',
  catchupWindowMs: 6 * 3_600_000,
  jitterMs: 5 * 60_000,
  pageSize: 500,
  maxConcurrentShards: 4,
};

export interface ScheduleDefinition {
  name: string;
  scheduleId: string;
  description: string;
  cron: string;
  enabled: boolean;
  /** rte.v1.MemberQuery in proto3 JSON form (plain data: safe in workflow inputs and hashes). */
  memberQuery: JsonObject;
  policy: SchedulePolicy;
}

export interface ScheduleFileIssue {
  /** 1-based line of the offending node (0 if unknown). */
  line: number;
  column: number;
  /** Field path, e.g. `schedules[1].cron`. */
  field: string;
  message: string;
}

export class ScheduleFileError extends Error {
  constructor(
    readonly source: string,
    readonly issues: readonly ScheduleFileIssue[],
  ) {
    super(`${source}: invalid schedule file\n${issues.map((i) => `  ${source}:${i.line}:${i.column} ${i.field}: ${i.message}`).join('\n')}`);
    this.name = 'ScheduleFileError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validateFile = ajv.compile(schema);

type Segment = string | number;

function pointerToSegments(pointer: string): Segment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function fieldName(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out === '' ? '(root)' : out;
}

function locate(doc: Document, lc: LineCounter, segments: readonly Segment[], key?: string): { line: number; column: number } {
  let node: unknown = segments.length === 0 ? doc.contents : doc.getIn(segments, true);
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    if (pair && isNode(pair.key)) node = pair.key;
  }
  // Walk up to the nearest ancestor that exists (e.g. a missing required field points at its object).
  for (let n = segments.length; !isNode(node) && n > 0; n--) node = doc.getIn(segments.slice(0, n - 1), true);
  const range = isNode(node) ? (node as Node).range : undefined;
  if (!range) return { line: 0, column: 0 };
  const pos = lc.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

function describeAjvError(e: ErrorObject): { segments: Segment[]; key?: string; message: string } {
  const segments = pointerToSegments(e.instancePath);
  switch (e.keyword) {
    case 'required': {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      return { segments: [...segments, missing], message: 'is required' };
    }
    case 'additionalProperties': {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      return { segments: [...segments, extra], key: extra, message: 'is not a known field' };
    }
    case 'enum':
      return { segments, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` };
    case 'pattern':
      if (segments.at(-1) === 'app_usage_probability') return { segments, message: 'must look like "> 0.5" or ">= 0.5" (a lower bound between 0 and 1)' };
      return { segments, message: `${e.message ?? 'is invalid'}` };
    default:
      return { segments, message: e.message ?? 'is invalid' };
  }
}

interface RawPolicy {
  overlap?: OverlapPolicyName;
  catchup_window?: string;
  jitter?: string;
  page_size?: number;
  max_concurrent_shards?: number;
}
interface RawFilter {
  has_rte_enabled?: boolean;
  app_usage_probability?: string;
  sponsor_ids?: string[];
  population_ids?: string[];
  exclude_mock_accounts?: boolean;
  member_query?: JsonObject;
}
interface RawSchedule {
  name: string;
  description?: string;
  cron: string;
  enabled?: boolean;
  filters?: RawFilter[];
  policy?: RawPolicy;
}
interface RawFile {
  defaults?: RawPolicy;
  schedules: RawSchedule[];
}

export function parseDurationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text);
  if (!m) throw new Error(`invalid duration '${text}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function mergePolicy(base: SchedulePolicy, raw: RawPolicy | undefined): SchedulePolicy {
  if (!raw) return base;
  return {
    overlap: raw.overlap ?? base.overlap,
    catchupWindowMs: raw.catchup_window !== undefined ? parseDurationMs(raw.catchup_window) : base.catchupWindowMs,
    jitterMs: raw.jitter !== undefined ? parseDurationMs(raw.jitter) : base.jitterMs,
    pageSize: raw.page_size ?? base.pageSize,
    maxConcurrentShards: raw.max_concurrent_shards ?? base.maxConcurrentShards,
  };
}

/** Maps the file's filter list onto one MemberQuery; each filter key may appear once per schedule. */
function filtersToMemberQuery(filters: readonly RawFilter[], at: (index: number, key: string, message: string) => ScheduleFileIssue): {
  query: JsonObject;
  issues: ScheduleFileIssue[];
} {
  const issues: ScheduleFileIssue[] = [];
  const seen = new Set<string>();
  let query: JsonObject = {};
  filters.forEach((f, i) => {
    const [key] = Object.keys(f);
    if (!key) return;
    if (seen.has(key)) issues.push(at(i, key, 'appears more than once in this schedule'));
    seen.add(key);
    if (f.has_rte_enabled !== undefined) {
      // MemberQuery.has_rte_enabled=false means "no filter", so `false` cannot be expressed; say so.
      if (!f.has_rte_enabled) issues.push(at(i, key, 'only `true` is supported (omit the filter to include every member)'));
      query = { ...query, hasRteEnabled: true };
    }
    if (f.app_usage_probability !== undefined) {
      const m = /^\s*(>=?)\s*([0-9.]+)\s*$/.exec(f.app_usage_probability);
      const v = Number(m?.[2]);
      // The directory filter is inclusive (>=); "> x" is taken as the same lower bound.
      query = { ...query, minAppUsageProbability: v };
    }
    if (f.sponsor_ids) query = { ...query, sponsorIds: f.sponsor_ids };
    if (f.population_ids) query = { ...query, populationIds: f.population_ids };
    if (f.exclude_mock_accounts !== undefined) query = { ...query, excludeMockAccounts: f.exclude_mock_accounts };
    if (f.member_query) {
      if ('cursor' in f.member_query || 'limit' in f.member_query) {
        issues.push(at(i, key, 'must not set cursor or limit (the workflow pages the query itself)'));
      }
      try {
        // Validates field names and value types against rte.v1.MemberQuery.
        const normalized = toJson(MemberQuerySchema, fromJson(MemberQuerySchema, f.member_query)) as JsonObject;
        query = { ...query, ...normalized };
      } catch (err) {
        issues.push(at(i, key, `is not a valid rte.v1.MemberQuery: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
  });
  return { query, issues };
}

/** Parses and validates a schedule file; throws `ScheduleFileError` listing every problem with its line. */
export function parseScheduleFile(text: string, source = 'member-cron-schedules.yaml'): ScheduleDefinition[] {
  // oneOf/anyOf wrappers add noise; the leaf errors already name the field.
  const { data, issueAt } = parseYamlAgainstSchema(text, source, validateFile, (e) => e.keyword !== 'if');
  const file = data as unknown as RawFile;
  const issues: ScheduleFileIssue[] = [];
  const defaults = mergePolicy(DEFAULT_POLICY, file.defaults);
  const names = new Map<string, number>();
  const out: ScheduleDefinition[] = [];
  file.schedules.forEach((s, i) => {
    const prev = names.get(s.name);
    if (prev !== undefined) issues.push(issueAt(['schedules', i, 'name'], `duplicate schedule name '${s.name}' (also schedules[${prev}])`));
    names.set(s.name, i);
    try {
      parseCron(s.cron);
    } catch (err) {
      issues.push(issueAt(['schedules', i, 'cron'], err instanceof CronError ? err.message : String(err)));
    }
    const { query, issues: filterIssues } = filtersToMemberQuery(s.filters ?? [], (fi, key, message) =>
      issueAt(['schedules', i, 'filters', fi, key], message),
    );
    issues.push(...filterIssues);
    out.push({
      name: s.name,
      scheduleId: `${SCHEDULE_ID_PREFIX}${s.name}`,
      description: s.description ?? '',
      cron: s.cron.trim(),
      enabled: s.enabled ?? true,
      memberQuery: query,
      policy: mergePolicy(defaults, s.policy),
    });
  });
  if (issues.length > 0) throw new ScheduleFileError(source, issues);
  return out;
}

function dedupe(issues: ScheduleFileIssue[]): ScheduleFileIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}:${i.field}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export async function loadScheduleFile(path: string): Promise<ScheduleDefinition[]> {
  return parseScheduleFile(await readFile(path, 'utf8'), path);
}

/** A YAML document validated against a JSON Schema, with a locator that turns a field path into a file issue. */
export interface ValidatedYaml {
  data: unknown;
  issueAt(segments: readonly (string | number)[], message: string, key?: string): ScheduleFileIssue;
}

/**
 * The YAML + JSON Schema half of every schedule file parser (`parseScheduleFile`, schedules/warming-load.ts):
 * throws `ScheduleFileError` with line numbers for YAML syntax errors and schema violations.
 */
export function parseYamlAgainstSchema(
  text: string,
  source: string,
  validate: ValidateFunction,
  /** Which schema errors to report (default all). */
  keep: (e: ErrorObject) => boolean = () => true,
): ValidatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ScheduleFileError(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { line: pos.line, column: pos.col, field: '(yaml)', message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  const data: unknown = doc.toJS();
  const issueAt = (segments: readonly Segment[], message: string, key?: string): ScheduleFileIssue => ({
    ...locate(doc, lineCounter, segments, key),
    field: fieldName(segments),
    message,
  });
  if (!validate(data)) {
    const issues = (validate.errors ?? []).filter(keep).map((e) => {
      const d = describeAjvError(e);
      return issueAt(d.segments, d.message, d.key);
    });
    throw new ScheduleFileError(source, dedupe(issues));
  }
  return { data, issueAt };
}
