import { create, fromJson, type JsonObject } from '@bufbuild/protobuf';
import Ajv from 'ajv';
import { readFile } from 'node:fs/promises';
import { MemberQuerySchema } from '../gen/rte/v1/member_query_pb';
import { ScheduleWarmingRequestSchema, WarmCacheRequest_PrioritySchema, WarmingStrategySchema } from '../gen/rte/v1/warming_pb';
import { FieldError } from '../lib/errors';
import { checkDefinitionQueries, parseYamlAgainstSchema, ScheduleFileError, type MemberQueryCheck, type ScheduleFileIssue } from './load';
import { validateScheduleWarming, type WarmingScheduleDefinition } from './warming-request';
import schema from './warming-schema.json';

interface RawWarmingSchedule {
  schedule_name: string;
  description?: string;
  cron: string;
  member_query: JsonObject;
  strategy?: string;
  priority?: string;
  enabled: boolean;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validateFile = ajv.compile(schema);

/** Request field → the key the file spells it with. */
const FILE_KEY: Record<string, string> = { schedule_name: 'schedule_name', cron_expression: 'cron', member_query: 'member_query', strategy: 'strategy', priority: 'priority' };

function enumNumber(schema: typeof WarmingStrategySchema | typeof WarmCacheRequest_PrioritySchema, name: string | undefined): number {
  if (name === undefined) return 0;
  return schema.values.find((v) => v.name === name)?.number ?? 0;
}

/** A FieldError of schedule `i` (`member_query.sponsor_ids[0]`, `cron_expression`, ...) as a file issue. */
type FieldIssue = (i: number, err: FieldError) => ScheduleFileIssue;

function analyseWarmingScheduleFile(text: string, source: string, now: Date): { definitions: WarmingScheduleDefinition[]; issues: ScheduleFileIssue[]; fieldIssue: FieldIssue } {
  const { data, issueAt } = parseYamlAgainstSchema(text, source, validateFile);
  const entries = (data as { schedules: RawWarmingSchedule[] }).schedules;
  const issues: ScheduleFileIssue[] = [];
  const names = new Map<string, number>();
  const out: WarmingScheduleDefinition[] = [];
  const fieldIssue: FieldIssue = (i, err) => {
    const [head = '', ...rest] = err.fieldPath.split('.');
    const message = err.message.slice(err.fieldPath.length + 2);
    return issueAt(['schedules', i, FILE_KEY[head] ?? head, ...rest], message);
  };
  entries.forEach((s, i) => {
    const prev = names.get(s.schedule_name);
    if (prev !== undefined) issues.push(issueAt(['schedules', i, 'schedule_name'], `duplicate schedule name '${s.schedule_name}' (also schedules[${prev}])`));
    names.set(s.schedule_name, i);
    let memberQuery;
    try {
      memberQuery = fromJson(MemberQuerySchema, s.member_query);
    } catch (err) {
      issues.push(issueAt(['schedules', i, 'member_query'], `is not a valid rte.v1.MemberQuery: ${err instanceof Error ? err.message : String(err)}`));
      return;
    }
    const req = create(ScheduleWarmingRequestSchema, {
      scheduleName: s.schedule_name,
      cronExpression: s.cron,
      memberQuery,
      strategy: enumNumber(WarmingStrategySchema, s.strategy),
      priority: enumNumber(WarmCacheRequest_PrioritySchema, s.priority),
      enabled: s.enabled,
    });
    try {
      out.push(validateScheduleWarming(req, now, s.description ?? ''));
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      issues.push(fieldIssue(i, err));
    }
  });
  return { definitions: out, issues, fieldIssue };
}

/**
 * Parses and validates the warming schedules file; every entry goes through `validateScheduleWarming` (the RPC's
 * validation, directory compiler included). Throws `ScheduleFileError` listing every problem with its line.
 */
export function parseWarmingScheduleFile(text: string, source = 'warming-schedules.yaml', now = new Date()): WarmingScheduleDefinition[] {
  const { definitions, issues } = analyseWarmingScheduleFile(text, source, now);
  if (issues.length > 0) throw new ScheduleFileError(source, issues);
  return definitions;
}

/**
 * `parseWarmingScheduleFile` plus the directory's id checks (what the ScheduleWarming RPC runs): an unknown id, state
 * code or feature-flag key is refused naming the entry's field and index, before anything is applied.
 */
export async function checkWarmingScheduleFile(text: string, source: string, check: MemberQueryCheck, now = new Date()): Promise<WarmingScheduleDefinition[]> {
  const { definitions, issues, fieldIssue } = analyseWarmingScheduleFile(text, source, now);
  return checkDefinitionQueries(source, definitions, issues, fieldIssue, check);
}

/** Loads the warming schedules file; with `check` (apply, where the directory is at hand) its ids are checked too. */
export async function loadWarmingScheduleFile(path: string, check?: MemberQueryCheck): Promise<WarmingScheduleDefinition[]> {
  const text = await readFile(path, 'utf8');
  return check ? checkWarmingScheduleFile(text, path, check) : parseWarmingScheduleFile(text, path);
}
