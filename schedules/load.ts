import { fromJson, toJson, type JsonObject } from '@bufbuild/protobuf';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { readFile } from 'node:fs/promises';
import { isMap, isNode, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { SchedulingWindow } from '../gen/rte/v1/common_pb';
import { MemberQuerySchema, type MemberQuery } from '../gen/rte/v1/member_query_pb';
import { compileMemberQuery } from '../directory/query/compile';
import { CronError, parseCron, shortestCronGapMs } from '../lib/cron';
import { FieldError } from '../lib/errors';
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

/** The Temporal server treats a catch-up window below 10 s as 10 s (its minimum), so a shorter one is refused. */
export const MIN_CATCHUP_WINDOW_MS = 10_000;

/** A duration in the file's own notation: the largest unit that divides the value exactly (90000 → "90s"). */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function catchupIssue(raw: RawPolicy | undefined): string | undefined {
  if (raw?.catchup_window === undefined || parseDurationMs(raw.catchup_window) >= MIN_CATCHUP_WINDOW_MS) return undefined;
  return (
    `must be at least 10s: Temporal runs a missed tick only within this window and treats a shorter one (including "0") as 10s, ` +
    `so it cannot be disabled; write "10s" to skip nearly every missed tick`
  );
}

/** proto field name (snake_case) or JSON name → the MemberQuery field's JSON name. */
const MEMBER_QUERY_FIELDS = new Map(MemberQuerySchema.fields.flatMap((f) => [[f.name, f], [f.jsonName, f]] as const));

/** The MemberQuery field each shortcut filter key sets. */
const SHORTCUT_FIELD: Record<Exclude<keyof RawFilter, 'member_query'>, string> = {
  has_rte_enabled: 'hasRteEnabled',
  app_usage_probability: 'minAppUsageProbability',
  sponsor_ids: 'sponsorIds',
  population_ids: 'populationIds',
  exclude_mock_accounts: 'excludeMockAccounts',
};

/** Which filter (index and key) set a MemberQuery field (by JSON name). */
type FieldOrigins = Map<string, { index: number; key: string }>;

/**
 * Maps the file's filter list onto one MemberQuery. Each MemberQuery field is set by one filter only: a second
 * filter setting it (the same key twice, or `member_query` repeating what a shortcut set) is refused naming both,
 * since merging would let the later one silently replace the earlier.
 */
function filtersToMemberQuery(filters: readonly RawFilter[], at: (index: number, key: string, message: string) => ScheduleFileIssue): {
  query: JsonObject;
  origins: FieldOrigins;
  decoded: boolean;
  issues: ScheduleFileIssue[];
} {
  const issues: ScheduleFileIssue[] = [];
  const seen = new Set<string>();
  const origins: FieldOrigins = new Map();
  let decoded = true;
  let query: JsonObject = {};
  const claim = (i: number, key: string, jsonName: string, written = jsonName): boolean => {
    const prev = origins.get(jsonName);
    if (prev) {
      const field = MEMBER_QUERY_FIELDS.get(jsonName)?.name ?? jsonName;
      const what = key === 'member_query' ? `member_query.${written}` : key;
      issues.push(at(i, key, `${what} sets member_query.${field}, which filters[${prev.index}].${prev.key} already sets; set each MemberQuery field in one filter only`));
      return false;
    }
    origins.set(jsonName, { index: i, key });
    return true;
  };
  filters.forEach((f, i) => {
    const [key] = Object.keys(f);
    if (!key) return;
    if (seen.has(key)) issues.push(at(i, key, 'appears more than once in this schedule'));
    const duplicateKey = seen.has(key);
    seen.add(key);
    if (key !== 'member_query' && !duplicateKey) claim(i, key, SHORTCUT_FIELD[key as keyof typeof SHORTCUT_FIELD]);
    if (f.has_rte_enabled !== undefined) {
      // MemberQuery.has_rte_enabled=false means "no filter", so `false` cannot be expressed; say so.
      if (!f.has_rte_enabled) issues.push(at(i, key, 'only `true` is supported (omit the filter to include every member)'));
      query = { ...query, hasRteEnabled: true };
    }
    if (f.app_usage_probability !== undefined) {
      const m = /^\s*(>=?)\s*([0-9.]+)\s*$/.exec(f.app_usage_probability);
      const v = Number(m?.[2]);
      // MemberQuery.min_app_usage_probability=0 means "no filter" (members never predicted are included too), so a
      // zero bound cannot say "predicted above 0"; refused rather than silently selecting everyone.
      if (v === 0) {
        issues.push(
          at(i, key, `"${f.app_usage_probability.trim()}" would mean no probability filter at all (0 is "no filter" in rte.v1.MemberQuery, members never predicted included); omit the filter to include every member, or write a positive bound such as "> 0.01"`),
        );
      }
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
        for (const written of Object.keys(f.member_query)) {
          const field = MEMBER_QUERY_FIELDS.get(written);
          if (field && !duplicateKey) claim(i, key, field.jsonName, written);
        }
        query = { ...query, ...normalized };
      } catch (err) {
        decoded = false;
        issues.push(at(i, key, `is not a valid rte.v1.MemberQuery: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
  });
  return { query, origins, decoded, issues };
}

/**
 * What the directory's compiler refuses (a bound out of range, an after-date later than the before-date, ...) is
 * refused here, as SubmitBatch and ScheduleWarming refuse it, instead of failing every run at its tick. Feature
 * flags are resolved per run (a sponsor may change its flags between runs), so here every flag resolves to no
 * sponsor: the flag key's form is checked, whether the directory knows it is `apply`'s check (checkScheduleIds).
 */
function compileCheck(query: MemberQuery, now: Date): void {
  // Member cron runs at its cron time; a window in the query would be stored and never applied.
  if (query.schedulingWindow !== SchedulingWindow.ANY) {
    throw new FieldError('member_query.scheduling_window', 'is not supported by member-cron schedules: a schedule runs at its cron time; leave it unset');
  }
  const flagSponsors = new Map(Object.keys(query.requiredFeatureFlags).map((k) => [k, [] as string[]]));
  compileMemberQuery(query, { now, flagSponsors, contractPredicates: new Map() });
}

interface ParsedFile {
  definitions: ScheduleDefinition[];
  issues: ScheduleFileIssue[];
  /** A directory FieldError (`member_query.<field>...`) of schedule `index`, placed on the filter that set the field. */
  queryIssue(index: number, err: FieldError): ScheduleFileIssue;
}

function analyseScheduleFile(text: string, source: string, now: Date): ParsedFile {
  // oneOf/anyOf wrappers add noise; the leaf errors already name the field.
  const { data, issueAt } = parseYamlAgainstSchema(text, source, validateFile, (e) => e.keyword !== 'if');
  const file = data as unknown as RawFile;
  const issues: ScheduleFileIssue[] = [];
  const defaultsCatchup = catchupIssue(file.defaults);
  if (defaultsCatchup) issues.push(issueAt(['defaults', 'catchup_window'], defaultsCatchup));
  const defaults = mergePolicy(DEFAULT_POLICY, file.defaults);
  const names = new Map<string, number>();
  const out: ScheduleDefinition[] = [];
  const originsOf: FieldOrigins[] = [];
  const queryIssue = (i: number, err: FieldError): ScheduleFileIssue => {
    const message = err.message.startsWith(`${err.fieldPath}: `) ? err.message.slice(err.fieldPath.length + 2) : err.message;
    const m = /^member_query\.([a-z0-9_]+)(.*)$/.exec(err.fieldPath);
    const field = m ? MEMBER_QUERY_FIELDS.get(m[1]!) : undefined;
    const origin = field ? originsOf[i]?.get(field.jsonName) : undefined;
    if (!m || !field || !origin) return { ...issueAt(['schedules', i, 'filters'], `${err.fieldPath}: ${message}`), field: `schedules[${i}].filters` };
    const filterPath = `schedules[${i}].filters[${origin.index}]`;
    if (origin.key !== 'member_query') {
      return { ...issueAt(['schedules', i, 'filters', origin.index, origin.key], message), field: `${filterPath}.${origin.key}${m[2]}` };
    }
    const raw = file.schedules[i]?.filters?.[origin.index]?.member_query ?? {};
    const written = Object.keys(raw).find((k) => k === field.name || k === field.jsonName) ?? field.jsonName;
    return { ...issueAt(['schedules', i, 'filters', origin.index, 'member_query', written], message), field: `${filterPath}.member_query.${field.name}${m[2]}` };
  };
  file.schedules.forEach((s, i) => {
    const prev = names.get(s.name);
    if (prev !== undefined) issues.push(issueAt(['schedules', i, 'name'], `duplicate schedule name '${s.name}' (also schedules[${prev}])`));
    names.set(s.name, i);
    let gapMs: number | undefined;
    try {
      gapMs = shortestCronGapMs(parseCron(s.cron));
    } catch (err) {
      issues.push(issueAt(['schedules', i, 'cron'], err instanceof CronError ? err.message : String(err)));
    }
    const { query, origins, decoded, issues: filterIssues } = filtersToMemberQuery(s.filters ?? [], (fi, key, message) =>
      issueAt(['schedules', i, 'filters', fi, key], message),
    );
    originsOf[i] = origins;
    issues.push(...filterIssues);
    if (decoded) {
      try {
        compileCheck(fromJson(MemberQuerySchema, query), now);
      } catch (err) {
        if (!(err instanceof FieldError)) throw err;
        issues.push(queryIssue(i, err));
      }
    }
    const catchup = catchupIssue(s.policy);
    if (catchup) issues.push(issueAt(['schedules', i, 'policy', 'catchup_window'], catchup));
    const policy = mergePolicy(defaults, s.policy);
    // Temporal limits each run's jitter to the time until the next run: a longer jitter is not what would run.
    if (gapMs !== undefined && policy.jitterMs > gapMs) {
      const from = s.policy?.jitter !== undefined ? 'policy.jitter' : file.defaults?.jitter !== undefined ? 'defaults.jitter' : 'the default jitter';
      issues.push(
        issueAt(
          s.policy?.jitter !== undefined ? ['schedules', i, 'policy', 'jitter'] : ['schedules', i, 'policy'],
          `${from} ${formatDurationMs(policy.jitterMs)} is longer than the shortest gap between two runs of "${s.cron.trim()}" (${formatDurationMs(gapMs)}); ` +
            `Temporal limits each run's jitter to the time until the next run, so set policy.jitter to at most ${formatDurationMs(gapMs)}`,
        ),
      );
    }
    out.push({
      name: s.name,
      scheduleId: `${SCHEDULE_ID_PREFIX}${s.name}`,
      description: s.description ?? '',
      cron: s.cron.trim(),
      enabled: s.enabled ?? true,
      memberQuery: query,
      policy,
    });
  });
  return { definitions: out, issues, queryIssue };
}

/** Parses and validates a schedule file; throws `ScheduleFileError` listing every problem with its line. */
export function parseScheduleFile(text: string, source = 'member-cron-schedules.yaml', now = new Date()): ScheduleDefinition[] {
  const { definitions, issues } = analyseScheduleFile(text, source, now);
  if (issues.length > 0) throw new ScheduleFileError(source, issues);
  return definitions;
}

/**
 * The directory's own check of a query (PgMemberDirectory.checkQuery, what SubmitBatch and ScheduleWarming run):
 * an unknown sponsor, population, plan, contract or service id, a state that is not a US state code, or an unknown
 * feature-flag key is a FieldError naming the field and its index.
 */
export type MemberQueryCheck = (query: MemberQuery) => Promise<void>;

/**
 * `parseScheduleFile` plus the directory's id checks for every schedule's query: a typo'd id would otherwise make
 * the schedule complete every day with 0 events. Throws `ScheduleFileError` (file:line:column, the filter's field
 * and index) before anything is applied; other errors (the directory unreachable) propagate.
 */
export async function checkScheduleFile(text: string, source: string, check: MemberQueryCheck, now = new Date()): Promise<ScheduleDefinition[]> {
  const { definitions, issues, queryIssue } = analyseScheduleFile(text, source, now);
  return checkDefinitionQueries(source, definitions, issues, queryIssue, check);
}

/**
 * The apply-time half of both schedule files (member-cron and warming): refuse a file with parse issues, then run the
 * directory's id check on each definition's query, mapping a FieldError to the file's line and field by `issueFor`.
 */
export async function checkDefinitionQueries<D extends { memberQuery: JsonObject }>(
  source: string,
  definitions: D[],
  issues: ScheduleFileIssue[],
  issueFor: (index: number, err: FieldError) => ScheduleFileIssue,
  check: MemberQueryCheck,
): Promise<D[]> {
  if (issues.length > 0) throw new ScheduleFileError(source, issues);
  for (const [i, def] of definitions.entries()) {
    try {
      await check(fromJson(MemberQuerySchema, def.memberQuery));
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      issues.push(issueFor(i, err));
    }
  }
  if (issues.length > 0) throw new ScheduleFileError(source, issues);
  return definitions;
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

/** Loads a schedule file; with `check` (apply, where the directory is at hand) its ids are checked too. */
export async function loadScheduleFile(path: string, check?: MemberQueryCheck): Promise<ScheduleDefinition[]> {
  const text = await readFile(path, 'utf8');
  return check ? checkScheduleFile(text, path, check) : parseScheduleFile(text, path);
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
