/**
 * MemberQuery → one parameterised SQL statement with keyset pagination. Pure: evaluation time, resolved
 * feature flags and benefit-contract predicates come in through the context. Semantics are documented in
 * docs/member-query-semantics.md and mirrored by reference-evaluator.ts.
 */
import type { DescEnum } from '@bufbuild/protobuf';
import { durationMs, timestampMs, type Duration, type Timestamp } from '@bufbuild/protobuf/wkt';
import { FieldError } from '../../lib/errors';
import {
  AccountStatusSchema,
  SchedulingWindowSchema,
  SortOrder_Direction,
  SortOrder_DirectionSchema,
  SortOrder_Field,
  SortOrder_FieldSchema,
} from '../../gen/rte/v1/common_pb';
import {
  CareJourneyFilter_ProgramTypeSchema,
  CoverageFilter_CoverageStatusSchema,
  CoverageFilter_CoverageTypeSchema,
  DemographicsFilter_AgeGroupSchema,
  EngagementFilter_EngagementCohortSchema,
  FamilyRelationshipFilter_MemberRoleSchema,
  FamilyRelationshipFilter_RelationshipSchema,
  FeatureOptionFilter_FeatureOptionType,
  FeatureOptionFilter_FeatureOptionTypeSchema,
  FeatureOptionFilter_Operator,
  FeatureOptionFilter_OperatorSchema,
  InsurancePlanFilter_MetalTierSchema,
  InsurancePlanFilter_NetworkTypeSchema,
  InsurancePlanFilter_PlanTypeSchema,
  RecentEventFilter_EventCategorySchema,
  type MemberQuery,
  type RecentEventFilter,
} from '../../gen/rte/v1/member_query_pb';
import { EVENT_TYPES } from '../catalog';
import type { PredicateExpr } from '../predicate/ast';
import { compilePredicate, PLAN_JOIN_ALIAS } from '../predicate/compile';
import { parsePredicate, PredicateError } from '../predicate/parser';
import { decodeCursor, encodeCursor, queryHash, type CursorState } from './cursor';
import { SqlParams } from './params';
import {
  AGE_GROUPS,
  APP_SESSION_TYPE_ID,
  DAY_MS,
  DEFAULT_LIMIT,
  DEFAULT_TREND_WINDOW_MS,
  EVENT_FLAG_NAMES,
  EVENT_FLAG_TYPES,
  FEATURE_USED_TYPE_ID,
  HOUR_MS,
  MAX_LIMIT,
  MAX_LIST_LENGTH,
  RECENT_CLAIMS_LOOKBACK_MS,
  RECENT_LIFE_EVENT_MS,
  REGULAR_PATTERN_MIN_DAYS,
  REGULAR_PATTERN_WEEKS,
  SESSION_ACTIVE_MS,
  latestBirthDateForAge,
  utcDateString,
  ymd,
} from './semantics';

const ROOT = 'member_query';

export interface CompileContext {
  /** Evaluation time for relative filters (ignored when the cursor pins one). */
  now: Date;
  /** required_feature_flags resolved per sponsor: flag key → sponsor ids whose variation equals the required value. */
  flagSponsors?: ReadonlyMap<string, readonly string[]>;
  /** benefit_predicates: predicate id → expression (needed when predicate_filter scopes to contracts). */
  contractPredicates?: ReadonlyMap<string, string>;
  /**
   * How predicate_filter expressions read primary-plan attributes: 'join' (default) through one LEFT JOIN on the
   * plan; 'subquery' as the former scalar subquery per member, kept only so bench/directory-query.ts can show
   * both plans side by side. Both select the same members.
   */
  planAttributes?: 'join' | 'subquery';
}

export type SortKeyKind = 'none' | 'timestamp' | 'date' | 'number' | 'text';

export interface CompiledMemberQuery {
  /** Page query; selects MemberSummary columns plus `sort_key`; fetches limit + 1 rows. */
  sql: string;
  params: unknown[];
  /** Count of all matching members (ignores cursor and limit). */
  countSql: string;
  countParams: unknown[];
  limit: number;
  queryHash: string;
  evaluatedAt: Date;
  sortKeyKind: SortKeyKind;
  /** Builds the cursor for the page that ends at this row. */
  cursorAfter(row: { member_id: string; sort_key: unknown }): string;
}

// ---------------------------------------------------------------------------------------------------
// Validation helpers

function enumNames(schema: DescEnum, values: readonly number[], path: string): string[] {
  if (values.length > MAX_LIST_LENGTH) throw new FieldError(path, `more than ${MAX_LIST_LENGTH} values`);
  return values.map((v, i) => {
    const value = schema.values.find((x) => x.number === v);
    if (!value) throw new FieldError(`${path}[${i}]`, `unknown enum value ${v}`);
    if (v === 0) throw new FieldError(`${path}[${i}]`, `${value.name} is not a valid filter value`);
    return value.name;
  });
}

function enumName(schema: DescEnum, value: number, path: string): string {
  const v = schema.values.find((x) => x.number === value);
  if (!v) throw new FieldError(path, `unknown enum value ${value}`);
  return v.name;
}

function strings(values: readonly string[], path: string): string[] {
  if (values.length > MAX_LIST_LENGTH) throw new FieldError(path, `more than ${MAX_LIST_LENGTH} values`);
  values.forEach((v, i) => {
    if (v.length === 0) throw new FieldError(`${path}[${i}]`, 'must not be empty');
    if (v.length > 512) throw new FieldError(`${path}[${i}]`, 'longer than 512 characters');
  });
  return [...values];
}

function ts(t: Timestamp | undefined, path: string): number | undefined {
  if (!t) return undefined;
  if (t.nanos < 0 || t.nanos > 999_999_999) throw new FieldError(path, 'invalid timestamp');
  const ms = timestampMs(t);
  if (!Number.isFinite(ms) || ms < Date.UTC(1800, 0, 1) || ms > Date.UTC(3000, 0, 1)) throw new FieldError(path, 'timestamp out of range');
  return ms;
}

function dur(d: Duration | undefined, path: string): number | undefined {
  if (!d) return undefined;
  const ms = durationMs(d);
  if (!(ms > 0)) throw new FieldError(path, 'must be a positive duration');
  if (ms > 3650 * DAY_MS) throw new FieldError(path, 'longer than 3650 days');
  return ms;
}

/** proto floats arrive as the float32 value (0.4 → 0.4000000059604645); compare against the decimal the caller wrote. */
export function normalizeFloat(x: number): number {
  return Number.isInteger(x) ? x : Number(x.toPrecision(7));
}

function num(x: number | undefined, path: string, min: number, max: number): number | undefined {
  if (x === undefined) return undefined;
  if (!Number.isFinite(x)) throw new FieldError(path, 'must be a finite number');
  const v = normalizeFloat(x);
  if (v < min || v > max) throw new FieldError(path, `must be between ${min} and ${max}`);
  return v;
}

function int(x: number | undefined, path: string, min: number, max: number): number | undefined {
  if (x === undefined) return undefined;
  if (!Number.isInteger(x) || x < min || x > max) throw new FieldError(path, `must be an integer between ${min} and ${max}`);
  return x;
}

function range(lo: number | undefined, hi: number | undefined, loPath: string, hiName: string): void {
  if (lo !== undefined && hi !== undefined && lo > hi) throw new FieldError(loPath, `must not be greater than ${hiName}`);
}

function timeRange(after: number | undefined, before: number | undefined, afterPath: string, beforeName: string): void {
  if (after !== undefined && before !== undefined && after >= before) throw new FieldError(afterPath, `must be earlier than ${beforeName}`);
}

/** midnight-UTC(date) > t  ⟺  date > utcDate(t). */
function dateAfterBound(t: number): string {
  return utcDateString(t);
}

/** midnight-UTC(date) < t  ⟺  date < utcDate(t) when t is midnight, else date <= utcDate(t). Returned as [op, date]. */
function dateBeforeBound(t: number): ['<' | '<=', string] {
  return t % DAY_MS === 0 ? ['<', utcDateString(t)] : ['<=', utcDateString(t)];
}

// ---------------------------------------------------------------------------------------------------

class Builder {
  readonly params = new SqlParams();
  readonly where: string[] = [];
  readonly joins = new Set<'me' | 'mc' | 'mh' | 'plan'>();
  lateral: string | null = null;

  constructor(readonly now: number) {}

  p(value: unknown, cast: Parameters<SqlParams['add']>[1]): string {
    return this.params.add(value, cast);
  }

  /**
   * Adds `sql` when value is true, `NOT sql` when false. `sql` must never evaluate to NULL. Pass a
   * function when building the fragment allocates parameters (an unused parameter breaks the statement).
   */
  flag(value: boolean | undefined, sql: string | (() => string)): void {
    if (value === undefined) return;
    const text = typeof sql === 'function' ? sql() : sql;
    this.where.push(value ? text : `NOT ${text}`);
  }

  /**
   * A flag over a nullable column: `col > bound` selects when true, `NOT (col IS NOT NULL AND col > bound)`
   * when false. The true form leaves out the `IS NOT NULL` guard (a NULL comparison already drops the row
   * from a WHERE conjunct): with it the planner counts the null fraction twice and underestimates the
   * rows several-fold, which picks bad join orders.
   */
  flagAfter(value: boolean | undefined, column: string, bound: () => string): void {
    if (value === undefined) return;
    const b = bound();
    this.where.push(value ? `${column} > ${b}` : `NOT (${column} IS NOT NULL AND ${column} > ${b})`);
  }

  ts(ms: number): string {
    return this.p(new Date(ms).toISOString(), 'timestamptz');
  }
}

const ACCESSIBLE_CONTRACT = `bc.sponsor_id = m.sponsor_id
      AND (bc.population_id IS NULL OR bc.population_id = ANY(m.population_ids))
      AND (bc.insurance_plan_id IS NULL OR EXISTS (
        SELECT 1 FROM coverages cbc WHERE cbc.member_key = m.member_key AND cbc.plan_id = bc.insurance_plan_id AND cbc.status = 'ACTIVE'))`;

export function compileMemberQuery(query: MemberQuery, ctx: CompileContext): CompiledMemberQuery {
  // Limit and cursor first: the cursor pins the evaluation time.
  if (query.limit < 0) throw new FieldError(`${ROOT}.limit`, 'must not be negative');
  if (query.limit > MAX_LIMIT) throw new FieldError(`${ROOT}.limit`, `must not exceed ${MAX_LIMIT}`);
  const limit = query.limit === 0 ? DEFAULT_LIMIT : query.limit;
  const hash = queryHash(query);
  let cursor: CursorState | null = null;
  if (query.cursor !== '') cursor = decodeCursor(query.cursor, hash);
  const now = cursor ? Date.parse(cursor.t) : ctx.now.getTime();
  const b = new Builder(now);

  compileTopLevel(query, b, ctx);
  compileBenefitContracts(query, b);
  compileFeatureOptions(query, b);
  compilePredicateFilter(query, b, ctx);
  compileCoverage(query, b);
  compilePlan(query, b);
  compileFamily(query, b);
  compileDemographics(query, b);
  compileEngagement(query, b);
  compileCareJourney(query, b);
  compileRecentEvents(query, b);
  compileProposed(query, b);
  if (query.schedulingWindow !== 0) enumName(SchedulingWindowSchema, query.schedulingWindow, `${ROOT}.scheduling_window`);

  // Sort order.
  const sortField = query.sortOrder?.field ?? SortOrder_Field.FIELD_UNSPECIFIED;
  const direction = query.sortOrder?.direction ?? SortOrder_Direction.DIRECTION_UNSPECIFIED;
  enumName(SortOrder_FieldSchema, sortField, `${ROOT}.sort_order.field`);
  enumName(SortOrder_DirectionSchema, direction, `${ROOT}.sort_order.direction`);
  const desc = direction === SortOrder_Direction.DESCENDING;
  const sort = SORT_KEYS[sortField as SortOrder_Field];

  const from = [
    'members m',
    // The predictor's latest probability (issue 9); unused → PostgreSQL removes the join (unique key).
    'LEFT JOIN member_predictions mp ON mp.member_id = m.member_id',
    ...(b.joins.has('me') ? ['JOIN member_engagement me ON me.member_key = m.member_key'] : []),
    ...(b.joins.has('mc') ? ['JOIN member_care mc ON mc.member_key = m.member_key'] : []),
    ...(b.joins.has('mh') ? ['JOIN member_health mh ON mh.member_key = m.member_key'] : []),
    // Primary-plan attributes of a predicate_filter expression (see PLAN_JOIN_ALIAS). LEFT keeps the scalar
    // subquery's NULL for a member without a plan row; a strict top-level condition lets PostgreSQL make it inner.
    ...(b.joins.has('plan') ? [`LEFT JOIN insurance_plans ${PLAN_JOIN_ALIAS} ON ${PLAN_JOIN_ALIAS}.plan_id = m.primary_plan_id`] : []),
    ...(b.lateral ? [b.lateral] : []),
  ].join('\n  ');
  const whereSql = b.where.length > 0 ? `WHERE ${b.where.join('\n  AND ')}` : '';
  const countSql = `SELECT count(*)::int AS count\nFROM ${from}\n${whereSql}`;
  const countParams = [...b.params.values];

  const pageWhere = [...b.where];
  if (cursor) {
    if ((sort.kind === 'none') !== (cursor.k === null)) throw new FieldError(`${ROOT}.cursor`, 'malformed cursor');
    if (sort.kind === 'number' && typeof cursor.k !== 'number') throw new FieldError(`${ROOT}.cursor`, 'malformed cursor');
    if ((sort.kind === 'timestamp' || sort.kind === 'date' || sort.kind === 'text') && typeof cursor.k !== 'string') {
      throw new FieldError(`${ROOT}.cursor`, 'malformed cursor');
    }
    if ((sort.kind === 'timestamp' && Number.isNaN(Date.parse(String(cursor.k)))) || (sort.kind === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(String(cursor.k)))) {
      throw new FieldError(`${ROOT}.cursor`, 'malformed cursor');
    }
    const id = b.p(cursor.id, 'text');
    const cmp = desc ? '<' : '>';
    if (sort.kind === 'none') pageWhere.push(`m.member_id ${cmp} ${id}`);
    else pageWhere.push(`(${sort.expr}, m.member_id) ${cmp} (${b.p(cursor.k, sort.cast)}, ${id})`);
  }
  const dir = desc ? 'DESC' : 'ASC';
  const order = sort.kind === 'none' ? `m.member_id ${dir}` : `${sort.expr} ${dir}, m.member_id ${dir}`;
  const sql = `SELECT m.member_id, m.sponsor_id, m.time_zone, m.state, m.account_status, m.last_active_at,
       mp.app_usage_probability, m.created_at, ${sort.select} AS sort_key
FROM ${from}
${pageWhere.length > 0 ? `WHERE ${pageWhere.join('\n  AND ')}` : ''}
ORDER BY ${order}
LIMIT ${b.p(limit + 1, 'int')}`;

  const evaluatedAt = new Date(now);
  return {
    sql,
    params: b.params.values,
    countSql,
    countParams,
    limit,
    queryHash: hash,
    evaluatedAt,
    sortKeyKind: sort.kind,
    cursorAfter: (row) =>
      encodeCursor({
        h: hash,
        k: sort.kind === 'none' ? null : sort.kind === 'number' ? Number(row.sort_key) : String(row.sort_key),
        id: row.member_id,
        t: evaluatedAt.toISOString(),
      }),
  };
}

interface SortKey {
  kind: SortKeyKind;
  expr: string;
  select: string;
  cast: 'timestamptz' | 'date' | 'float8' | 'text';
}

const LAST_ACTIVE_EXPR = "COALESCE(m.last_active_at, timestamptz '1970-01-01 00:00:00+00')";
const UTC_ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

const SORT_KEYS: Record<SortOrder_Field, SortKey> = {
  [SortOrder_Field.FIELD_UNSPECIFIED]: { kind: 'none', expr: 'm.member_id', select: 'NULL::text', cast: 'text' },
  [SortOrder_Field.LAST_ACTIVE]: { kind: 'timestamp', expr: LAST_ACTIVE_EXPR, select: `to_char(${LAST_ACTIVE_EXPR} AT TIME ZONE 'UTC', ${UTC_ISO})`, cast: 'timestamptz' },
  [SortOrder_Field.CREATED_AT]: { kind: 'timestamp', expr: 'm.created_at', select: `to_char(m.created_at AT TIME ZONE 'UTC', ${UTC_ISO})`, cast: 'timestamptz' },
  [SortOrder_Field.DATE_OF_BIRTH]: { kind: 'date', expr: 'm.date_of_birth', select: "to_char(m.date_of_birth, 'YYYY-MM-DD')", cast: 'date' },
  // Never-predicted members sort as -1 (last when descending).
  [SortOrder_Field.APP_USAGE_PROBABILITY]: { kind: 'number', expr: 'COALESCE(mp.app_usage_probability, -1)', select: 'COALESCE(mp.app_usage_probability, -1)', cast: 'float8' },
  [SortOrder_Field.FAMILY_NAME]: { kind: 'text', expr: 'm.last_name', select: 'm.last_name', cast: 'text' },
};

// ---------------------------------------------------------------------------------------------------

function compileTopLevel(q: MemberQuery, b: Builder, ctx: CompileContext): void {
  if (q.sponsorIds.length > 0) b.where.push(`m.sponsor_id = ANY(${b.p(strings(q.sponsorIds, `${ROOT}.sponsor_ids`), 'text[]')})`);
  if (q.populationIds.length > 0) b.where.push(`m.population_ids && ${b.p(strings(q.populationIds, `${ROOT}.population_ids`), 'text[]')}`);
  for (const flag of Object.keys(q.requiredFeatureFlags).sort()) {
    if (flag.length === 0) throw new FieldError(`${ROOT}.required_feature_flags`, 'flag key must not be empty');
    const sponsors = ctx.flagSponsors?.get(flag);
    if (!sponsors) throw new Error(`feature flag '${flag}' was not resolved before compiling`);
    b.where.push(`m.sponsor_id = ANY(${b.p([...sponsors], 'text[]')})`);
  }
  if (q.hasRteEnabled) b.where.push('m.rte_enabled');
  const checkedAfter = ts(q.eligibilityCheckedAfter, `${ROOT}.eligibility_checked_after`);
  const checkedBefore = ts(q.eligibilityCheckedBefore, `${ROOT}.eligibility_checked_before`);
  timeRange(checkedAfter, checkedBefore, `${ROOT}.eligibility_checked_after`, 'eligibility_checked_before');
  if (checkedAfter !== undefined) b.where.push(`m.last_eligibility_check_at > ${b.ts(checkedAfter)}`);
  if (checkedBefore !== undefined) b.where.push(`(m.last_eligibility_check_at IS NULL OR m.last_eligibility_check_at < ${b.ts(checkedBefore)})`);
  const activeAfter = ts(q.lastActiveAfter, `${ROOT}.last_active_after`);
  const activeBefore = ts(q.lastActiveBefore, `${ROOT}.last_active_before`);
  timeRange(activeAfter, activeBefore, `${ROOT}.last_active_after`, 'last_active_before');
  if (activeAfter !== undefined) b.where.push(`m.last_active_at > ${b.ts(activeAfter)}`);
  if (activeBefore !== undefined) b.where.push(`(m.last_active_at IS NULL OR m.last_active_at < ${b.ts(activeBefore)})`);
  if (q.minAppUsageProbability !== 0) {
    const v = num(q.minAppUsageProbability, `${ROOT}.min_app_usage_probability`, 0, 1);
    // NULL (never predicted) fails the comparison: such members are excluded by any min filter.
    b.where.push(`mp.app_usage_probability >= ${b.p(v, 'float8')}`);
  }
  if (q.accountStatuses.length > 0) {
    b.where.push(`m.account_status = ANY(${b.p(enumNames(AccountStatusSchema, q.accountStatuses, `${ROOT}.account_statuses`), 'text[]')})`);
  }
  if (q.excludeMockAccounts) b.where.push('NOT m.is_mock');
}

function compileBenefitContracts(q: MemberQuery, b: Builder): void {
  const f = q.benefitContractFilter;
  const path = `${ROOT}.benefit_contract_filter`;
  if (!f) return;
  const activeAt = ts(f.activeAt, `${path}.active_at`);
  const set = f.healthcareServiceIds.length > 0 || f.insurancePlanIds.length > 0 || activeAt !== undefined || f.includeFutureContracts || f.isTopBenefit !== undefined;
  if (!set) return;
  const t = b.ts(activeAt ?? b.now);
  const conds = [ACCESSIBLE_CONTRACT];
  conds.push(f.includeFutureContracts ? `(bc.ends_at IS NULL OR bc.ends_at > ${t})` : `bc.starts_at <= ${t} AND (bc.ends_at IS NULL OR bc.ends_at > ${t})`);
  if (f.healthcareServiceIds.length > 0) conds.push(`bc.healthcare_service_ids && ${b.p(strings(f.healthcareServiceIds, `${path}.healthcare_service_ids`), 'text[]')}`);
  if (f.insurancePlanIds.length > 0) conds.push(`bc.insurance_plan_id = ANY(${b.p(strings(f.insurancePlanIds, `${path}.insurance_plan_ids`), 'text[]')})`);
  if (f.isTopBenefit !== undefined) conds.push(`bc.is_top_benefit = ${b.p(f.isTopBenefit, 'boolean')}`);
  b.where.push(`EXISTS (SELECT 1 FROM benefit_contracts bc WHERE ${conds.join('\n      AND ')})`);
}

function compileFeatureOptions(q: MemberQuery, b: Builder): void {
  q.featureOptions.forEach((o, i) => {
    const path = `${ROOT}.feature_options[${i}]`;
    if (o.name === '') throw new FieldError(`${path}.name`, 'must not be empty');
    enumName(FeatureOptionFilter_FeatureOptionTypeSchema, o.type, `${path}.type`);
    enumName(FeatureOptionFilter_OperatorSchema, o.operator, `${path}.operator`);
    const op = o.operator === FeatureOptionFilter_Operator.OPERATOR_UNSPECIFIED ? FeatureOptionFilter_Operator.EQUALS : o.operator;
    const opName = FeatureOptionFilter_OperatorSchema.values.find((v) => v.number === op)?.name ?? String(op);
    const bad = (): never => {
      throw new FieldError(`${path}.operator`, `${opName} is not supported for type ${enumName(FeatureOptionFilter_FeatureOptionTypeSchema, o.type, `${path}.type`)}`);
    };
    let test: string;
    switch (o.type) {
      case FeatureOptionFilter_FeatureOptionType.BOOLEAN: {
        const v = o.value.toLowerCase();
        if (v !== 'true' && v !== 'false') throw new FieldError(`${path}.value`, "must be 'true' or 'false' for a BOOLEAN option");
        if (op !== FeatureOptionFilter_Operator.EQUALS && op !== FeatureOptionFilter_Operator.NOT_EQUALS) bad();
        test = `lower(fo.value) ${op === FeatureOptionFilter_Operator.EQUALS ? '=' : '<>'} ${b.p(v, 'text')}`;
        break;
      }
      case FeatureOptionFilter_FeatureOptionType.NUMBER: {
        const v = Number(o.value);
        if (o.value.trim() === '' || !Number.isFinite(v)) throw new FieldError(`${path}.value`, 'must be a number for a NUMBER option');
        const sqlOp = { [FeatureOptionFilter_Operator.EQUALS]: '=', [FeatureOptionFilter_Operator.NOT_EQUALS]: '<>', [FeatureOptionFilter_Operator.GREATER_THAN]: '>', [FeatureOptionFilter_Operator.LESS_THAN]: '<' }[
          op as number
        ];
        if (!sqlOp) bad();
        test = `fo.value_number ${sqlOp} ${b.p(v, 'float8')}`;
        break;
      }
      case FeatureOptionFilter_FeatureOptionType.JSON: {
        let parsed: unknown;
        try {
          parsed = JSON.parse(o.value);
        } catch {
          throw new FieldError(`${path}.value`, 'must be valid JSON for a JSON option');
        }
        const sqlOp = { [FeatureOptionFilter_Operator.EQUALS]: '=', [FeatureOptionFilter_Operator.NOT_EQUALS]: '<>', [FeatureOptionFilter_Operator.CONTAINS]: '@>' }[op as number];
        if (!sqlOp) bad();
        test = `fo.value_json ${sqlOp} ${b.p(JSON.stringify(parsed), 'jsonb')}`;
        break;
      }
      default: {
        // STRING, and TYPE_UNSPECIFIED compares the textual value.
        if (op === FeatureOptionFilter_Operator.EQUALS) test = `fo.value = ${b.p(o.value, 'text')}`;
        else if (op === FeatureOptionFilter_Operator.NOT_EQUALS) test = `fo.value <> ${b.p(o.value, 'text')}`;
        else if (op === FeatureOptionFilter_Operator.CONTAINS) test = `strpos(fo.value, ${b.p(o.value, 'text')}) > 0`;
        else test = bad();
      }
    }
    b.where.push(`EXISTS (SELECT 1 FROM sponsor_feature_options fo WHERE fo.sponsor_id = m.sponsor_id AND fo.name = ${b.p(o.name, 'text')} AND ${test})`);
  });
}

function compilePredicateFilter(q: MemberQuery, b: Builder, ctx: CompileContext): void {
  const f = q.predicateFilter;
  if (!f) return;
  const path = `${ROOT}.predicate_filter`;
  const at = ts(f.evaluatedAt, `${path}.evaluated_at`) ?? b.now;
  const atYmd = ymd(new Date(at));
  const usePlanJoin =
    ctx.planAttributes === 'subquery'
      ? undefined
      : (): void => {
          b.joins.add('plan');
        };
  if (f.expression.trim() !== '') {
    const ast = parsePredicate(f.expression, `${path}.expression`);
    b.where.push(compilePredicate(ast, { params: b.params, evaluatedAtYmd: atYmd, usePlanJoin }));
  }
  if (f.benefitContractId === undefined && f.healthcareServiceId === undefined) return;
  if (f.benefitContractId === '') throw new FieldError(`${path}.benefit_contract_id`, 'must not be empty');
  if (f.healthcareServiceId === '') throw new FieldError(`${path}.healthcare_service_id`, 'must not be empty');
  const t = b.ts(at);
  const scope = [ACCESSIBLE_CONTRACT, `bc.starts_at <= ${t} AND (bc.ends_at IS NULL OR bc.ends_at > ${t})`];
  if (f.benefitContractId !== undefined) scope.push(`bc.contract_id = ${b.p(f.benefitContractId, 'text')}`);
  if (f.healthcareServiceId !== undefined) scope.push(`${b.p(f.healthcareServiceId, 'text')} = ANY(bc.healthcare_service_ids)`);
  // Each stored contract predicate compiles through the same whitelist; one that does not parse fails closed.
  const cases: string[] = [];
  for (const [id, expression] of [...(ctx.contractPredicates ?? new Map<string, string>())].sort(([a], [c]) => (a < c ? -1 : 1))) {
    let ast: PredicateExpr | null = null;
    try {
      ast = parsePredicate(expression, `benefit_predicates.${id}`);
    } catch (err) {
      if (!(err instanceof PredicateError)) throw err;
    }
    cases.push(`WHEN bc.predicate_id = ${b.p(id, 'text')} THEN ${ast ? compilePredicate(ast, { params: b.params, evaluatedAtYmd: atYmd, usePlanJoin }) : 'FALSE'}`);
  }
  const holds = `(CASE WHEN bc.predicate_id IS NULL THEN TRUE ${cases.join(' ')} ELSE FALSE END)`;
  const scoped = scope.join('\n      AND ');
  if (f.requireAllPredicates) {
    b.where.push(`EXISTS (SELECT 1 FROM benefit_contracts bc WHERE ${scoped})`);
    b.where.push(`NOT EXISTS (SELECT 1 FROM benefit_contracts bc WHERE ${scoped}\n      AND NOT ${holds})`);
  } else {
    b.where.push(`EXISTS (SELECT 1 FROM benefit_contracts bc WHERE ${scoped}\n      AND ${holds})`);
  }
}

function compileCoverage(q: MemberQuery, b: Builder): void {
  const f = q.coverageFilter;
  if (!f) return;
  const path = `${ROOT}.coverage_filter`;
  if (f.hasDualCoverage !== undefined) {
    b.flag(
      f.hasDualCoverage,
      `(EXISTS (SELECT 1 FROM coverages cd WHERE cd.member_key = m.member_key AND cd.coverage_type = 'PRIMARY' AND cd.status = 'ACTIVE')
      AND EXISTS (SELECT 1 FROM coverages cd WHERE cd.member_key = m.member_key AND cd.coverage_type = 'SECONDARY' AND cd.status = 'ACTIVE'))`,
    );
  }
  const conds: string[] = [];
  if (f.coverageTypes.length > 0) conds.push(`c.coverage_type = ANY(${b.p(enumNames(CoverageFilter_CoverageTypeSchema, f.coverageTypes, `${path}.coverage_types`), 'text[]')})`);
  if (f.payerNames.length > 0) conds.push(`c.payer_name = ANY(${b.p(strings(f.payerNames, `${path}.payer_names`), 'text[]')})`);
  if (f.isFileBasedEnrollment !== undefined) conds.push(`c.is_file_based_enrollment = ${b.p(f.isFileBasedEnrollment, 'boolean')}`);
  if (f.coverageStatuses.length > 0) conds.push(`c.status = ANY(${b.p(enumNames(CoverageFilter_CoverageStatusSchema, f.coverageStatuses, `${path}.coverage_statuses`), 'text[]')})`);
  const activeAt = ts(f.coverageActiveAt, `${path}.coverage_active_at`);
  if (activeAt !== undefined) {
    const d = b.p(utcDateString(activeAt), 'date');
    conds.push(`c.starts_on <= ${d} AND (c.ends_on IS NULL OR c.ends_on > ${d})`);
  }
  if (conds.length > 0) b.where.push(`EXISTS (SELECT 1 FROM coverages c WHERE c.member_key = m.member_key AND ${conds.join(' AND ')})`);
}

function compilePlan(q: MemberQuery, b: Builder): void {
  const f = q.insurancePlanFilter;
  if (!f) return;
  const path = `${ROOT}.insurance_plan_filter`;
  const conds: string[] = [];
  if (f.insurancePlanIds.length > 0) conds.push(`p.plan_id = ANY(${b.p(strings(f.insurancePlanIds, `${path}.insurance_plan_ids`), 'text[]')})`);
  if (f.payerNames.length > 0) conds.push(`p.payer_name = ANY(${b.p(strings(f.payerNames, `${path}.payer_names`), 'text[]')})`);
  if (f.planTypes.length > 0) conds.push(`p.plan_type = ANY(${b.p(enumNames(InsurancePlanFilter_PlanTypeSchema, f.planTypes, `${path}.plan_types`), 'text[]')})`);
  if (f.networkTypes.length > 0) conds.push(`p.network_type = ANY(${b.p(enumNames(InsurancePlanFilter_NetworkTypeSchema, f.networkTypes, `${path}.network_types`), 'text[]')})`);
  const bools: [boolean | undefined, string][] = [
    [f.isSelfFunded, 'p.is_self_funded'],
    [f.hasHsa, 'p.has_hsa'],
    [f.hasHra, 'p.has_hra'],
    [f.hasFsa, 'p.has_fsa'],
    [f.hasMentalHealthCoverage, 'p.has_mental_health_coverage'],
    [f.hasPrescriptionCoverage, 'p.has_prescription_coverage'],
    [f.hasDentalCoverage, 'p.has_dental_coverage'],
    [f.hasVisionCoverage, 'p.has_vision_coverage'],
    [f.hasTelehealthCoverage, 'p.has_telehealth_coverage'],
    [f.isMarketplacePlan, 'p.is_marketplace_plan'],
    [f.isSubsidized, 'p.is_subsidized'],
  ];
  for (const [v, col] of bools) if (v !== undefined) conds.push(`${col} = ${b.p(v, 'boolean')}`);
  const money = 1e9;
  const minInd = num(f.minIndividualDeductible, `${path}.min_individual_deductible`, 0, money);
  const maxInd = num(f.maxIndividualDeductible, `${path}.max_individual_deductible`, 0, money);
  const minFam = num(f.minFamilyDeductible, `${path}.min_family_deductible`, 0, money);
  const maxFam = num(f.maxFamilyDeductible, `${path}.max_family_deductible`, 0, money);
  const minOop = num(f.minIndividualOopMax, `${path}.min_individual_oop_max`, 0, money);
  const maxOop = num(f.maxIndividualOopMax, `${path}.max_individual_oop_max`, 0, money);
  range(minInd, maxInd, `${path}.min_individual_deductible`, 'max_individual_deductible');
  range(minFam, maxFam, `${path}.min_family_deductible`, 'max_family_deductible');
  range(minOop, maxOop, `${path}.min_individual_oop_max`, 'max_individual_oop_max');
  if (minInd !== undefined) conds.push(`p.individual_deductible >= ${b.p(minInd, 'float8')}`);
  if (maxInd !== undefined) conds.push(`p.individual_deductible <= ${b.p(maxInd, 'float8')}`);
  if (minFam !== undefined) conds.push(`p.family_deductible >= ${b.p(minFam, 'float8')}`);
  if (maxFam !== undefined) conds.push(`p.family_deductible <= ${b.p(maxFam, 'float8')}`);
  if (minOop !== undefined) conds.push(`p.individual_oop_max >= ${b.p(minOop, 'float8')}`);
  if (maxOop !== undefined) conds.push(`p.individual_oop_max <= ${b.p(maxOop, 'float8')}`);
  if (f.groupNumbers.length > 0) conds.push(`p.group_number = ANY(${b.p(strings(f.groupNumbers, `${path}.group_numbers`), 'text[]')})`);
  if (f.policyNumbers.length > 0) conds.push(`c.policy_number = ANY(${b.p(strings(f.policyNumbers, `${path}.policy_numbers`), 'text[]')})`);
  if (f.employerIds.length > 0) conds.push(`p.employer_id = ANY(${b.p(strings(f.employerIds, `${path}.employer_ids`), 'text[]')})`);
  const effAfter = ts(f.planEffectiveAfter, `${path}.plan_effective_after`);
  const effBefore = ts(f.planEffectiveBefore, `${path}.plan_effective_before`);
  timeRange(effAfter, effBefore, `${path}.plan_effective_after`, 'plan_effective_before');
  if (effAfter !== undefined) conds.push(`p.effective_date > ${b.p(dateAfterBound(effAfter), 'date')}`);
  if (effBefore !== undefined) {
    const [op, d] = dateBeforeBound(effBefore);
    conds.push(`p.effective_date ${op} ${b.p(d, 'date')}`);
  }
  const days = int(f.daysUntilRenewal, `${path}.days_until_renewal`, 0, 3660);
  if (f.renewingWithinDays !== undefined && days === undefined) {
    throw new FieldError(`${path}.days_until_renewal`, 'is required when renewing_within_days is set');
  }
  if (days !== undefined) {
    const today = utcDateString(b.now);
    const test = `(p.renewal_date >= ${b.p(today, 'date')} AND p.renewal_date <= ${b.p(utcDateString(b.now + days * DAY_MS), 'date')})`;
    conds.push(f.renewingWithinDays === false ? `NOT ${test}` : test);
  }
  if (f.metalTiers.length > 0) conds.push(`p.metal_tier = ANY(${b.p(enumNames(InsurancePlanFilter_MetalTierSchema, f.metalTiers, `${path}.metal_tiers`), 'text[]')})`);
  if (conds.length > 0) {
    b.where.push(`EXISTS (SELECT 1 FROM coverages c JOIN insurance_plans p ON p.plan_id = c.plan_id
      WHERE c.member_key = m.member_key AND c.status = 'ACTIVE' AND ${conds.join('\n      AND ')})`);
  }
}

function compileFamily(q: MemberQuery, b: Builder): void {
  const f = q.familyFilter;
  if (!f) return;
  const path = `${ROOT}.family_filter`;
  if (f.memberRoles.length > 0) b.where.push(`m.member_role = ANY(${b.p(enumNames(FamilyRelationshipFilter_MemberRoleSchema, f.memberRoles, `${path}.member_roles`), 'text[]')})`);
  b.flag(f.hasDependents, `EXISTS (SELECT 1 FROM families fd WHERE fd.family_id = m.family_id AND fd.subscriber_member_id = m.member_id AND fd.family_size > 1)`);
  b.flag(f.isDependent, '(m.subscriber_member_id IS NOT NULL)');
  if (f.relationships.length > 0) {
    b.where.push(`m.relationship = ANY(${b.p(enumNames(FamilyRelationshipFilter_RelationshipSchema, f.relationships, `${path}.relationships`), 'text[]')})`);
  }
  const min = int(f.minFamilySize, `${path}.min_family_size`, 0, 1000);
  const max = int(f.maxFamilySize, `${path}.max_family_size`, 0, 1000);
  range(min, max, `${path}.min_family_size`, 'max_family_size');
  const size: string[] = [];
  if (min !== undefined) size.push(`fs.family_size >= ${b.p(min, 'int')}`);
  if (max !== undefined) size.push(`fs.family_size <= ${b.p(max, 'int')}`);
  if (size.length > 0) b.where.push(`EXISTS (SELECT 1 FROM families fs WHERE fs.family_id = m.family_id AND ${size.join(' AND ')})`);
  b.flag(f.hasFamilyMembersEnrolled, 'EXISTS (SELECT 1 FROM members fo WHERE fo.family_id = m.family_id AND fo.member_id <> m.member_id)');
}

function compileDemographics(q: MemberQuery, b: Builder): void {
  const f = q.demographicsFilter;
  if (!f) return;
  const path = `${ROOT}.demographics_filter`;
  const now = new Date(b.now);
  const minAge = int(f.minAge, `${path}.min_age`, 0, 150);
  const maxAge = int(f.maxAge, `${path}.max_age`, 0, 150);
  range(minAge, maxAge, `${path}.min_age`, 'max_age');
  // age >= A  ⟺  date_of_birth <= latestBirthDateForAge(now, A): index-friendly on date_of_birth.
  if (minAge !== undefined) b.where.push(`m.date_of_birth <= ${b.p(latestBirthDateForAge(now, minAge), 'date')}`);
  if (maxAge !== undefined) b.where.push(`m.date_of_birth > ${b.p(latestBirthDateForAge(now, maxAge + 1), 'date')}`);
  if (f.ageGroups.length > 0) {
    const groups = enumNames(DemographicsFilter_AgeGroupSchema, f.ageGroups, `${path}.age_groups`);
    const ors = [...new Set(groups)].map((g) => {
      const [lo, hi] = AGE_GROUPS[g] as readonly [number, number | null];
      const parts = [`m.date_of_birth <= ${b.p(latestBirthDateForAge(now, lo), 'date')}`];
      if (hi !== null) parts.push(`m.date_of_birth > ${b.p(latestBirthDateForAge(now, hi + 1), 'date')}`);
      return `(${parts.join(' AND ')})`;
    });
    b.where.push(`(${ors.join(' OR ')})`);
  }
  const lists: [readonly string[], string, string][] = [
    [f.biologicalSexes, 'm.biological_sex', 'biological_sexes'],
    [f.genderIdentities, 'm.gender_identity', 'gender_identities'],
    [f.states, 'm.state', 'states'],
    [f.cities, 'm.city', 'cities'],
    [f.preferredSpokenLanguages, 'm.preferred_spoken_language', 'preferred_spoken_languages'],
    [f.preferredWrittenLanguages, 'm.preferred_written_language', 'preferred_written_languages'],
    [f.raceEthnicities, 'm.race_ethnicity', 'race_ethnicities'],
  ];
  for (const [values, col, name] of lists) {
    if (values.length > 0) b.where.push(`${col} = ANY(${b.p(strings(values, `${path}.${name}`), 'text[]')})`);
  }
  if (f.zipCodes.length > 0) {
    f.zipCodes.forEach((z, i) => {
      if (!/^\d{1,5}$/.test(z)) throw new FieldError(`${path}.zip_codes[${i}]`, 'must be a ZIP code prefix of 1-5 digits');
    });
    b.where.push(`m.zip_code LIKE ANY(${b.p(f.zipCodes.map((z) => `${z}%`), 'text[]')})`);
  }
  b.flag(f.isVip, 'm.is_vip');
  b.flag(f.isDoNotContact, 'm.is_do_not_contact');
  b.flag(f.isLgbtqPlus, 'm.is_lgbtq_plus');
}

function compileEngagement(q: MemberQuery, b: Builder): void {
  const f = q.engagementFilter;
  if (!f) return;
  const path = `${ROOT}.engagement_filter`;
  const before = b.where.length;
  if (f.cohorts.length > 0) b.where.push(`me.cohorts && ${b.p(enumNames(EngagementFilter_EngagementCohortSchema, f.cohorts, `${path}.cohorts`), 'text[]')}`);
  const after = ts(f.loggedInAfter, `${path}.logged_in_after`);
  const beforeTs = ts(f.loggedInBefore, `${path}.logged_in_before`);
  timeRange(after, beforeTs, `${path}.logged_in_after`, 'logged_in_before');
  if (after !== undefined) b.where.push(`me.last_login_at > ${b.ts(after)}`);
  if (beforeTs !== undefined) b.where.push(`(me.last_login_at IS NULL OR me.last_login_at < ${b.ts(beforeTs)})`);
  b.flag(f.hasCompletedOnboarding, 'me.onboarding_completed');
  if (f.usedFeatures.length > 0) b.where.push(`me.used_features && ${b.p(strings(f.usedFeatures, `${path}.used_features`), 'text[]')}`);
  b.flagAfter(f.hasUpcomingAppointments, 'me.next_appointment_at', () => b.ts(b.now));
  const hours = int(f.upcomingAppointmentWithinHours, `${path}.upcoming_appointment_within_hours`, 1, 24 * 366);
  if (hours !== undefined) {
    b.where.push(`me.next_appointment_at > ${b.ts(b.now)} AND me.next_appointment_at <= ${b.ts(b.now + hours * HOUR_MS)}`);
  }
  b.flag(f.hasUnreadMessages, '(me.unread_message_count > 0)');
  b.flag(f.hasSentMessages, '(me.sent_message_count > 0)');
  b.flag(f.pushNotificationsEnabled, 'me.push_notifications_enabled');
  b.flag(f.emailNotificationsEnabled, 'me.email_notifications_enabled');
  if (b.where.length > before) b.joins.add('me');
}

function compileCareJourney(q: MemberQuery, b: Builder): void {
  const f = q.careJourneyFilter;
  if (!f) return;
  const path = `${ROOT}.care_journey_filter`;
  const before = b.where.length;
  if (f.enrolledPrograms.length > 0) {
    b.where.push(`mc.enrolled_programs && ${b.p(enumNames(CareJourneyFilter_ProgramTypeSchema, f.enrolledPrograms, `${path}.enrolled_programs`), 'text[]')}`);
  }
  if (f.notEnrolledPrograms.length > 0) {
    b.where.push(`NOT (mc.enrolled_programs && ${b.p(enumNames(CareJourneyFilter_ProgramTypeSchema, f.notEnrolledPrograms, `${path}.not_enrolled_programs`), 'text[]')})`);
  }
  b.flag(f.hasActiveServiceDeliveries, '(cardinality(mc.active_service_delivery_types) > 0)');
  if (f.serviceDeliveryTypes.length > 0) b.where.push(`mc.active_service_delivery_types && ${b.p(strings(f.serviceDeliveryTypes, `${path}.service_delivery_types`), 'text[]')}`);
  b.flag(f.hasOpenCareGaps, '(cardinality(mc.open_care_gap_types) > 0)');
  if (f.careGapTypes.length > 0) b.where.push(`mc.open_care_gap_types && ${b.p(strings(f.careGapTypes, `${path}.care_gap_types`), 'text[]')}`);
  b.flag(f.hasActivePrescriptions, '(mc.active_prescription_count > 0)');
  if (f.chronicConditions.length > 0) b.where.push(`mc.chronic_conditions && ${b.p(strings(f.chronicConditions, `${path}.chronic_conditions`), 'text[]')}`);
  const claimsAfter = ts(f.claimsAfter, `${path}.claims_after`);
  if (f.hasRecentClaims !== undefined || claimsAfter !== undefined) {
    const since = claimsAfter ?? b.now - RECENT_CLAIMS_LOOKBACK_MS;
    b.flagAfter(f.hasRecentClaims ?? true, 'mc.last_claim_at', () => b.ts(since));
  }
  b.flag(f.isHighUtilizer, 'mc.is_high_utilizer');
  if (b.where.length > before) b.joins.add('mc');
}

/** Event type ids in scope of a RecentEventFilter's category/type/source lists (null = all types). */
export function eventTypeScope(f: RecentEventFilter, path: string): number[] | null {
  if (f.eventCategories.length === 0 && f.eventTypes.length === 0 && f.sourceServices.length === 0) return null;
  const categories = f.eventCategories.length > 0 ? new Set(enumNames(RecentEventFilter_EventCategorySchema, f.eventCategories, `${path}.event_categories`)) : null;
  const types = f.eventTypes.length > 0 ? new Set(strings(f.eventTypes, `${path}.event_types`)) : null;
  const sources = f.sourceServices.length > 0 ? new Set(strings(f.sourceServices, `${path}.source_services`)) : null;
  return EVENT_TYPES.filter((e) => (!categories || categories.has(e.category)) && (!types || types.has(e.type)) && (!sources || sources.has(e.source))).map((e) => e.id);
}

export interface EventWindow {
  /** Exclusive lower bound from events_after. */
  after?: number;
  /** Inclusive lower bound from within_last (now - duration). */
  since?: number;
  /** Exclusive upper bound from events_before. */
  before?: number;
}

export interface TrendWindow {
  hi: number;
  length: number;
}

/** Window for is_increasing/decreasing_activity: [hi - L, hi) vs [hi - 2L, hi - L). */
export function trendWindow(w: EventWindow, now: number, path: string): TrendWindow {
  const hi = w.before ?? now;
  const lowers = [w.after, w.since].filter((x): x is number => x !== undefined);
  const lo = lowers.length > 0 ? Math.max(...lowers) : undefined;
  const length = lo === undefined ? DEFAULT_TREND_WINDOW_MS : hi - lo;
  if (length <= 0) throw new FieldError(path, 'the time window is empty');
  return { hi, length };
}

/**
 * Upper bound on (window hours × event types in scope) for a filter to drive the query from the event
 * side. 72 is "one event type over the last three days": such windows hold a small, index-contiguous
 * slice of member_events, while wider ones (a week of sign-ins, four weeks of engagement) match so many
 * members that walking members in sort order and stopping at the page size is cheaper.
 */
const PREFILTER_MAX_TYPE_HOURS = 72;

function compileRecentEvents(q: MemberQuery, b: Builder): void {
  const f = q.recentEventFilter;
  if (!f) return;
  const path = `${ROOT}.recent_event_filter`;
  const after = ts(f.eventsAfter, `${path}.events_after`);
  const before = ts(f.eventsBefore, `${path}.events_before`);
  timeRange(after, before, `${path}.events_after`, 'events_before');
  const within = dur(f.withinLast, `${path}.within_last`);
  // "Within the last N" is [now - N, now]: events recorded after "now" (clock skew, a pinned evaluation time on
  // synthetic data) are outside it. events_before still narrows further.
  const withinBefore = within === undefined ? before : Math.min(before ?? Number.POSITIVE_INFINITY, b.now + 1);
  const w: EventWindow = { after, before: withinBefore, since: within === undefined ? undefined : b.now - within };
  const scope = eventTypeScope(f, path);
  const minCount = int(f.minEventCount, `${path}.min_event_count`, 0, 1_000_000);
  const maxCount = int(f.maxEventCount, `${path}.max_event_count`, 0, 1_000_000);
  range(minCount, maxCount, `${path}.min_event_count`, 'max_event_count');

  const aggs: string[] = [];
  const conds: string[] = [];
  const lowerBounds: (number | null)[] = [];
  /** Narrow filters (over alias `e`) that a selected member must have at least one event in. */
  const required: string[][] = [];
  const windowSql = (): string[] => {
    const parts: string[] = [];
    if (w.after !== undefined) parts.push(`e.occurred_at > ${b.ts(w.after)}`);
    if (w.since !== undefined) parts.push(`e.occurred_at >= ${b.ts(w.since)}`);
    if (w.before !== undefined) parts.push(`e.occurred_at < ${b.ts(w.before)}`);
    return parts;
  };
  const windowLower = (): number | null => {
    const l = [w.after, w.since].filter((x): x is number => x !== undefined);
    return l.length > 0 ? Math.max(...l) : null;
  };
  const scopeSql = (ids: readonly number[] | null): string[] => (ids === null ? [] : [`e.event_type_id = ANY(${b.p([...ids], 'smallint[]')})`]);
  const agg = (filter: string[], lower: number | null, expr = 'count(*)'): string => {
    const name = `c${aggs.length}`;
    aggs.push(`${expr} FILTER (WHERE ${filter.length > 0 ? filter.join(' AND ') : 'TRUE'}) AS ${name}`);
    lowerBounds.push(lower);
    return `ev.${name}`;
  };
  /**
   * Records that the conditions being added imply "at least one event matching `filter`" (count >= 1, a
   * flag that must be true, a trend that must rise...). Kept for the event-side pre-filter only when the
   * filter is narrow: a lower time bound and at most PREFILTER_MAX_TYPE_HOURS (window hours × event
   * types in scope), so the events it reads stay few even for the busiest event types.
   */
  const requireAny = (filter: string[], lower: number | null, upper: number, types: readonly number[] | null): void => {
    if (lower === null) return;
    const typeHours = (Math.max(upper - lower, 0) / HOUR_MS) * (types ?? EVENT_TYPES).length;
    if (typeHours <= PREFILTER_MAX_TYPE_HOURS) required.push(filter);
  };
  const upper = w.before ?? b.now;

  const hasScope = scope !== null || after !== undefined || before !== undefined || within !== undefined;
  const lo = minCount ?? (maxCount !== undefined ? 0 : 1);
  // "N >= 1" over a window without lower bound is implied by a positive flag, trend or pattern condition
  // on events inside W and S; leaving it out keeps the lateral scan bounded by that condition's window.
  const inScope = (ids: readonly number[]): boolean => scope === null || ids.every((id) => scope.includes(id));
  const countImplied =
    lo === 1 &&
    maxCount === undefined &&
    w.after === undefined &&
    w.since === undefined &&
    (f.isIncreasingActivity === true ||
      f.isDecreasingActivity === true ||
      f.isRegularPattern === true ||
      EVENT_FLAG_NAMES.some((name) => f[name] === true && inScope(EVENT_FLAG_TYPES[name])) ||
      ((f.hasUsedFeature ?? f.featureNames.length > 0) && inScope([FEATURE_USED_TYPE_ID])));
  if ((hasScope || minCount !== undefined || maxCount !== undefined) && !countImplied) {
    const filter = [...windowSql(), ...scopeSql(scope)];
    const c = agg(filter, windowLower());
    if (lo > 0) {
      conds.push(`${c} >= ${b.p(lo, 'int')}`);
      requireAny(filter, windowLower(), upper, scope);
    }
    if (maxCount !== undefined) conds.push(`${c} <= ${b.p(maxCount, 'int')}`);
  }
  for (const name of EVENT_FLAG_NAMES) {
    const v = f[name];
    if (v === undefined) continue;
    const filter = [...windowSql(), ...scopeSql(EVENT_FLAG_TYPES[name])];
    const c = agg(filter, windowLower());
    conds.push(v ? `${c} > 0` : `${c} = 0`);
    if (v) requireAny(filter, windowLower(), upper, EVENT_FLAG_TYPES[name]);
  }
  if (f.hasUsedFeature !== undefined || f.featureNames.length > 0) {
    const filter = [...windowSql(), `e.event_type_id = ${b.p(FEATURE_USED_TYPE_ID, 'int')}`];
    if (f.featureNames.length > 0) filter.push(`e.feature_name = ANY(${b.p(strings(f.featureNames, `${path}.feature_names`), 'text[]')})`);
    const c = agg(filter, windowLower());
    conds.push((f.hasUsedFeature ?? true) ? `${c} > 0` : `${c} = 0`);
    if (f.hasUsedFeature ?? true) requireAny(filter, windowLower(), upper, [FEATURE_USED_TYPE_ID]);
  }
  if (f.hasSessionActive !== undefined) {
    const since = b.now - SESSION_ACTIVE_MS;
    const filter = [`e.event_type_id = ${b.p(APP_SESSION_TYPE_ID, 'int')}`, `e.occurred_at >= ${b.ts(since)}`, `e.occurred_at <= ${b.ts(b.now)}`];
    const c = agg(filter, since);
    conds.push(f.hasSessionActive ? `${c} > 0` : `${c} = 0`);
    if (f.hasSessionActive) requireAny(filter, since, b.now, [APP_SESSION_TYPE_ID]);
  }
  if (f.isIncreasingActivity !== undefined || f.isDecreasingActivity !== undefined) {
    const { hi, length } = trendWindow(w, b.now, `${path}.within_last`);
    const recentFilter = [...scopeSql(scope), `e.occurred_at >= ${b.ts(hi - length)}`, `e.occurred_at < ${b.ts(hi)}`];
    const priorFilter = [...scopeSql(scope), `e.occurred_at >= ${b.ts(hi - 2 * length)}`, `e.occurred_at < ${b.ts(hi - length)}`];
    const recent = agg(recentFilter, hi - length);
    const prior = agg(priorFilter, hi - 2 * length);
    const inc = `(${recent} * 2 >= ${prior} * 3 AND ${recent} - ${prior} >= 2)`;
    const dec = `(${prior} * 2 >= ${recent} * 3 AND ${prior} - ${recent} >= 2)`;
    if (f.isIncreasingActivity !== undefined) conds.push(f.isIncreasingActivity ? inc : `NOT ${inc}`);
    if (f.isDecreasingActivity !== undefined) conds.push(f.isDecreasingActivity ? dec : `NOT ${dec}`);
    // Increasing implies recent >= prior + 2 >= 2 events; decreasing implies prior >= 2.
    if (f.isIncreasingActivity) requireAny(recentFilter, hi - length, hi, scope);
    if (f.isDecreasingActivity) requireAny(priorFilter, hi - 2 * length, hi - length, scope);
  }
  if (f.isRegularPattern !== undefined) {
    const hi = w.before ?? b.now;
    const lo = hi - REGULAR_PATTERN_WEEKS * 7 * DAY_MS;
    const filter = [...scopeSql(scope), `e.occurred_at > ${b.ts(lo)}`, `e.occurred_at < ${b.ts(hi)}`];
    const his = b.ts(hi);
    const weeks = agg(filter, lo, `count(DISTINCT floor((extract(epoch FROM ${his}) - extract(epoch FROM e.occurred_at)) / 604800))`);
    const days = agg(filter, lo, `count(DISTINCT (e.occurred_at AT TIME ZONE 'UTC')::date)`);
    const regular = `(${weeks} = ${REGULAR_PATTERN_WEEKS} AND ${days} >= ${REGULAR_PATTERN_MIN_DAYS})`;
    conds.push(f.isRegularPattern ? regular : `NOT ${regular}`);
    if (f.isRegularPattern) requireAny(filter, lo, hi, scope);
  }
  if (aggs.length === 0) return;
  const allBounded = lowerBounds.every((x) => x !== null);
  const lower = allBounded ? ` AND e.occurred_at >= ${b.ts(Math.min(...(lowerBounds as number[])))}` : '';
  b.lateral = `CROSS JOIN LATERAL (SELECT ${aggs.join(',\n      ')}\n    FROM member_events e WHERE e.member_key = m.member_key${lower}) ev`;
  const prefilter = eventPrefilter(required);
  if (prefilter) b.where.push(prefilter);
  b.where.push(...conds);
}

/**
 * A necessary condition for the event conditions, in a form the planner can drive from the event side:
 * the member has an event matching each required filter. The aggregates in the lateral join stay the
 * exact test; this only adds `member_key IN (...)`, which (unlike the aggregates' FILTER conditions) the
 * planner can estimate from column statistics and answer from member_events_type_time_idx, so a short
 * recent-event window no longer probes every member's events. Filters are nested in one sub-select so
 * their intersection is computed before members are visited.
 */
function eventPrefilter(required: readonly string[][]): string | null {
  const seen = new Set<string>();
  const filters: string[][] = [];
  for (const filter of required) {
    const key = filter.join(' AND ');
    if (seen.has(key)) continue;
    seen.add(key);
    filters.push(filter);
  }
  if (filters.length === 0) return null;
  const aliased = (filter: readonly string[], alias: string): string => filter.map((c) => c.replace(/\be\.(?=[a-z_])/g, `${alias}.`)).join(' AND ');
  const inner = filters
    .slice(1)
    .map((f, i) => `\n      AND p0.member_key IN (SELECT p${i + 1}.member_key FROM member_events p${i + 1} WHERE ${aliased(f, `p${i + 1}`)})`)
    .join('');
  return `m.member_key IN (SELECT p0.member_key FROM member_events p0 WHERE ${aliased(filters[0] as string[], 'p0')}${inner})`;
}

function compileProposed(q: MemberQuery, b: Builder): void {
  const before = b.where.length;
  let needsCare = false;
  const r = q.riskStratificationFilter;
  if (r) {
    const path = `${ROOT}.risk_stratification_filter`;
    const health = num(r.minHealthRiskScore, `${path}.min_health_risk_score`, 0, 1);
    const churn = num(r.minChurnRiskScore, `${path}.min_churn_risk_score`, 0, 1);
    const conditions = int(r.minChronicConditions, `${path}.min_chronic_conditions`, 0, 1000);
    const er = int(r.minAnnualErVisits, `${path}.min_annual_er_visits`, 0, 100000);
    const cost = num(r.minPredictedCost, `${path}.min_predicted_cost`, 0, 1e12);
    if (health !== undefined) b.where.push(`mh.health_risk_score >= ${b.p(health, 'float8')}`);
    if (churn !== undefined) b.where.push(`mh.churn_risk_score >= ${b.p(churn, 'float8')}`);
    if (conditions !== undefined) {
      b.where.push(`cardinality(mc.chronic_conditions) >= ${b.p(conditions, 'int')}`);
      needsCare = true;
    }
    if (er !== undefined) b.where.push(`mh.annual_er_visits >= ${b.p(er, 'int')}`);
    if (cost !== undefined) b.where.push(`mh.predicted_annual_cost >= ${b.p(cost, 'float8')}`);
  }
  const bio = q.biometricFilter;
  if (bio) {
    const path = `${ROOT}.biometric_filter`;
    b.flag(bio.hasWearableConnected, '(cardinality(mh.wearable_device_types) > 0)');
    if (bio.deviceTypes.length > 0) b.where.push(`mh.wearable_device_types && ${b.p(strings(bio.deviceTypes, `${path}.device_types`), 'text[]')}`);
    const after = ts(bio.biometricDataAfter, `${path}.biometric_data_after`);
    if (after !== undefined) b.where.push(`mh.last_biometric_data_at > ${b.ts(after)}`);
    b.flag(bio.hasStepData, 'mh.has_step_data');
    b.flag(bio.hasHeartRateData, 'mh.has_heart_rate_data');
    b.flag(bio.hasSleepData, 'mh.has_sleep_data');
  }
  const s = q.sdohFilter;
  if (s) {
    b.flag(s.hasTransportationBarrier, 'mh.has_transportation_barrier');
    b.flag(s.hasFoodInsecurity, 'mh.has_food_insecurity');
    b.flag(s.hasHousingInstability, 'mh.has_housing_instability');
    b.flag(s.requiresDigitalAssistance, 'mh.requires_digital_assistance');
    b.flag(s.hasSdohScreening, 'mh.sdoh_screening_completed');
  }
  const pn = q.providerNetworkFilter;
  if (pn) {
    const path = `${ROOT}.provider_network_filter`;
    b.flag(pn.hasPcpAttributed, 'mh.pcp_attributed');
    if (pn.networkIds.length > 0) b.where.push(`mh.provider_network_id = ANY(${b.p(strings(pn.networkIds, `${path}.network_ids`), 'text[]')})`);
    const seen = ts(pn.seenProviderAfter, `${path}.seen_provider_after`);
    if (seen !== undefined) b.where.push(`mh.last_provider_seen_at > ${b.ts(seen)}`);
    if (pn.providerTypes.length > 0) b.where.push(`mh.provider_types_seen && ${b.p(strings(pn.providerTypes, `${path}.provider_types`), 'text[]')}`);
  }
  if (b.where.length > before) b.joins.add('mh');
  if (needsCare) b.joins.add('mc');

  const t = q.temporalEventFilter;
  if (!t) return;
  const path = `${ROOT}.temporal_event_filter`;
  const today = utcDateString(b.now);
  if (t.hasRecentLifeEvent !== undefined || t.lifeEventTypes.length > 0) {
    const conds = [`le.member_key = m.member_key`, `le.occurred_at >= ${b.ts(b.now - RECENT_LIFE_EVENT_MS)}`, `le.occurred_at <= ${b.ts(b.now)}`];
    if (t.lifeEventTypes.length > 0) conds.push(`le.life_event_type = ANY(${b.p(strings(t.lifeEventTypes, `${path}.life_event_types`), 'text[]')})`);
    b.flag(t.hasRecentLifeEvent ?? true, `EXISTS (SELECT 1 FROM member_life_events le WHERE ${conds.join(' AND ')})`);
  }
  if (t.inOpenEnrollmentPeriod !== undefined) {
    const d = b.p(today, 'date');
    b.flag(t.inOpenEnrollmentPeriod, `EXISTS (SELECT 1 FROM insurance_plans oe WHERE oe.plan_id = m.primary_plan_id AND oe.open_enrollment_start <= ${d} AND oe.open_enrollment_end > ${d})`);
  }
  if (t.coverageExpiringWithinDays !== undefined || t.daysUntilExpiration !== 0) {
    const days = int(t.daysUntilExpiration, `${path}.days_until_expiration`, 0, 3660) as number;
    if (days === 0) throw new FieldError(`${path}.days_until_expiration`, 'must be positive when coverage_expiring_within_days is set');
    b.flag(
      t.coverageExpiringWithinDays ?? true,
      `EXISTS (SELECT 1 FROM coverages cx WHERE cx.member_key = m.member_key AND cx.status = 'ACTIVE' AND cx.ends_on >= ${b.p(today, 'date')} AND cx.ends_on <= ${b.p(utcDateString(b.now + days * DAY_MS), 'date')})`,
    );
  }
  if (t.enrollmentAnniversaryWithinDays !== undefined || t.daysUntilEnrollmentAnniversary !== undefined) {
    const days = int(t.daysUntilEnrollmentAnniversary, `${path}.days_until_enrollment_anniversary`, 0, 366);
    if (days === undefined) throw new FieldError(`${path}.days_until_enrollment_anniversary`, 'is required when enrollment_anniversary_within_days is set');
    const year = new Date(b.now).getUTCFullYear();
    const created = "(m.created_at AT TIME ZONE 'UTC')::date";
    b.flag(
      t.enrollmentAnniversaryWithinDays ?? true,
      `EXISTS (SELECT 1 FROM (VALUES (0), (1)) k(n)
      WHERE ${b.p(year, 'int')} + k.n > extract(year FROM ${created})
        AND (${created} + make_interval(years => ${b.p(year, 'int')} + k.n - extract(year FROM ${created})::int))::date
            BETWEEN ${b.p(today, 'date')} AND ${b.p(utcDateString(b.now + days * DAY_MS), 'date')})`,
    );
  }
}

