import { createHash } from 'node:crypto';
import type { MemberRecord } from '../../lib/member-record';
import type { BatchEligibilityItem, EligibilityCheckRequest } from './types';

/** Who we are to Stedi and the payer (from config). */
export interface StediProviderConfig {
  /** 10-digit NPI. */
  npi: string;
  organizationName: string;
}

export interface BuildEligibilityRequestInput {
  member: MemberRecord;
  provider: StediProviderConfig;
  /** Defaults to ["30"] (health benefit plan coverage), Stedi's own default. */
  serviceTypeCodes?: readonly string[];
  /**
   * Seed for the 9-digit control number, e.g. the workflow id + operation. The same seed always yields the same
   * number, so an activity retry sends the same request.
   */
  controlNumberSeed: string;
  /** YYYY-MM-DD; omitted means "today" at the payer. */
  dateOfService?: string;
}

export const DEFAULT_SERVICE_TYPE_CODES: readonly string[] = ['30'];

/** Deterministic 9-digit control number (Stedi: exactly 9 characters). */
export function controlNumberFromSeed(seed: string): string {
  const n = createHash('sha256').update(seed).digest().readUInt32BE(0) % 1_000_000_000;
  return n.toString().padStart(9, '0');
}

/** YYYY-MM-DD (or YYYYMMDD) -> YYYYMMDD; throws on anything else so a bad record fails before reaching Stedi. */
export function toStediDate(isoDate: string): string {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(isoDate.trim());
  if (!m) throw new Error('date must be YYYY-MM-DD');
  return `${m[1]}${m[2]}${m[3]}`;
}

/** Stedi name limits: first name 1-35, last name 1-60 characters. */
function clip(s: string, max: number): string {
  return s.trim().slice(0, max);
}

/** Stedi member ids allow letters, digits, '-' and space (2-80 chars); card ids sometimes carry other punctuation. */
export function sanitizeMemberId(id: string): string {
  return id.replace(/[^A-Za-z0-9\- ]/g, '').trim().slice(0, 80);
}

/** A directory record that cannot form a Stedi request; the message names the record's field. */
export class InvalidMemberRecordError extends Error {
  constructor(field: string, problem: string) {
    super(`member record: ${field} ${problem}`);
    this.name = 'InvalidMemberRecordError';
  }
}

function recordField<T>(field: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new InvalidMemberRecordError(field, err instanceof Error ? err.message.replace(/^date /, '') : String(err));
  }
}

/** Builds a real-time v3 request (`EligibilityCheckRequestContent`) for one member. */
export function buildEligibilityRequest(input: BuildEligibilityRequestInput): EligibilityCheckRequest {
  const { member, provider } = input;
  const subscriber: EligibilityCheckRequest['subscriber'] = {
    memberId: sanitizeMemberId(member.payerMemberId),
    firstName: clip(member.firstName, 35),
    lastName: clip(member.lastName, 60),
    dateOfBirth: recordField('date_of_birth', () => toStediDate(member.dateOfBirth)),
  };
  if (member.gender === 'M' || member.gender === 'F') subscriber.gender = member.gender;
  const stcs = input.serviceTypeCodes && input.serviceTypeCodes.length > 0 ? input.serviceTypeCodes : DEFAULT_SERVICE_TYPE_CODES;
  const encounter: NonNullable<EligibilityCheckRequest['encounter']> = { serviceTypeCodes: [...stcs] };
  if (input.dateOfService) encounter.dateOfService = toStediDate(input.dateOfService);
  const request: EligibilityCheckRequest = {
    controlNumber: controlNumberFromSeed(input.controlNumberSeed),
    tradingPartnerServiceId: member.payerId,
    provider: { organizationName: clip(provider.organizationName, 60), npi: provider.npi },
    subscriber,
    encounter,
  };
  if (member.payerName) request.tradingPartnerName = clip(member.payerName, 60);
  return request;
}

export interface BuildBatchItemInput extends BuildEligibilityRequestInput {
  /**
   * Correlates the result with the member (Stedi echoes it on each polling item). Use an opaque value such as a
   * member hash or a chunk-local index - never a raw member id.
   */
  submitterTransactionIdentifier: string;
}

/** Builds one `BatchEligibilityChecksItem`. */
export function buildBatchItem(input: BuildBatchItemInput): BatchEligibilityItem {
  return { ...buildEligibilityRequest(input), submitterTransactionIdentifier: input.submitterTransactionIdentifier };
}

/** Stedi batch names: `^[a-zA-Z0-9-_]{1,100}$`, unique per account. Derive one deterministically from a seed. */
export function batchNameFromSeed(seed: string): string {
  const cleaned = seed.replace(/[^a-zA-Z0-9\-_]/g, '-').slice(0, 80);
  const digest = createHash('sha256').update(seed).digest('hex').slice(0, 16);
  return `${cleaned}-${digest}`.replace(/^-+/, '').slice(0, 100);
}
