/**
 * The compact, JSON-serializable coverage answer the platform caches and returns, normalized from a Stedi
 * real-time (v3) or batch polling eligibility body. Deterministic: the same body always yields the same summary
 * (benefits are filtered, de-duplicated and sorted by a fixed order), so summaries can be compared and hashed.
 * Importable anywhere (workflows included): no Node built-ins.
 */

export type CoverageStatus = 'active' | 'inactive' | 'unknown' | 'error';

export interface CoverageBenefit {
  /** First service type code of the benefit (e.g. "30" health benefit plan coverage). */
  serviceTypeCode: string | null;
  /** Stedi's benefit name, e.g. "Deductible". */
  name: string | null;
  /** Eligibility/benefit information code: 1 active, 6 inactive, A coinsurance, B copay, C deductible, G out of pocket. */
  code: string;
  /** Coverage level code: IND, FAM, EMP, ... */
  coverageLevel: string | null;
  /** In plan network: true (Y), false (N), null (W not applicable, U unknown, absent). */
  inNetwork: boolean | null;
  /** Dollar amount (Stedi sends a decimal string). */
  amount?: number;
  /** Fraction as Stedi sends it (0.2 = 20 %), for coinsurance. */
  percent?: number;
  /** Time qualifier name, e.g. "Calendar Year", "Remaining". */
  timePeriod?: string;
}

export interface CoverageError {
  code: string;
  description: string | null;
  followupAction: string | null;
}

export interface CoverageSummary {
  status: CoverageStatus;
  payer: { id: string | null; name: string | null };
  plan: { name: string | null; number: string | null; groupNumber: string | null; insuranceType: string | null };
  /** ISO dates (YYYY-MM-DD) or null. */
  coverage: { start: string | null; end: string | null };
  benefits: CoverageBenefit[];
  errors: CoverageError[];
  /** Stedi's `ec_<uuid>` check id, when present. */
  stediCheckId?: string;
  /**
   * HTTP status of the Stedi real-time answer this was normalized from (200, or 400 for a payer rejection Stedi
   * sends as one): it tells a client "AAA 79 on HTTP 400" (payer not set up, do not retry) from AAA 79 on 200. Set
   * by the real-time path, not by the normalizer (the body does not carry it); absent for batch results and for
   * entries cached before it was recorded (EligibilityErrorDetail.http_status 0 = unknown).
   */
  httpStatus?: number;
}

/** At most this many benefits are kept (the order below decides which). */
export const MAX_SUMMARY_BENEFITS = 24;

const ACTIVE_CODES = new Set(['1', '2', '3', '4', '5']);
const INACTIVE_CODES = new Set(['6', '7', '8']);
/** Benefit codes worth keeping, in the order they are reported. */
const KEPT_CODE_ORDER = ['1', '6', 'C', 'G', 'A', 'B'];
/** Service types that matter most for a summary; others sort after, by code. */
const PRIMARY_STC = '30';

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}
function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** YYYYMMDD -> YYYY-MM-DD; anything else -> null. */
export function stediDateToIso(d: string | null | undefined): string | null {
  if (!d || !/^\d{8}$/.test(d)) return null;
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
}

/** A Stedi date field holds one date or a `YYYYMMDD-YYYYMMDD` range. */
function dateRange(v: unknown): { start: string | null; end: string | null } {
  const s = str(v);
  if (!s) return { start: null, end: null };
  const [a, b] = s.split('-');
  return { start: stediDateToIso(a), end: b !== undefined ? stediDateToIso(b) : null };
}

function coverageDates(body: Json): { start: string | null; end: string | null } {
  const pdi = isRecord(body['planDateInformation']) ? body['planDateInformation'] : {};
  let start = stediDateToIso(str(pdi['planBegin'])) ?? stediDateToIso(str(pdi['eligibilityBegin']));
  let end = stediDateToIso(str(pdi['planEnd'])) ?? stediDateToIso(str(pdi['eligibilityEnd']));
  for (const key of ['plan', 'eligibility']) {
    const r = dateRange(pdi[key]);
    start = start ?? r.start;
    end = end ?? r.end;
  }
  return { start, end };
}

function parseNumber(v: unknown): number | undefined {
  const s = str(v);
  if (s === null) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function toBenefit(b: Json): CoverageBenefit | null {
  const code = str(b['code']);
  if (code === null || !KEPT_CODE_ORDER.includes(code)) return null;
  const stcs = Array.isArray(b['serviceTypeCodes']) ? b['serviceTypeCodes'].filter((x): x is string => typeof x === 'string') : [];
  const net = str(b['inPlanNetworkIndicatorCode']);
  const benefit: CoverageBenefit = {
    serviceTypeCode: stcs[0] ?? null,
    name: str(b['name']),
    code,
    coverageLevel: str(b['coverageLevelCode']),
    inNetwork: net === 'Y' ? true : net === 'N' ? false : null,
  };
  const amount = parseNumber(b['benefitAmount']);
  if (amount !== undefined) benefit.amount = amount;
  const percent = parseNumber(b['benefitPercent']);
  if (percent !== undefined) benefit.percent = percent;
  const period = str(b['timeQualifier']);
  if (period !== null) benefit.timePeriod = period;
  return benefit;
}

function cmp(a: string | null | undefined, b: string | null | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

function benefitOrder(a: CoverageBenefit, b: CoverageBenefit): number {
  const stcRank = (x: CoverageBenefit) => (x.serviceTypeCode === PRIMARY_STC ? 0 : 1);
  const netRank = (x: CoverageBenefit) => (x.inNetwork === true ? 0 : x.inNetwork === null ? 1 : 2);
  return (
    stcRank(a) - stcRank(b) ||
    cmp(a.serviceTypeCode, b.serviceTypeCode) ||
    KEPT_CODE_ORDER.indexOf(a.code) - KEPT_CODE_ORDER.indexOf(b.code) ||
    netRank(a) - netRank(b) ||
    cmp(a.coverageLevel, b.coverageLevel) ||
    cmp(a.timePeriod, b.timePeriod) ||
    (a.amount ?? -1) - (b.amount ?? -1) ||
    (a.percent ?? -1) - (b.percent ?? -1) ||
    cmp(a.name, b.name)
  );
}

function collectErrors(body: Json): CoverageError[] {
  const raw: Json[] = [...records(body['errors'])];
  for (const k of ['payer', 'provider', 'subscriber']) {
    const e = body[k];
    if (isRecord(e)) raw.push(...records(e['aaaErrors']));
  }
  for (const d of records(body['dependents'])) raw.push(...records(d['aaaErrors']));
  const out: CoverageError[] = [];
  const seen = new Set<string>();
  for (const e of raw) {
    const code = str(e['code']);
    if (code === null) continue;
    const err: CoverageError = { code, description: str(e['description']), followupAction: str(e['followupAction']) };
    const key = `${err.code}|${err.description ?? ''}|${err.followupAction ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(err);
  }
  return out.sort((a, b) => cmp(a.code, b.code) || cmp(a.description, b.description));
}

/** Normalizes a Stedi eligibility response body (200, 400 payer-rejection, or a batch polling item). */
export function normalizeEligibilityResponse(json: unknown): CoverageSummary {
  const body: Json = isRecord(json) ? json : {};
  const benefitsRaw = records(body['benefitsInformation']);
  const codes = new Set(benefitsRaw.map((b) => str(b['code'])).filter((c): c is string => c !== null));
  // planStatus is deprecated but some payers/mocks still carry only that.
  for (const ps of records(body['planStatus'])) {
    const c = str(ps['statusCode']);
    if (c) codes.add(c);
  }
  const errors = collectErrors(body);

  let status: CoverageStatus;
  if ([...codes].some((c) => ACTIVE_CODES.has(c))) status = 'active';
  else if (errors.length > 0 || body['status'] === 'ERROR') status = 'error';
  else if ([...codes].some((c) => INACTIVE_CODES.has(c))) status = 'inactive';
  else status = 'unknown';

  const seen = new Set<string>();
  const benefits = benefitsRaw
    .map(toBenefit)
    .filter((b): b is CoverageBenefit => b !== null)
    .filter((b) => {
      const key = JSON.stringify(b);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort(benefitOrder)
    .slice(0, MAX_SUMMARY_BENEFITS);

  const statusBenefit =
    benefitsRaw.find((b) => ACTIVE_CODES.has(str(b['code']) ?? '') && str(b['planCoverage']) !== null) ??
    benefitsRaw.find((b) => str(b['planCoverage']) !== null);
  const insuranceBenefit = benefitsRaw.find((b) => str(b['insuranceType']) !== null);
  const planInfo = isRecord(body['planInformation']) ? body['planInformation'] : {};
  const subscriber = isRecord(body['subscriber']) ? body['subscriber'] : {};
  const payer = isRecord(body['payer']) ? body['payer'] : {};
  const planStatusDetails = records(body['planStatus']).map((p) => str(p['planDetails'])).find((x) => x !== null) ?? null;

  const summary: CoverageSummary = {
    status,
    payer: { id: str(payer['payorIdentification']) ?? str(body['tradingPartnerServiceId']), name: str(payer['name']) },
    plan: {
      name: (statusBenefit ? str(statusBenefit['planCoverage']) : null) ?? str(planInfo['planDescription']) ?? planStatusDetails,
      number: str(planInfo['planNumber']) ?? str(subscriber['planNumber']),
      groupNumber: str(planInfo['groupNumber']) ?? str(subscriber['groupNumber']),
      insuranceType: insuranceBenefit ? str(insuranceBenefit['insuranceType']) : null,
    },
    coverage: coverageDates(body),
    benefits,
    errors,
  };
  const id = str(body['id']);
  if (id !== null) summary.stediCheckId = id;
  return summary;
}
