import type { SqlCast, SqlParams } from '../query/params';
import type { Literal, PredicateExpr } from './ast';
import { PREDICATE_ATTRIBUTES, type AttributeName } from './attributes';

/** Fixed SQL for each whitelisted attribute over `members m` (never built from input). */
const ATTRIBUTE_SQL: Record<Exclude<AttributeName, 'AGE'>, string | PlanColumn> = {
  STATE: 'm.state',
  CITY: 'm.city',
  ZIP: 'm.zip_code',
  SEX: 'm.biological_sex',
  GENDER: 'm.gender',
  GENDER_IDENTITY: 'm.gender_identity',
  LANGUAGE: 'm.preferred_spoken_language',
  WRITTEN_LANGUAGE: 'm.preferred_written_language',
  RACE_ETHNICITY: 'm.race_ethnicity',
  SPONSOR: 'm.sponsor_id',
  ACCOUNT_STATUS: 'm.account_status',
  MEMBER_ROLE: 'm.member_role',
  RELATIONSHIP: "COALESCE(m.relationship, 'SELF')",
  IS_VIP: 'm.is_vip',
  IS_DO_NOT_CONTACT: 'm.is_do_not_contact',
  IS_LGBTQ_PLUS: 'm.is_lgbtq_plus',
  IS_MOCK: 'm.is_mock',
  RTE_ENABLED: 'm.rte_enabled',
  // The predictor's latest probability; 0 for a member never predicted (two-valued, like the other attributes).
  APP_USAGE_PROBABILITY: 'COALESCE((SELECT mpp.app_usage_probability FROM member_predictions mpp WHERE mpp.member_id = m.member_id), 0)',
  FAMILY_SIZE: '(SELECT f.family_size FROM families f WHERE f.family_id = m.family_id)',
  CHRONIC_CONDITION_COUNT: '(SELECT cardinality(mc.chronic_conditions) FROM member_care mc WHERE mc.member_key = m.member_key)',
  IS_HIGH_UTILIZER: '(SELECT mc.is_high_utilizer FROM member_care mc WHERE mc.member_key = m.member_key)',
  PLAN_TYPE: plan('pp.plan_type'),
  PAYER: plan('pp.payer_name'),
  PAYER_ID: plan('pp.payer_id'),
  NETWORK_TYPE: plan('pp.network_type'),
  METAL_TIER: plan("COALESCE(pp.metal_tier, 'NONE')"),
  IS_SELF_FUNDED: plan('pp.is_self_funded'),
  IS_MARKETPLACE_PLAN: plan('pp.is_marketplace_plan'),
  HAS_HSA: plan('pp.has_hsa'),
  HAS_HRA: plan('pp.has_hra'),
  HAS_FSA: plan('pp.has_fsa'),
  HAS_MENTAL_HEALTH_COVERAGE: plan('pp.has_mental_health_coverage'),
  HAS_PRESCRIPTION_COVERAGE: plan('pp.has_prescription_coverage'),
  HAS_DENTAL_COVERAGE: plan('pp.has_dental_coverage'),
  HAS_VISION_COVERAGE: plan('pp.has_vision_coverage'),
  HAS_TELEHEALTH_COVERAGE: plan('pp.has_telehealth_coverage'),
  INDIVIDUAL_DEDUCTIBLE: plan('pp.individual_deductible'),
  FAMILY_DEDUCTIBLE: plan('pp.family_deductible'),
  INDIVIDUAL_OOP_MAX: plan('pp.individual_oop_max'),
};

/**
 * A column of the member's primary plan, written over alias `pp`. Compiled either through the query's plan join
 * (PredicateSqlContext.plan, the MemberQuery compiler's case) or, standalone, as a scalar subquery.
 */
function plan(column: string): PlanColumn {
  return { planColumn: column };
}

interface PlanColumn {
  planColumn: string;
}

/**
 * Alias of `LEFT JOIN insurance_plans <alias> ON <alias>.plan_id = m.primary_plan_id` in the enclosing query.
 * A scalar subquery per member costs a plan lookup per member (1.2 s to count 100,000 members); the join lets
 * PostgreSQL hash the few hundred plans once, or start from the plans the predicate selects. Same values: the
 * join is on the plan's primary key and leaves NULLs for a member without a plan row, as the subquery did.
 */
export const PLAN_JOIN_ALIAS = 'mpl';

const CAST: Record<Literal['type'], SqlCast> = { number: 'float8', string: 'text', boolean: 'boolean' };
const ARRAY_CAST: Record<Literal['type'], SqlCast> = { number: 'float8', string: 'text[]', boolean: 'boolean' };

export interface PredicateSqlContext {
  params: SqlParams;
  /** Evaluation date as the integer YYYYMMDD (UTC), for AGE. */
  evaluatedAtYmd: number;
  /**
   * Called when the expression reads a primary-plan attribute; plan columns then compile over PLAN_JOIN_ALIAS
   * and the caller must add that join. Without it they compile to a scalar subquery per member.
   */
  usePlanJoin?: () => void;
}

/**
 * AST → SQL boolean expression. Identifiers come only from ATTRIBUTE_SQL, literals only as parameters,
 * operators only from the closed ComparisonOp set.
 */
export function compilePredicate(expr: PredicateExpr, ctx: PredicateSqlContext): string {
  const attr = (name: AttributeName): string => {
    if (name === 'AGE') {
      // Whole years: (YYYYMMDD(now) - YYYYMMDD(dob)) / 10000 with integer division.
      return `((${ctx.params.add(ctx.evaluatedAtYmd, 'int')} - to_char(m.date_of_birth, 'YYYYMMDD')::int) / 10000)`;
    }
    const sql = ATTRIBUTE_SQL[name];
    if (typeof sql === 'string') return sql;
    if (ctx.usePlanJoin) {
      ctx.usePlanJoin();
      return sql.planColumn.replace(/\bpp\./g, `${PLAN_JOIN_ALIAS}.`);
    }
    return `(SELECT ${sql.planColumn} FROM insurance_plans pp WHERE pp.plan_id = m.primary_plan_id)`;
  };
  const go = (e: PredicateExpr): string => {
    switch (e.kind) {
      case 'and':
        return `(${go(e.left)} AND ${go(e.right)})`;
      case 'or':
        return `(${go(e.left)} OR ${go(e.right)})`;
      case 'not':
        return `(NOT ${go(e.operand)})`;
      case 'literal':
        return e.value ? 'TRUE' : 'FALSE';
      case 'attribute':
        return `(${attr(e.attribute)} = TRUE)`;
      case 'compare': {
        const op = e.op === '!=' ? '<>' : e.op;
        return `(${attr(e.attribute)} ${op} ${ctx.params.add(e.value.value, CAST[e.value.type])})`;
      }
      case 'in': {
        const type = PREDICATE_ATTRIBUTES[e.attribute].type;
        let test: string;
        if (type === 'string') {
          test = `${attr(e.attribute)} = ANY(${ctx.params.add(e.values.map((v) => v.value), ARRAY_CAST.string)})`;
        } else {
          test = e.values.map((v) => `${attr(e.attribute)} = ${ctx.params.add(v.value, CAST[v.type])}`).join(' OR ');
        }
        return e.negated ? `(NOT (${test}))` : `(${test})`;
      }
    }
  };
  return go(expr);
}

/** Attributes referenced by an expression (used to decide which tables a predicate touches). */
export function referencedAttributes(expr: PredicateExpr, into: Set<AttributeName> = new Set()): Set<AttributeName> {
  switch (expr.kind) {
    case 'and':
    case 'or':
      referencedAttributes(expr.left, into);
      referencedAttributes(expr.right, into);
      break;
    case 'not':
      referencedAttributes(expr.operand, into);
      break;
    case 'compare':
    case 'in':
    case 'attribute':
      into.add(expr.attribute);
      break;
    case 'literal':
      break;
  }
  return into;
}
