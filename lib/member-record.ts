/**
 * What the Stedi request builder needs to know about a member. The member directory (PostgreSQL) is the
 * production source; a small fixture source stands in for unit tests.
 */
export interface MemberRecord {
  /** Platform member id (opaque, e.g. "m_000123"). Never logged raw. */
  memberId: string;
  firstName: string;
  lastName: string;
  /** YYYY-MM-DD */
  dateOfBirth: string;
  /** 'M' | 'F' | 'U' */
  gender: string;
  /** The member id printed on the insurance card (Stedi `subscriber.memberId`). */
  payerMemberId: string;
  /** Stedi payer id (`tradingPartnerServiceId`). */
  payerId: string;
  payerName: string;
  /** IANA time zone, e.g. "America/New_York". */
  timeZone: string;
  sponsorId: string;
}

export interface MemberRecordSource {
  /** Bulk lookup; ids that are not found are absent from the map. */
  getMemberRecords(memberIds: readonly string[]): Promise<Map<string, MemberRecord>>;
}
