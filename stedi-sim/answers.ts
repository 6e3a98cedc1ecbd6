import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashInt, hashUnit } from './rng';
import { resolveSpecDir } from './validation';

/**
 * Deterministic eligibility answers. The verdict for a member depends only on (payer id, subscriber member id), so
 * the same member gets the same answer across calls, processes and runs. Stedi's documented mock members
 * (stedi-api.md §4) are answered as documented; two of them return Stedi's own example bodies from the spec.
 */

type Json = Record<string, unknown>;
export type AnswerKind = 'active' | 'inactive' | 'aaa';

export interface SimAnswer {
  httpStatus: 200 | 400;
  body: Json;
  kind: AnswerKind;
  aaaCode?: string;
  /** True when the answer came from Stedi's mock-member table. */
  mock: boolean;
}

export interface AnswerContext {
  now: Date;
  applicationMode: 'production' | 'test';
  /** Fresh `ec_<uuid>` per check (ids are unique per check, not per member). */
  newCheckId: () => string;
  /** Payer ids Stedi does not know: HTTP 400 + AAA 79, status ERROR. */
  unknownPayerIds: ReadonlySet<string>;
}

export interface AaaSpec {
  description: string;
  followupAction: string;
  /** Which loop the payer reports it in. */
  entity: 'payer' | 'provider' | 'subscriber';
}

export const AAA_CATALOG: Readonly<Record<string, AaaSpec>> = {
  '42': { description: 'Unable to Respond at Current Time', followupAction: 'Resubmission Allowed', entity: 'payer' },
  '43': { description: 'Invalid/Missing Provider Identification', followupAction: 'Please Correct and Resubmit', entity: 'provider' },
  '44': { description: 'Invalid/Missing Provider Name', followupAction: 'Please Correct and Resubmit', entity: 'provider' },
  '72': { description: 'Invalid/Missing Subscriber/Insured ID', followupAction: 'Please Correct and Resubmit', entity: 'subscriber' },
  '73': { description: 'Invalid/Missing Subscriber/Insured Name', followupAction: 'Please Correct and Resubmit', entity: 'subscriber' },
  '75': { description: 'Subscriber/Insured Not Found', followupAction: 'Please Correct and Resubmit', entity: 'subscriber' },
  '79': { description: 'Invalid Participant Identification', followupAction: 'Resubmission Allowed', entity: 'payer' },
  '80': { description: 'No Response received - Transaction Terminated', followupAction: 'Resubmission Allowed', entity: 'payer' },
};

const LOOP: Record<AaaSpec['entity'], string> = { payer: 'Loop 2100A', provider: 'Loop 2100B', subscriber: 'Loop 2100C' };

/**
 * The answer mix for non-mock members: ~80 % active, ~12 % inactive, ~8 % AAA (4 % connectivity 42/79/80 that a
 * retry may fix, 4 % "invalid / not found" 72/73/75 that it cannot). Cumulative upper bounds.
 */
export const ANSWER_MIX: ReadonlyArray<readonly [number, AnswerKind, string?]> = [
  [0.8, 'active'],
  [0.92, 'inactive'],
  [0.94, 'aaa', '42'],
  [0.95, 'aaa', '79'],
  [0.96, 'aaa', '80'],
  [0.975, 'aaa', '72'],
  [0.985, 'aaa', '73'],
  [1.0, 'aaa', '75'],
];

interface PayerProfile {
  name: string;
  insuranceTypeCode: string;
  insuranceType: string;
  planCoverage: string;
}
const KNOWN_PAYERS: Record<string, PayerProfile> = {
  '60054': { name: 'Aetna', insuranceTypeCode: 'PR', insuranceType: 'Preferred Provider Organization (PPO)', planCoverage: 'Aetna Choice POS II' },
  '87726': { name: 'UnitedHealthcare', insuranceTypeCode: 'C1', insuranceType: 'Commercial', planCoverage: 'CHOICE PLUS' },
  '62308': { name: 'Cigna', insuranceTypeCode: 'C1', insuranceType: 'Commercial', planCoverage: 'Open Access Plus' },
  '61101': { name: 'Humana', insuranceTypeCode: 'HM', insuranceType: 'Health Maintenance Organization (HMO)', planCoverage: 'Humana Gold Plus' },
  CMS: { name: 'CMS', insuranceTypeCode: 'MA', insuranceType: 'Medicare Part A', planCoverage: 'Medicare Part A' },
  AMTAS00425: { name: 'Ameritas', insuranceTypeCode: 'C1', insuranceType: 'Commercial', planCoverage: 'Dental PPO' },
  '10134': { name: 'MetLife', insuranceTypeCode: 'C1', insuranceType: 'Commercial', planCoverage: 'PDP Plus' },
};
const GENERIC_PLANS = ['Choice Plus', 'Open Access Plus', 'Select PPO', 'HMO Blue', 'Gold Advantage', 'Bronze HSA'];

/** Stedi's documented mock requests (stedi-api.md §4): key is `payerId|memberId`. */
interface MockMember {
  kind: AnswerKind;
  aaaCode?: string;
  dental?: boolean;
  /** Answer with this example body from the spec (operation EligibilityCheck, given status). */
  specExample?: { status: '200' | '400' };
}
export const MOCK_MEMBERS: Readonly<Record<string, MockMember>> = {
  '60054|AETNA12345': { kind: 'active' },
  '60054|AETNA9wcSu': { kind: 'active' },
  '87726|UHC202649': { kind: 'active', specExample: { status: '200' } },
  '87726|UHC123456': { kind: 'active' },
  '87726|UHCINACTIVE': { kind: 'inactive' },
  '62308|23456789100': { kind: 'active' },
  '61101|HUMANA123': { kind: 'active' },
  'CMS|CMS12345678': { kind: 'active' },
  '87726|UHCAAA42': { kind: 'aaa', aaaCode: '42' },
  '87726|UHCAAA43': { kind: 'aaa', aaaCode: '43' },
  '87726|UHCAAA72': { kind: 'aaa', aaaCode: '72' },
  '87726|UHCAAA73': { kind: 'aaa', aaaCode: '73' },
  '87726|UHCAAA75': { kind: 'aaa', aaaCode: '75' },
  '87726|UHCAAA79': { kind: 'aaa', aaaCode: '79' },
  'AMTAS00425|007007007': { kind: 'active', dental: true },
  '10134|88877788': { kind: 'active', dental: true },
  // The spec's 400 example (no member id; matched on payer + last name): provider name rejected, AAA 44.
  'BS001|~Stedi': { kind: 'aaa', aaaCode: '44', specExample: { status: '400' } },
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

export function memberKey(request: Json): string {
  const sub = obj(request['subscriber']);
  const payer = str(request['tradingPartnerServiceId']) ?? '';
  const id = str(sub['memberId']) ?? `~${str(sub['lastName']) ?? ''}|${str(sub['dateOfBirth']) ?? ''}`;
  return `${payer}|${id}`;
}

export function findMock(request: Json): MockMember | undefined {
  const sub = obj(request['subscriber']);
  const payer = str(request['tradingPartnerServiceId']) ?? '';
  const byId = str(sub['memberId']);
  if (byId !== undefined) return MOCK_MEMBERS[`${payer}|${byId}`];
  const last = str(sub['lastName']);
  return last !== undefined ? MOCK_MEMBERS[`${payer}|~${last}`] : undefined;
}

/** The deterministic verdict for a non-mock member. */
export function verdictFor(key: string): { kind: AnswerKind; aaaCode?: string } {
  const u = hashUnit(key, 'verdict');
  for (const [bound, kind, code] of ANSWER_MIX) if (u < bound) return code ? { kind, aaaCode: code } : { kind };
  return { kind: 'active' };
}

let specExamples: { ok: Json; aaa44: Json } | undefined;
function loadSpecExamples(): { ok: Json; aaa44: Json } {
  if (specExamples) return specExamples;
  type Spec = { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { examples: Record<string, { value: Json }> }> }> }>> };
  const spec = JSON.parse(readFileSync(join(resolveSpecDir(), 'healthcare.json'), 'utf8')) as Spec;
  const op = spec.paths['/change/medicalnetwork/eligibility/v3']?.['post'];
  const pick = (status: string): Json => {
    const ex = Object.values(op?.responses[status]?.content['application/json']?.examples ?? {})[0];
    if (!ex) throw new Error(`stedi-sim: spec example ${status} missing`);
    return ex.value;
  };
  specExamples = { ok: pick('200'), aaa44: pick('400') };
  return specExamples;
}

function aaaError(code: string): Json {
  const spec = AAA_CATALOG[code] ?? { description: `AAA ${code}`, followupAction: 'Please Correct and Resubmit', entity: 'subscriber' as const };
  return { code, description: spec.description, field: 'AAA', followupAction: spec.followupAction, location: LOOP[spec.entity] };
}

function baseBody(request: Json, key: string, ctx: AnswerContext): Json {
  const payerId = str(request['tradingPartnerServiceId']) ?? '';
  const profile = KNOWN_PAYERS[payerId];
  const provider = obj(request['provider']);
  const sub = obj(request['subscriber']);
  const control = str(request['controlNumber']) ?? String(hashInt(key, 'control', 100000000, 999999999));
  const trace = `01SIM${hashInt(key + ctx.newCheckId(), 'trace', 10000000, 99999999)}`;
  const subscriber: Json = { entityIdentifier: 'Insured or Subscriber', entityType: 'Person' };
  for (const k of ['memberId', 'firstName', 'lastName', 'dateOfBirth', 'gender'] as const) {
    const v = str(sub[k]);
    if (v !== undefined) subscriber[k] = k === 'firstName' || k === 'lastName' ? v.toUpperCase() : v;
  }
  const providerEntity: Json = { entityIdentifier: 'Provider', entityType: str(provider['organizationName']) ? 'Non-Person Entity' : 'Person' };
  const providerName = str(provider['organizationName']) ?? str(provider['lastName']);
  if (providerName) providerEntity['providerName'] = providerName.toUpperCase();
  if (str(provider['npi'])) providerEntity['npi'] = provider['npi'];
  return {
    id: ctx.newCheckId(),
    controlNumber: control,
    reassociationKey: control,
    tradingPartnerServiceId: payerId,
    meta: { senderId: 'STEDI', submitterId: '117151744', applicationMode: ctx.applicationMode, traceId: trace, outboundTraceId: trace },
    provider: providerEntity,
    subscriber,
    payer: {
      entityIdentifier: 'Payer',
      entityType: 'Non-Person Entity',
      name: (profile?.name ?? str(request['tradingPartnerName']) ?? `PAYER ${payerId}`).toUpperCase(),
      payorIdentification: payerId,
    },
    errors: [],
  };
}

function coverageBody(request: Json, key: string, kind: 'active' | 'inactive', ctx: AnswerContext, dental: boolean): Json {
  const body = baseBody(request, key, ctx);
  const payerId = str(request['tradingPartnerServiceId']) ?? '';
  const profile = KNOWN_PAYERS[payerId];
  const year = ctx.now.getUTCFullYear();
  const planNumber = `P${hashInt(key, 'plan', 100000, 999999)}`;
  const groupNumber = String(hashInt(key, 'group', 100000, 999999));
  const planCoverage = profile?.planCoverage ?? GENERIC_PLANS[hashInt(key, 'plan-name', 0, GENERIC_PLANS.length - 1)]!;
  const insuranceTypeCode = profile?.insuranceTypeCode ?? 'C1';
  const insuranceType = profile?.insuranceType ?? 'Commercial';
  const stc = dental ? '35' : '30';
  const stcName = dental ? 'Dental Care' : 'Health Benefit Plan Coverage';
  const subscriber = obj(body['subscriber']);
  subscriber['groupNumber'] = groupNumber;
  subscriber['planNumber'] = planNumber;
  body['planInformation'] = { groupNumber, planNumber, groupDescription: `GROUP ${groupNumber}` };
  const dependents = request['dependents'];
  if (Array.isArray(dependents) && dependents.length > 0) {
    const d = obj(dependents[0]);
    const dep: Json = { entityType: 'Person', relationToSubscriber: 'Child', relationToSubscriberCode: '19' };
    for (const k of ['firstName', 'lastName', 'dateOfBirth', 'gender'] as const) if (str(d[k])) dep[k] = d[k];
    body['dependents'] = [dep];
  }
  if (kind === 'inactive') {
    body['planDateInformation'] = { plan: `${year - 2}0101-${year - 1}1231`, eligibilityEnd: `${year - 1}1231` };
    body['planStatus'] = [{ statusCode: '6', status: 'Inactive', serviceTypeCodes: [stc] }];
    body['benefitsInformation'] = [
      { code: '6', name: 'Inactive', serviceTypeCodes: [stc], serviceTypes: [stcName], insuranceTypeCode, insuranceType, planCoverage },
    ];
    return body;
  }
  const deductible = [500, 1000, 1500, 2000, 3000, 5000][hashInt(key, 'ded', 0, 5)]!;
  const oop = deductible * 3;
  const met = hashInt(key, 'met', 0, deductible);
  const coins = ['0.1', '0.2', '0.3'][hashInt(key, 'coins', 0, 2)]!;
  const copay = ['20', '25', '30', '40'][hashInt(key, 'copay', 0, 3)]!;
  const common = { serviceTypeCodes: [stc], serviceTypes: [stcName] };
  const inNet = { inPlanNetworkIndicatorCode: 'Y', inPlanNetworkIndicator: 'Yes' };
  const outNet = { inPlanNetworkIndicatorCode: 'N', inPlanNetworkIndicator: 'No' };
  const ind = { coverageLevelCode: 'IND', coverageLevel: 'Individual' };
  const fam = { coverageLevelCode: 'FAM', coverageLevel: 'Family' };
  const cy = { timeQualifierCode: '23', timeQualifier: 'Calendar Year' };
  const rem = { timeQualifierCode: '29', timeQualifier: 'Remaining' };
  body['planDateInformation'] = { plan: `${year}0101-${year}1231`, eligibilityBegin: `${year - hashInt(key, 'since', 0, 4)}0101` };
  body['planStatus'] = [{ statusCode: '1', status: 'Active Coverage', planDetails: planCoverage, serviceTypeCodes: [stc] }];
  body['benefitsInformation'] = [
    { code: '1', name: 'Active Coverage', ...common, insuranceTypeCode, insuranceType, planCoverage, inPlanNetworkIndicatorCode: 'W', inPlanNetworkIndicator: 'Not Applicable' },
    { code: 'C', name: 'Deductible', ...common, ...ind, ...inNet, ...cy, benefitAmount: String(deductible) },
    { code: 'C', name: 'Deductible', ...common, ...ind, ...inNet, ...rem, benefitAmount: String(deductible - met) },
    { code: 'C', name: 'Deductible', ...common, ...fam, ...inNet, ...cy, benefitAmount: String(deductible * 2) },
    { code: 'C', name: 'Deductible', ...common, ...ind, ...outNet, ...cy, benefitAmount: String(deductible * 2) },
    { code: 'G', name: 'Out of Pocket (Stop Loss)', ...common, ...ind, ...inNet, ...cy, benefitAmount: String(oop), insuranceTypeCode, insuranceType },
    { code: 'G', name: 'Out of Pocket (Stop Loss)', ...common, ...fam, ...inNet, ...cy, benefitAmount: String(oop * 2), insuranceTypeCode, insuranceType },
    { code: 'A', name: 'Co-Insurance', ...common, ...ind, ...inNet, benefitPercent: coins },
    { code: 'A', name: 'Co-Insurance', ...common, ...ind, ...outNet, benefitPercent: '0.5' },
    { code: 'B', name: 'Co-Payment', ...common, ...ind, ...inNet, timeQualifierCode: '27', timeQualifier: 'Visit', benefitAmount: copay },
  ];
  return body;
}

/** An AAA rejection body: the error in its entity's `aaaErrors` and copied into top-level `errors`. */
export function aaaBody(request: Json, key: string, code: string, ctx: AnswerContext): Json {
  const body = baseBody(request, key, ctx);
  const err = aaaError(code);
  const entity = AAA_CATALOG[code]?.entity ?? 'subscriber';
  obj(body[entity])['aaaErrors'] = [err];
  body['errors'] = [err];
  return body;
}

function fromSpecExample(example: Json, ctx: AnswerContext): Json {
  const body = JSON.parse(JSON.stringify(example)) as Json;
  body['id'] = ctx.newCheckId();
  body['meta'] = { ...obj(body['meta']), applicationMode: ctx.applicationMode };
  return body;
}

/** AAA codes answered with HTTP 400 (as in the spec's AAA 44 example); the rest come back with HTTP 200. */
const AAA_HTTP_400 = new Set(['43', '44']);

/**
 * The simulator's answer to a (schema-valid) eligibility request. `attempt` > 1 models Stedi's batch retries: a
 * non-mock member whose deterministic verdict is a connectivity error (42/79/80) gets through on a retry, with a
 * coverage verdict drawn from a second deterministic hash.
 */
export function answerEligibility(request: Json, ctx: AnswerContext, attempt = 1): SimAnswer {
  const key = memberKey(request);
  const payerId = str(request['tradingPartnerServiceId']) ?? '';
  if (ctx.unknownPayerIds.has(payerId)) {
    const body = aaaBody(request, key, '79', ctx);
    const err = obj((body['errors'] as unknown[])[0]);
    err['followupAction'] = 'Please Correct and Resubmit';
    err['possibleResolutions'] = `Payer ${payerId} is not configured. Please check our published payer list or contact Stedi support to resolve.`;
    body['status'] = 'ERROR';
    return { httpStatus: 400, body, kind: 'aaa', aaaCode: '79', mock: false };
  }
  const provider = obj(request['provider']);
  if (!str(provider['organizationName']) && !str(provider['lastName'])) {
    return { httpStatus: 400, body: aaaBody(request, key, '44', ctx), kind: 'aaa', aaaCode: '44', mock: false };
  }
  if (!str(provider['npi'])) {
    return { httpStatus: 400, body: aaaBody(request, key, '43', ctx), kind: 'aaa', aaaCode: '43', mock: false };
  }
  const mock = findMock(request);
  if (mock) {
    if (mock.specExample) {
      const ex = loadSpecExamples();
      const status = mock.specExample.status === '200' ? 200 : 400;
      return { httpStatus: status, body: fromSpecExample(status === 200 ? ex.ok : ex.aaa44, ctx), kind: mock.kind, ...(mock.aaaCode ? { aaaCode: mock.aaaCode } : {}), mock: true };
    }
    if (mock.kind === 'aaa' && mock.aaaCode) {
      return { httpStatus: AAA_HTTP_400.has(mock.aaaCode) ? 400 : 200, body: aaaBody(request, key, mock.aaaCode, ctx), kind: 'aaa', aaaCode: mock.aaaCode, mock: true };
    }
    return { httpStatus: 200, body: coverageBody(request, key, mock.kind === 'inactive' ? 'inactive' : 'active', ctx, mock.dental === true), kind: mock.kind, mock: true };
  }
  let v = verdictFor(key);
  if (attempt > 1 && isConnectivityCode(v.aaaCode)) v = { kind: hashUnit(key, 'retry-verdict') < 0.87 ? 'active' : 'inactive' };
  if (v.kind === 'aaa' && v.aaaCode) {
    return { httpStatus: AAA_HTTP_400.has(v.aaaCode) ? 400 : 200, body: aaaBody(request, key, v.aaaCode, ctx), kind: 'aaa', aaaCode: v.aaaCode, mock: false };
  }
  const dental = Array.isArray(obj(request['encounter'])['serviceTypeCodes']) && (obj(request['encounter'])['serviceTypeCodes'] as unknown[]).includes('35');
  return { httpStatus: 200, body: coverageBody(request, key, v.kind === 'inactive' ? 'inactive' : 'active', ctx, dental), kind: v.kind, mock: false };
}

/** A connectivity rejection the simulator injects (payer outage, payer timeout): AAA 42 or 80, HTTP 200. */
export function connectivityAnswer(request: Json, code: '42' | '80', ctx: AnswerContext): SimAnswer {
  return { httpStatus: 200, body: aaaBody(request, memberKey(request), code, ctx), kind: 'aaa', aaaCode: code, mock: false };
}

export function isConnectivityCode(code: string | undefined): boolean {
  return code === '42' || code === '79' || code === '80';
}
