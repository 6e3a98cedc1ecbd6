/**
 * The member attributes a PredicateFilter expression may reference. This whitelist is the only way an
 * identifier in an expression reaches SQL: unknown names are rejected by the parser, known names map to
 * fixed SQL fragments in compile.ts. Every attribute is non-null (missing values map to a sentinel such
 * as 'NONE'), so expressions have two-valued logic in SQL and in the reference evaluator alike.
 */
export type AttributeType = 'number' | 'string' | 'boolean';

export interface AttributeDef {
  type: AttributeType;
  description: string;
}

export const PREDICATE_ATTRIBUTES = {
  AGE: { type: 'number', description: 'Age in whole years at the evaluation time (PredicateFilter.evaluated_at, default now).' },
  STATE: { type: 'string', description: "Two-letter US state code, e.g. 'CA'." },
  CITY: { type: 'string', description: 'City name.' },
  ZIP: { type: 'string', description: 'Five-digit ZIP code.' },
  SEX: { type: 'string', description: "Biological sex: 'MALE', 'FEMALE', 'INTERSEX', 'UNKNOWN'." },
  GENDER: { type: 'string', description: "Administrative gender sent to payers: 'M', 'F', 'U'." },
  GENDER_IDENTITY: { type: 'string', description: "Self-identified gender, e.g. 'WOMAN', 'NON_BINARY'." },
  LANGUAGE: { type: 'string', description: "Preferred spoken language (ISO 639-1), e.g. 'es'." },
  WRITTEN_LANGUAGE: { type: 'string', description: 'Preferred written language (ISO 639-1).' },
  RACE_ETHNICITY: { type: 'string', description: "Self-reported race/ethnicity, e.g. 'HISPANIC_OR_LATINO'." },
  SPONSOR: { type: 'string', description: 'Sponsor (customer) id.' },
  ACCOUNT_STATUS: { type: 'string', description: "AccountStatus name, e.g. 'ACTIVE'." },
  MEMBER_ROLE: { type: 'string', description: "'SUBSCRIBER', 'BENEFICIARY' or 'BOTH'." },
  RELATIONSHIP: { type: 'string', description: "Relationship to the subscriber: 'SPOUSE', 'CHILD', 'DOMESTIC_PARTNER', 'OTHER_DEPENDENT'; 'SELF' for subscribers." },
  IS_VIP: { type: 'boolean', description: 'VIP flag.' },
  IS_DO_NOT_CONTACT: { type: 'boolean', description: 'Do-not-contact flag.' },
  IS_LGBTQ_PLUS: { type: 'boolean', description: 'Self-identified LGBTQ+.' },
  IS_MOCK: { type: 'boolean', description: 'Test/mock account.' },
  RTE_ENABLED: { type: 'boolean', description: 'Real-time eligibility enabled for the member.' },
  APP_USAGE_PROBABILITY: { type: 'number', description: 'Predicted probability of app use in the next 7 days (0-1).' },
  FAMILY_SIZE: { type: 'number', description: "Covered lives on the family's policy." },
  CHRONIC_CONDITION_COUNT: { type: 'number', description: 'Number of recorded chronic conditions.' },
  IS_HIGH_UTILIZER: { type: 'boolean', description: 'High utilizer flag.' },
  PLAN_TYPE: { type: 'string', description: "Primary plan's InsurancePlanFilter.PlanType name, e.g. 'HDHP'." },
  PAYER: { type: 'string', description: "Primary plan's payer name, e.g. 'Aetna'." },
  PAYER_ID: { type: 'string', description: "Primary plan's Stedi payer id, e.g. '60054'." },
  NETWORK_TYPE: { type: 'string', description: "Primary plan's NetworkType name." },
  METAL_TIER: { type: 'string', description: "Primary plan's MetalTier name; 'NONE' for non-marketplace plans." },
  IS_SELF_FUNDED: { type: 'boolean', description: 'Primary plan is self-funded.' },
  IS_MARKETPLACE_PLAN: { type: 'boolean', description: 'Primary plan is an ACA marketplace plan.' },
  HAS_HSA: { type: 'boolean', description: 'Primary plan carries a Health Savings Account.' },
  HAS_HRA: { type: 'boolean', description: 'Primary plan carries a Health Reimbursement Account.' },
  HAS_FSA: { type: 'boolean', description: 'Primary plan carries a Flexible Spending Account.' },
  HAS_MENTAL_HEALTH_COVERAGE: { type: 'boolean', description: 'Primary plan covers mental health.' },
  HAS_PRESCRIPTION_COVERAGE: { type: 'boolean', description: 'Primary plan covers prescriptions.' },
  HAS_DENTAL_COVERAGE: { type: 'boolean', description: 'Primary plan covers dental.' },
  HAS_VISION_COVERAGE: { type: 'boolean', description: 'Primary plan covers vision.' },
  HAS_TELEHEALTH_COVERAGE: { type: 'boolean', description: 'Primary plan covers telehealth.' },
  INDIVIDUAL_DEDUCTIBLE: { type: 'number', description: "Primary plan's annual individual deductible (USD)." },
  FAMILY_DEDUCTIBLE: { type: 'number', description: "Primary plan's annual family deductible (USD)." },
  INDIVIDUAL_OOP_MAX: { type: 'number', description: "Primary plan's individual out-of-pocket maximum (USD)." },
} as const satisfies Record<string, AttributeDef>;

export type AttributeName = keyof typeof PREDICATE_ATTRIBUTES;

export function lookupAttribute(name: string): (AttributeDef & { name: AttributeName }) | undefined {
  const upper = name.toUpperCase();
  if (!Object.prototype.hasOwnProperty.call(PREDICATE_ATTRIBUTES, upper)) return undefined;
  return { name: upper as AttributeName, ...PREDICATE_ATTRIBUTES[upper as AttributeName] };
}
