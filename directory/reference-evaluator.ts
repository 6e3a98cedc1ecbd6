/**
 * An independent in-memory implementation of MemberQuery semantics (docs/member-query-semantics.md),
 * used as the oracle in differential tests of the SQL compiler. Deliberately written as plain loops over
 * rows, sharing only documented constants (age groups, event-flag types, windows) with the compiler.
 */
import type { Pool } from 'pg';
import { durationMs, timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { AccountStatus, SortOrder_Direction, SortOrder_Field } from '../gen/rte/v1/common_pb';
import {
  CareJourneyFilter_ProgramType,
  CoverageFilter_CoverageStatus,
  CoverageFilter_CoverageType,
  DemographicsFilter_AgeGroup,
  EngagementFilter_EngagementCohort,
  FamilyRelationshipFilter_MemberRole,
  FamilyRelationshipFilter_Relationship,
  FeatureOptionFilter_FeatureOptionType as OptType,
  FeatureOptionFilter_Operator as Op,
  InsurancePlanFilter_MetalTier,
  InsurancePlanFilter_NetworkType,
  InsurancePlanFilter_PlanType,
  RecentEventFilter_EventCategory,
  type MemberQuery,
} from '../gen/rte/v1/member_query_pb';
import { EVENT_TYPES } from './catalog';
import type { Literal, PredicateExpr } from './predicate/ast';
import { parsePredicate } from './predicate/parser';
import {
  AGE_GROUPS,
  APP_SESSION_TYPE_ID,
  DAY_MS,
  DEFAULT_TREND_WINDOW_MS,
  EVENT_FLAG_NAMES,
  EVENT_FLAG_TYPES,
  FEATURE_USED_TYPE_ID,
  HOUR_MS,
  RECENT_CLAIMS_LOOKBACK_MS,
  RECENT_LIFE_EVENT_MS,
  REGULAR_PATTERN_MIN_DAYS,
  REGULAR_PATTERN_WEEKS,
  SESSION_ACTIVE_MS,
  ageOn,
} from './query/semantics';

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface ReferenceData {
  members: J[];
  byKey: Map<number, J>;
  coverages: Map<number, J[]>;
  plans: Map<string, J>;
  contracts: J[];
  options: Map<string, Map<string, J>>;
  families: Map<string, J>;
  familyMembers: Map<string, string[]>;
  engagement: Map<number, J>;
  care: Map<number, J>;
  health: Map<number, J>;
  lifeEvents: Map<number, J[]>;
  events: Map<number, { t: number; type: number; feature: string | null }[]>;
  predicates: Map<string, string>;
}

async function rows(pool: Pool, table: string): Promise<J[]> {
  const r = await pool.query<{ j: J }>(`SELECT to_jsonb(t) AS j FROM ${table} t`);
  return r.rows.map((x) => x.j);
}

function group<K>(items: J[], key: (x: J) => K): Map<K, J[]> {
  const m = new Map<K, J[]>();
  for (const x of items) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** Loads every directory row into memory (for test-sized populations). */
export async function loadReferenceData(pool: Pool): Promise<ReferenceData> {
  const members = await rows(pool, 'members');
  // The probability MemberQuery reads is the predictor's (member_predictions), null for a member never predicted.
  const predictions = new Map((await rows(pool, 'member_predictions')).map((x) => [x['member_id'] as string, x['app_usage_probability'] as number]));
  for (const m of members) m['app_usage_probability'] = predictions.get(m['member_id']) ?? null;
  const events = new Map<number, { t: number; type: number; feature: string | null }[]>();
  for (const e of await rows(pool, 'member_events')) {
    const list = events.get(e['member_key']) ?? [];
    list.push({ t: Date.parse(e['occurred_at']), type: e['event_type_id'], feature: e['feature_name'] });
    events.set(e['member_key'], list);
  }
  const options = new Map<string, Map<string, J>>();
  for (const o of await rows(pool, 'sponsor_feature_options')) {
    const m = options.get(o['sponsor_id']) ?? new Map<string, J>();
    m.set(o['name'], o);
    options.set(o['sponsor_id'], m);
  }
  const familyMembers = new Map<string, string[]>();
  for (const m of members) familyMembers.set(m['family_id'], [...(familyMembers.get(m['family_id']) ?? []), m['member_id']]);
  return {
    members,
    byKey: new Map(members.map((m) => [m['member_key'], m])),
    coverages: group(await rows(pool, 'coverages'), (c) => c['member_key'] as number),
    plans: new Map((await rows(pool, 'insurance_plans')).map((p) => [p['plan_id'], p])),
    contracts: await rows(pool, 'benefit_contracts'),
    options,
    families: new Map((await rows(pool, 'families')).map((f) => [f['family_id'], f])),
    familyMembers,
    engagement: new Map((await rows(pool, 'member_engagement')).map((x) => [x['member_key'], x])),
    care: new Map((await rows(pool, 'member_care')).map((x) => [x['member_key'], x])),
    health: new Map((await rows(pool, 'member_health')).map((x) => [x['member_key'], x])),
    lifeEvents: group(await rows(pool, 'member_life_events'), (x) => x['member_key'] as number),
    events,
    predicates: new Map((await rows(pool, 'benefit_predicates')).map((p) => [p['predicate_id'], p['expression']])),
  };
}

const t = (s: string | null | undefined): number | null => (s ? Date.parse(s) : null);
const tsv = (x: Timestamp | undefined): number | undefined => (x ? timestampMs(x) : undefined);
const dateMs = (d: string): number => Date.parse(`${d}T00:00:00Z`);
const f32 = (x: number): number => (Number.isInteger(x) ? x : Number(x.toPrecision(7)));
const any = (have: readonly string[], want: readonly string[]): boolean => want.some((w) => have.includes(w));
const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function addYearsClamped(date: string, years: number): string {
  const y = Number(date.slice(0, 4)) + years;
  const mo = Number(date.slice(5, 7));
  let d = Number(date.slice(8, 10));
  while (new Date(Date.UTC(y, mo - 1, d)).getUTCMonth() !== mo - 1) d--;
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

export interface ReferenceOptions {
  now: Date;
  /** Same resolved flags the directory used (flag → sponsor ids). */
  flagSponsors?: ReadonlyMap<string, readonly string[]>;
}

/** All matching member ids in the query's sort order (limit and cursor are ignored). */
export function evaluateReference(data: ReferenceData, q: MemberQuery, opts: ReferenceOptions): string[] {
  const now = opts.now.getTime();
  const matches = data.members.filter((m) => matchMember(data, q, m, now, opts));
  const field = q.sortOrder?.field ?? SortOrder_Field.FIELD_UNSPECIFIED;
  const desc = q.sortOrder?.direction === SortOrder_Direction.DESCENDING;
  const key = (m: J): number | string => {
    switch (field) {
      case SortOrder_Field.LAST_ACTIVE:
        return t(m['last_active_at']) ?? 0;
      case SortOrder_Field.CREATED_AT:
        return Date.parse(m['created_at']);
      case SortOrder_Field.DATE_OF_BIRTH:
        return m['date_of_birth'];
      case SortOrder_Field.APP_USAGE_PROBABILITY:
        return m['app_usage_probability'] ?? -1;
      case SortOrder_Field.FAMILY_NAME:
        return m['last_name'];
      default:
        return '';
    }
  };
  const cmp = (a: J, b: J): number => {
    const ka = key(a);
    const kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : a['member_id'] < b['member_id'] ? -1 : a['member_id'] > b['member_id'] ? 1 : 0;
    return desc ? -c : c;
  };
  return matches.sort(cmp).map((m) => m['member_id']);
}

function accessible(data: ReferenceData, m: J, bc: J): boolean {
  if (bc['sponsor_id'] !== m['sponsor_id']) return false;
  if (bc['population_id'] !== null && !m['population_ids'].includes(bc['population_id'])) return false;
  if (bc['insurance_plan_id'] !== null) {
    return (data.coverages.get(m['member_key']) ?? []).some((c) => c['plan_id'] === bc['insurance_plan_id'] && c['status'] === 'ACTIVE');
  }
  return true;
}

function activeAt(bc: J, at: number): boolean {
  const ends = t(bc['ends_at']);
  return Date.parse(bc['starts_at']) <= at && (ends === null || ends > at);
}

function evalPredicate(e: PredicateExpr, data: ReferenceData, m: J, at: Date): boolean {
  const plan = data.plans.get(m['primary_plan_id']) as J;
  const care = data.care.get(m['member_key']) as J;
  const value = (name: string): number | string | boolean => {
    switch (name) {
      case 'AGE': return ageOn(m['date_of_birth'], at);
      case 'STATE': return m['state'];
      case 'CITY': return m['city'];
      case 'ZIP': return m['zip_code'];
      case 'SEX': return m['biological_sex'];
      case 'GENDER': return m['gender'];
      case 'GENDER_IDENTITY': return m['gender_identity'];
      case 'LANGUAGE': return m['preferred_spoken_language'];
      case 'WRITTEN_LANGUAGE': return m['preferred_written_language'];
      case 'RACE_ETHNICITY': return m['race_ethnicity'];
      case 'SPONSOR': return m['sponsor_id'];
      case 'ACCOUNT_STATUS': return m['account_status'];
      case 'MEMBER_ROLE': return m['member_role'];
      case 'RELATIONSHIP': return m['relationship'] ?? 'SELF';
      case 'IS_VIP': return m['is_vip'];
      case 'IS_DO_NOT_CONTACT': return m['is_do_not_contact'];
      case 'IS_LGBTQ_PLUS': return m['is_lgbtq_plus'];
      case 'IS_MOCK': return m['is_mock'];
      case 'RTE_ENABLED': return m['rte_enabled'];
      case 'APP_USAGE_PROBABILITY': return m['app_usage_probability'] ?? 0;
      case 'FAMILY_SIZE': return data.families.get(m['family_id'])?.['family_size'];
      case 'CHRONIC_CONDITION_COUNT': return care['chronic_conditions'].length;
      case 'IS_HIGH_UTILIZER': return care['is_high_utilizer'];
      case 'PLAN_TYPE': return plan['plan_type'];
      case 'PAYER': return plan['payer_name'];
      case 'PAYER_ID': return plan['payer_id'];
      case 'NETWORK_TYPE': return plan['network_type'];
      case 'METAL_TIER': return plan['metal_tier'] ?? 'NONE';
      case 'IS_SELF_FUNDED': return plan['is_self_funded'];
      case 'IS_MARKETPLACE_PLAN': return plan['is_marketplace_plan'];
      case 'HAS_HSA': return plan['has_hsa'];
      case 'HAS_HRA': return plan['has_hra'];
      case 'HAS_FSA': return plan['has_fsa'];
      case 'HAS_MENTAL_HEALTH_COVERAGE': return plan['has_mental_health_coverage'];
      case 'HAS_PRESCRIPTION_COVERAGE': return plan['has_prescription_coverage'];
      case 'HAS_DENTAL_COVERAGE': return plan['has_dental_coverage'];
      case 'HAS_VISION_COVERAGE': return plan['has_vision_coverage'];
      case 'HAS_TELEHEALTH_COVERAGE': return plan['has_telehealth_coverage'];
      case 'INDIVIDUAL_DEDUCTIBLE': return plan['individual_deductible'];
      case 'FAMILY_DEDUCTIBLE': return plan['family_deductible'];
      case 'INDIVIDUAL_OOP_MAX': return plan['individual_oop_max'];
      default: throw new Error(`reference: unknown attribute ${name}`);
    }
  };
  const lit = (l: Literal): number | string | boolean => l.value;
  switch (e.kind) {
    case 'and': return evalPredicate(e.left, data, m, at) && evalPredicate(e.right, data, m, at);
    case 'or': return evalPredicate(e.left, data, m, at) || evalPredicate(e.right, data, m, at);
    case 'not': return !evalPredicate(e.operand, data, m, at);
    case 'literal': return e.value;
    case 'attribute': return value(e.attribute) === true;
    case 'in': {
      const v = value(e.attribute);
      const found = e.values.some((x) => lit(x) === v);
      return e.negated ? !found : found;
    }
    case 'compare': {
      const a = value(e.attribute);
      const b = lit(e.value);
      switch (e.op) {
        case '=': return a === b;
        case '!=': return a !== b;
        case '<': return a < b;
        case '<=': return a <= b;
        case '>': return a > b;
        case '>=': return a >= b;
      }
    }
  }
}

function jsonContains(a: unknown, b: unknown, top = true): boolean {
  if (Array.isArray(a)) {
    if (Array.isArray(b)) return b.every((x) => a.some((y) => jsonContains(y, x, false)));
    if (top && (b === null || typeof b !== 'object')) return a.some((y) => jsonEqual(y, b));
    return false;
  }
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
    return Object.entries(b as J).every(([k, v]) => k in (a as J) && jsonContains((a as J)[k], v, false));
  }
  return jsonEqual(a, b);
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a as J).sort();
    const kb = Object.keys(b as J).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && jsonEqual((a as J)[k], (b as J)[k]));
  }
  return a === b;
}

function matchMember(data: ReferenceData, q: MemberQuery, m: J, now: number, opts: ReferenceOptions): boolean {
  const key = m['member_key'] as number;
  const eng = data.engagement.get(key) as J;
  const care = data.care.get(key) as J;
  const health = data.health.get(key) as J;
  const covs = data.coverages.get(key) ?? [];
  const nowDate = new Date(now);
  const age = ageOn(m['date_of_birth'], nowDate);

  // Top level.
  if (q.sponsorIds.length && !q.sponsorIds.includes(m['sponsor_id'])) return false;
  if (q.populationIds.length && !any(m['population_ids'], q.populationIds)) return false;
  for (const flag of Object.keys(q.requiredFeatureFlags)) if (!(opts.flagSponsors?.get(flag) ?? []).includes(m['sponsor_id'])) return false;
  if (q.hasRteEnabled && !m['rte_enabled']) return false;
  const lastCheck = t(m['last_eligibility_check_at']);
  const ca = tsv(q.eligibilityCheckedAfter);
  if (ca !== undefined && !(lastCheck !== null && lastCheck > ca)) return false;
  const cb = tsv(q.eligibilityCheckedBefore);
  if (cb !== undefined && !(lastCheck === null || lastCheck < cb)) return false;
  const lastActive = t(m['last_active_at']);
  const aa = tsv(q.lastActiveAfter);
  if (aa !== undefined && !(lastActive !== null && lastActive > aa)) return false;
  const ab = tsv(q.lastActiveBefore);
  if (ab !== undefined && !(lastActive === null || lastActive < ab)) return false;
  if (q.minAppUsageProbability !== 0 && (m['app_usage_probability'] === null || !(m['app_usage_probability'] >= f32(q.minAppUsageProbability)))) return false;
  if (q.accountStatuses.length && !q.accountStatuses.map((s) => AccountStatus[s]).includes(m['account_status'])) return false;
  if (q.excludeMockAccounts && m['is_mock']) return false;

  // Benefit contracts.
  const bcf = q.benefitContractFilter;
  if (bcf && (bcf.healthcareServiceIds.length || bcf.insurancePlanIds.length || bcf.activeAt || bcf.includeFutureContracts || bcf.isTopBenefit !== undefined)) {
    const at = tsv(bcf.activeAt) ?? now;
    const ok = data.contracts.some((bc) => {
      if (!accessible(data, m, bc)) return false;
      const ends = t(bc['ends_at']);
      if (bcf.includeFutureContracts ? !(ends === null || ends > at) : !activeAt(bc, at)) return false;
      if (bcf.healthcareServiceIds.length && !any(bc['healthcare_service_ids'], bcf.healthcareServiceIds)) return false;
      if (bcf.insurancePlanIds.length && !bcf.insurancePlanIds.includes(bc['insurance_plan_id'])) return false;
      if (bcf.isTopBenefit !== undefined && bc['is_top_benefit'] !== bcf.isTopBenefit) return false;
      return true;
    });
    if (!ok) return false;
  }

  // Feature options.
  for (const o of q.featureOptions) {
    const opt = data.options.get(m['sponsor_id'])?.get(o.name);
    if (!opt) return false;
    const op = o.operator === Op.OPERATOR_UNSPECIFIED ? Op.EQUALS : o.operator;
    let ok: boolean;
    if (o.type === OptType.BOOLEAN) {
      ok = (String(opt['value']).toLowerCase() === o.value.toLowerCase()) === (op === Op.EQUALS);
    } else if (o.type === OptType.NUMBER) {
      const a = opt['value_number'];
      const b = Number(o.value);
      ok = a !== null && (op === Op.EQUALS ? a === b : op === Op.NOT_EQUALS ? a !== b : op === Op.GREATER_THAN ? a > b : a < b);
    } else if (o.type === OptType.JSON) {
      const a = opt['value_json'];
      const b = JSON.parse(o.value);
      ok = a !== null && (op === Op.EQUALS ? jsonEqual(a, b) : op === Op.NOT_EQUALS ? !jsonEqual(a, b) : jsonContains(a, b));
    } else {
      ok = op === Op.EQUALS ? opt['value'] === o.value : op === Op.NOT_EQUALS ? opt['value'] !== o.value : String(opt['value']).includes(o.value);
    }
    if (!ok) return false;
  }

  // Predicates.
  const pf = q.predicateFilter;
  if (pf) {
    const at = tsv(pf.evaluatedAt) ?? now;
    const atDate = new Date(at);
    if (pf.expression.trim() !== '' && !evalPredicate(parsePredicate(pf.expression), data, m, atDate)) return false;
    if (pf.benefitContractId !== undefined || pf.healthcareServiceId !== undefined) {
      const relevant = data.contracts.filter(
        (bc) =>
          accessible(data, m, bc) &&
          activeAt(bc, at) &&
          (pf.benefitContractId === undefined || bc['contract_id'] === pf.benefitContractId) &&
          (pf.healthcareServiceId === undefined || bc['healthcare_service_ids'].includes(pf.healthcareServiceId)),
      );
      const holds = (bc: J): boolean => {
        if (bc['predicate_id'] === null) return true;
        const expr = data.predicates.get(bc['predicate_id']);
        if (expr === undefined) return false;
        try {
          return evalPredicate(parsePredicate(expr), data, m, atDate);
        } catch {
          return false;
        }
      };
      if (pf.requireAllPredicates ? relevant.length === 0 || !relevant.every(holds) : !relevant.some(holds)) return false;
    }
  }

  // Coverage.
  const cf = q.coverageFilter;
  if (cf) {
    if (cf.hasDualCoverage !== undefined) {
      const dual = covs.some((c) => c['coverage_type'] === 'PRIMARY' && c['status'] === 'ACTIVE') && covs.some((c) => c['coverage_type'] === 'SECONDARY' && c['status'] === 'ACTIVE');
      if (dual !== cf.hasDualCoverage) return false;
    }
    const cat = tsv(cf.coverageActiveAt);
    const per = cf.coverageTypes.length || cf.payerNames.length || cf.isFileBasedEnrollment !== undefined || cf.coverageStatuses.length || cat !== undefined;
    if (per) {
      const ok = covs.some(
        (c) =>
          (!cf.coverageTypes.length || cf.coverageTypes.map((x) => CoverageFilter_CoverageType[x]).includes(c['coverage_type'])) &&
          (!cf.payerNames.length || cf.payerNames.includes(c['payer_name'])) &&
          (cf.isFileBasedEnrollment === undefined || c['is_file_based_enrollment'] === cf.isFileBasedEnrollment) &&
          (!cf.coverageStatuses.length || cf.coverageStatuses.map((x) => CoverageFilter_CoverageStatus[x]).includes(c['status'])) &&
          (cat === undefined || (dateMs(c['starts_on']) <= cat && (c['ends_on'] === null || dateMs(c['ends_on']) > cat))),
      );
      if (!ok) return false;
    }
  }

  // Insurance plan.
  const pl = q.insurancePlanFilter;
  if (pl) {
    const checks: ((c: J, p: J) => boolean)[] = [];
    if (pl.insurancePlanIds.length) checks.push((_c, p) => pl.insurancePlanIds.includes(p['plan_id']));
    if (pl.payerNames.length) checks.push((_c, p) => pl.payerNames.includes(p['payer_name']));
    if (pl.planTypes.length) checks.push((_c, p) => pl.planTypes.map((x) => InsurancePlanFilter_PlanType[x]).includes(p['plan_type']));
    if (pl.networkTypes.length) checks.push((_c, p) => pl.networkTypes.map((x) => InsurancePlanFilter_NetworkType[x]).includes(p['network_type']));
    const bools: [boolean | undefined, string][] = [
      [pl.isSelfFunded, 'is_self_funded'], [pl.hasHsa, 'has_hsa'], [pl.hasHra, 'has_hra'], [pl.hasFsa, 'has_fsa'],
      [pl.hasMentalHealthCoverage, 'has_mental_health_coverage'], [pl.hasPrescriptionCoverage, 'has_prescription_coverage'],
      [pl.hasDentalCoverage, 'has_dental_coverage'], [pl.hasVisionCoverage, 'has_vision_coverage'],
      [pl.hasTelehealthCoverage, 'has_telehealth_coverage'], [pl.isMarketplacePlan, 'is_marketplace_plan'], [pl.isSubsidized, 'is_subsidized'],
    ];
    for (const [v, col] of bools) if (v !== undefined) checks.push((_c, p) => p[col] === v);
    const nums: [number | undefined, string, 1 | -1][] = [
      [pl.minIndividualDeductible, 'individual_deductible', 1], [pl.maxIndividualDeductible, 'individual_deductible', -1],
      [pl.minFamilyDeductible, 'family_deductible', 1], [pl.maxFamilyDeductible, 'family_deductible', -1],
      [pl.minIndividualOopMax, 'individual_oop_max', 1], [pl.maxIndividualOopMax, 'individual_oop_max', -1],
    ];
    for (const [v, col, dir] of nums) if (v !== undefined) checks.push((_c, p) => (dir === 1 ? p[col] >= f32(v) : p[col] <= f32(v)));
    if (pl.groupNumbers.length) checks.push((_c, p) => pl.groupNumbers.includes(p['group_number']));
    if (pl.policyNumbers.length) checks.push((c) => pl.policyNumbers.includes(c['policy_number']));
    if (pl.employerIds.length) checks.push((_c, p) => p['employer_id'] !== null && pl.employerIds.includes(p['employer_id']));
    const ea = tsv(pl.planEffectiveAfter);
    if (ea !== undefined) checks.push((_c, p) => dateMs(p['effective_date']) > ea);
    const eb = tsv(pl.planEffectiveBefore);
    if (eb !== undefined) checks.push((_c, p) => dateMs(p['effective_date']) < eb);
    if (pl.daysUntilRenewal !== undefined) {
      const lo = utcDay(now);
      const hi = utcDay(now + pl.daysUntilRenewal * DAY_MS);
      const want = pl.renewingWithinDays !== false;
      checks.push((_c, p) => (p['renewal_date'] >= lo && p['renewal_date'] <= hi) === want);
    }
    if (pl.metalTiers.length) checks.push((_c, p) => p['metal_tier'] !== null && pl.metalTiers.map((x) => InsurancePlanFilter_MetalTier[x]).includes(p['metal_tier']));
    if (checks.length > 0) {
      const ok = covs.some((c) => {
        if (c['status'] !== 'ACTIVE') return false;
        const p = data.plans.get(c['plan_id']) as J;
        return checks.every((fn) => fn(c, p));
      });
      if (!ok) return false;
    }
  }

  // Family.
  const ff = q.familyFilter;
  if (ff) {
    const fam = data.families.get(m['family_id']) as J;
    if (ff.memberRoles.length && !ff.memberRoles.map((x) => FamilyRelationshipFilter_MemberRole[x]).includes(m['member_role'])) return false;
    if (ff.hasDependents !== undefined && (fam['subscriber_member_id'] === m['member_id'] && fam['family_size'] > 1) !== ff.hasDependents) return false;
    if (ff.isDependent !== undefined && (m['subscriber_member_id'] !== null) !== ff.isDependent) return false;
    if (ff.relationships.length && !(m['relationship'] !== null && ff.relationships.map((x) => FamilyRelationshipFilter_Relationship[x]).includes(m['relationship']))) return false;
    if (ff.minFamilySize !== undefined && !(fam['family_size'] >= ff.minFamilySize)) return false;
    if (ff.maxFamilySize !== undefined && !(fam['family_size'] <= ff.maxFamilySize)) return false;
    if (ff.hasFamilyMembersEnrolled !== undefined && ((data.familyMembers.get(m['family_id']) ?? []).length > 1) !== ff.hasFamilyMembersEnrolled) return false;
  }

  // Demographics.
  const df = q.demographicsFilter;
  if (df) {
    if (df.minAge !== undefined && age < df.minAge) return false;
    if (df.maxAge !== undefined && age > df.maxAge) return false;
    if (df.ageGroups.length) {
      const inGroup = df.ageGroups.some((g) => {
        const [lo, hi] = AGE_GROUPS[DemographicsFilter_AgeGroup[g]] as readonly [number, number | null];
        return age >= lo && (hi === null || age <= hi);
      });
      if (!inGroup) return false;
    }
    const lists: [readonly string[], string][] = [
      [df.biologicalSexes, 'biological_sex'], [df.genderIdentities, 'gender_identity'], [df.states, 'state'], [df.cities, 'city'],
      [df.preferredSpokenLanguages, 'preferred_spoken_language'], [df.preferredWrittenLanguages, 'preferred_written_language'], [df.raceEthnicities, 'race_ethnicity'],
    ];
    for (const [values, col] of lists) if (values.length && !values.includes(m[col])) return false;
    if (df.zipCodes.length && !df.zipCodes.some((z) => String(m['zip_code']).startsWith(z))) return false;
    if (df.isVip !== undefined && m['is_vip'] !== df.isVip) return false;
    if (df.isDoNotContact !== undefined && m['is_do_not_contact'] !== df.isDoNotContact) return false;
    if (df.isLgbtqPlus !== undefined && m['is_lgbtq_plus'] !== df.isLgbtqPlus) return false;
  }

  // Engagement.
  const ef = q.engagementFilter;
  if (ef) {
    if (ef.cohorts.length && !any(eng['cohorts'], ef.cohorts.map((c) => EngagementFilter_EngagementCohort[c]))) return false;
    const login = t(eng['last_login_at']);
    const la = tsv(ef.loggedInAfter);
    if (la !== undefined && !(login !== null && login > la)) return false;
    const lb = tsv(ef.loggedInBefore);
    if (lb !== undefined && !(login === null || login < lb)) return false;
    if (ef.hasCompletedOnboarding !== undefined && eng['onboarding_completed'] !== ef.hasCompletedOnboarding) return false;
    if (ef.usedFeatures.length && !any(eng['used_features'], ef.usedFeatures)) return false;
    const next = t(eng['next_appointment_at']);
    if (ef.hasUpcomingAppointments !== undefined && (next !== null && next > now) !== ef.hasUpcomingAppointments) return false;
    if (ef.upcomingAppointmentWithinHours !== undefined && !(next !== null && next > now && next <= now + ef.upcomingAppointmentWithinHours * HOUR_MS)) return false;
    if (ef.hasUnreadMessages !== undefined && eng['unread_message_count'] > 0 !== ef.hasUnreadMessages) return false;
    if (ef.hasSentMessages !== undefined && eng['sent_message_count'] > 0 !== ef.hasSentMessages) return false;
    if (ef.pushNotificationsEnabled !== undefined && eng['push_notifications_enabled'] !== ef.pushNotificationsEnabled) return false;
    if (ef.emailNotificationsEnabled !== undefined && eng['email_notifications_enabled'] !== ef.emailNotificationsEnabled) return false;
  }

  // Care journey.
  const cj = q.careJourneyFilter;
  if (cj) {
    const programs = cj.enrolledPrograms.map((p) => CareJourneyFilter_ProgramType[p]);
    if (programs.length && !any(care['enrolled_programs'], programs)) return false;
    const notPrograms = cj.notEnrolledPrograms.map((p) => CareJourneyFilter_ProgramType[p]);
    if (notPrograms.length && any(care['enrolled_programs'], notPrograms)) return false;
    if (cj.hasActiveServiceDeliveries !== undefined && care['active_service_delivery_types'].length > 0 !== cj.hasActiveServiceDeliveries) return false;
    if (cj.serviceDeliveryTypes.length && !any(care['active_service_delivery_types'], cj.serviceDeliveryTypes)) return false;
    if (cj.hasOpenCareGaps !== undefined && care['open_care_gap_types'].length > 0 !== cj.hasOpenCareGaps) return false;
    if (cj.careGapTypes.length && !any(care['open_care_gap_types'], cj.careGapTypes)) return false;
    if (cj.hasActivePrescriptions !== undefined && care['active_prescription_count'] > 0 !== cj.hasActivePrescriptions) return false;
    if (cj.chronicConditions.length && !any(care['chronic_conditions'], cj.chronicConditions)) return false;
    const claimsAfter = tsv(cj.claimsAfter);
    if (cj.hasRecentClaims !== undefined || claimsAfter !== undefined) {
      const since = claimsAfter ?? now - RECENT_CLAIMS_LOOKBACK_MS;
      const last = t(care['last_claim_at']);
      if ((last !== null && last > since) !== (cj.hasRecentClaims ?? true)) return false;
    }
    if (cj.isHighUtilizer !== undefined && care['is_high_utilizer'] !== cj.isHighUtilizer) return false;
  }

  // Recent events.
  const rf = q.recentEventFilter;
  if (rf && !matchEvents(rf, data.events.get(key) ?? [], now)) return false;

  // Proposed selectors.
  const rs = q.riskStratificationFilter;
  if (rs) {
    if (rs.minHealthRiskScore !== undefined && !(health['health_risk_score'] >= f32(rs.minHealthRiskScore))) return false;
    if (rs.minChurnRiskScore !== undefined && !(health['churn_risk_score'] >= f32(rs.minChurnRiskScore))) return false;
    if (rs.minChronicConditions !== undefined && !(care['chronic_conditions'].length >= rs.minChronicConditions)) return false;
    if (rs.minAnnualErVisits !== undefined && !(health['annual_er_visits'] >= rs.minAnnualErVisits)) return false;
    if (rs.minPredictedCost !== undefined && !(health['predicted_annual_cost'] >= f32(rs.minPredictedCost))) return false;
  }
  const bio = q.biometricFilter;
  if (bio) {
    if (bio.hasWearableConnected !== undefined && health['wearable_device_types'].length > 0 !== bio.hasWearableConnected) return false;
    if (bio.deviceTypes.length && !any(health['wearable_device_types'], bio.deviceTypes)) return false;
    const ba = tsv(bio.biometricDataAfter);
    const last = t(health['last_biometric_data_at']);
    if (ba !== undefined && !(last !== null && last > ba)) return false;
    if (bio.hasStepData !== undefined && health['has_step_data'] !== bio.hasStepData) return false;
    if (bio.hasHeartRateData !== undefined && health['has_heart_rate_data'] !== bio.hasHeartRateData) return false;
    if (bio.hasSleepData !== undefined && health['has_sleep_data'] !== bio.hasSleepData) return false;
  }
  const sd = q.sdohFilter;
  if (sd) {
    const pairs: [boolean | undefined, string][] = [
      [sd.hasTransportationBarrier, 'has_transportation_barrier'], [sd.hasFoodInsecurity, 'has_food_insecurity'],
      [sd.hasHousingInstability, 'has_housing_instability'], [sd.requiresDigitalAssistance, 'requires_digital_assistance'],
      [sd.hasSdohScreening, 'sdoh_screening_completed'],
    ];
    for (const [v, col] of pairs) if (v !== undefined && health[col] !== v) return false;
  }
  const pn = q.providerNetworkFilter;
  if (pn) {
    if (pn.hasPcpAttributed !== undefined && health['pcp_attributed'] !== pn.hasPcpAttributed) return false;
    if (pn.networkIds.length && !pn.networkIds.includes(health['provider_network_id'])) return false;
    const seen = tsv(pn.seenProviderAfter);
    const last = t(health['last_provider_seen_at']);
    if (seen !== undefined && !(last !== null && last > seen)) return false;
    if (pn.providerTypes.length && !any(health['provider_types_seen'], pn.providerTypes)) return false;
  }
  const te = q.temporalEventFilter;
  if (te) {
    const today = utcDay(now);
    if (te.hasRecentLifeEvent !== undefined || te.lifeEventTypes.length) {
      const had = (data.lifeEvents.get(key) ?? []).some((le) => {
        const at = Date.parse(le['occurred_at']);
        return at >= now - RECENT_LIFE_EVENT_MS && at <= now && (!te.lifeEventTypes.length || te.lifeEventTypes.includes(le['life_event_type']));
      });
      if (had !== (te.hasRecentLifeEvent ?? true)) return false;
    }
    if (te.inOpenEnrollmentPeriod !== undefined) {
      const p = data.plans.get(m['primary_plan_id']) as J;
      if ((p['open_enrollment_start'] <= today && p['open_enrollment_end'] > today) !== te.inOpenEnrollmentPeriod) return false;
    }
    if (te.coverageExpiringWithinDays !== undefined || te.daysUntilExpiration !== 0) {
      const hi = utcDay(now + te.daysUntilExpiration * DAY_MS);
      const expiring = covs.some((c) => c['status'] === 'ACTIVE' && c['ends_on'] !== null && c['ends_on'] >= today && c['ends_on'] <= hi);
      if (expiring !== (te.coverageExpiringWithinDays ?? true)) return false;
    }
    if (te.enrollmentAnniversaryWithinDays !== undefined || te.daysUntilEnrollmentAnniversary !== undefined) {
      const created = utcDay(Date.parse(m['created_at']));
      const year = nowDate.getUTCFullYear();
      const hi = utcDay(now + (te.daysUntilEnrollmentAnniversary ?? 0) * DAY_MS);
      const soon = [0, 1].some((k) => {
        const years = year + k - Number(created.slice(0, 4));
        if (years <= 0) return false;
        const ann = addYearsClamped(created, years);
        return ann >= today && ann <= hi;
      });
      if (soon !== (te.enrollmentAnniversaryWithinDays ?? true)) return false;
    }
  }
  return true;
}

function matchEvents(f: NonNullable<MemberQuery['recentEventFilter']>, events: { t: number; type: number; feature: string | null }[], now: number): boolean {
  const after = tsv(f.eventsAfter);
  const since = f.withinLast ? now - durationMs(f.withinLast) : undefined;
  // within_last is [now - N, now]: no event after now (same as the compiler).
  const before = since === undefined ? tsv(f.eventsBefore) : Math.min(tsv(f.eventsBefore) ?? Number.POSITIVE_INFINITY, now + 1);
  const inWindow = (e: { t: number }): boolean => (after === undefined || e.t > after) && (since === undefined || e.t >= since) && (before === undefined || e.t < before);
  let scope: Set<number> | null = null;
  if (f.eventCategories.length || f.eventTypes.length || f.sourceServices.length) {
    const cats = f.eventCategories.map((c) => RecentEventFilter_EventCategory[c]);
    scope = new Set(
      EVENT_TYPES.filter(
        (d) => (!cats.length || cats.includes(d.category)) && (!f.eventTypes.length || f.eventTypes.includes(d.type)) && (!f.sourceServices.length || f.sourceServices.includes(d.source)),
      ).map((d) => d.id),
    );
  }
  const inScope = (e: { type: number }): boolean => scope === null || scope.has(e.type);
  const hasScope = scope !== null || after !== undefined || before !== undefined || since !== undefined;
  if (hasScope || f.minEventCount !== undefined || f.maxEventCount !== undefined) {
    const n = events.filter((e) => inWindow(e) && inScope(e)).length;
    const min = f.minEventCount ?? (f.maxEventCount !== undefined ? 0 : 1);
    if (n < min) return false;
    if (f.maxEventCount !== undefined && n > f.maxEventCount) return false;
  }
  for (const name of EVENT_FLAG_NAMES) {
    const want = f[name];
    if (want === undefined) continue;
    const types: readonly number[] = EVENT_FLAG_TYPES[name];
    if (events.some((e) => inWindow(e) && types.includes(e.type)) !== want) return false;
  }
  if (f.hasUsedFeature !== undefined || f.featureNames.length) {
    const used = events.some((e) => inWindow(e) && e.type === FEATURE_USED_TYPE_ID && (!f.featureNames.length || (e.feature !== null && f.featureNames.includes(e.feature))));
    if (used !== (f.hasUsedFeature ?? true)) return false;
  }
  if (f.hasSessionActive !== undefined) {
    const active = events.some((e) => e.type === APP_SESSION_TYPE_ID && e.t >= now - SESSION_ACTIVE_MS && e.t <= now);
    if (active !== f.hasSessionActive) return false;
  }
  if (f.isIncreasingActivity !== undefined || f.isDecreasingActivity !== undefined) {
    const hi = before ?? now;
    const lowers = [after, since].filter((x): x is number => x !== undefined);
    const len = lowers.length ? hi - Math.max(...lowers) : DEFAULT_TREND_WINDOW_MS;
    const recent = events.filter((e) => inScope(e) && e.t >= hi - len && e.t < hi).length;
    const prior = events.filter((e) => inScope(e) && e.t >= hi - 2 * len && e.t < hi - len).length;
    if (f.isIncreasingActivity !== undefined && (recent * 2 >= prior * 3 && recent - prior >= 2) !== f.isIncreasingActivity) return false;
    if (f.isDecreasingActivity !== undefined && (prior * 2 >= recent * 3 && prior - recent >= 2) !== f.isDecreasingActivity) return false;
  }
  if (f.isRegularPattern !== undefined) {
    const hi = before ?? now;
    const lo = hi - REGULAR_PATTERN_WEEKS * 7 * DAY_MS;
    const inRange = events.filter((e) => inScope(e) && e.t > lo && e.t < hi);
    const weeks = new Set(inRange.map((e) => Math.floor((hi - e.t) / (7 * DAY_MS))));
    const days = new Set(inRange.map((e) => utcDay(e.t)));
    if ((weeks.size === REGULAR_PATTERN_WEEKS && days.size >= REGULAR_PATTERN_MIN_DAYS) !== f.isRegularPattern) return false;
  }
  return true;
}
