import type { MemberRecord, MemberRecordSource } from './member-record';

/**
 * Member records for unit tests and local runs without PostgreSQL. `STEDI_MOCK_MEMBERS` are Stedi's documented
 * mock requests (stedi-api.md §4), which the simulator - and Stedi itself with a test key - answers as documented;
 * `syntheticMembers` makes any number of deterministic members that the simulator answers by its hash mix
 * (~80 % active, ~12 % inactive, ~8 % AAA errors).
 */

function mock(
  memberId: string,
  payerId: string,
  payerName: string,
  payerMemberId: string,
  firstName: string,
  lastName: string,
  dateOfBirth: string,
  gender: string,
): MemberRecord {
  return { memberId, firstName, lastName, dateOfBirth, gender, payerMemberId, payerId, payerName, timeZone: 'America/New_York', sponsorId: 'sponsor-stedi-mocks' };
}

/** Keyed by the scenario they exercise. */
export const STEDI_MOCK_MEMBERS = {
  aetnaActive: mock('m_mock_aetna_active', '60054', 'Aetna', 'AETNA12345', 'Jane', 'Doe', '2004-04-04', 'F'),
  uhcActive: mock('m_mock_uhc_active', '87726', 'UnitedHealthcare', 'UHC123456', 'Jane', 'Doe', '1971-01-01', 'F'),
  uhcInactive: mock('m_mock_uhc_inactive', '87726', 'UnitedHealthcare', 'UHCINACTIVE', 'Jane', 'Doe', '1971-01-01', 'F'),
  cignaActive: mock('m_mock_cigna_active', '62308', 'Cigna', '23456789100', 'James', 'Jones', '1991-02-02', 'M'),
  humanaActive: mock('m_mock_humana_active', '61101', 'Humana', 'HUMANA123', 'Jane', 'Doe', '1975-05-05', 'F'),
  cmsActive: mock('m_mock_cms_active', 'CMS', 'CMS', 'CMS12345678', 'Jane', 'Doe', '1955-05-05', 'F'),
  /** Payer connectivity: retryable. */
  uhcAaa42: mock('m_mock_uhc_aaa42', '87726', 'UnitedHealthcare', 'UHCAAA42', 'Jane', 'Doe', '2001-01-01', 'F'),
  uhcAaa72: mock('m_mock_uhc_aaa72', '87726', 'UnitedHealthcare', 'UHCAAA72', 'John', 'Doe', '1990-01-01', 'M'),
  uhcAaa73: mock('m_mock_uhc_aaa73', '87726', 'UnitedHealthcare', 'UHCAAA73', 'John', 'Doe', '1990-01-01', 'M'),
  /** Subscriber not found: do not resubmit. */
  uhcAaa75: mock('m_mock_uhc_aaa75', '87726', 'UnitedHealthcare', 'UHCAAA75', 'Jane', 'Doe', '1990-01-01', 'F'),
  uhcAaa79: mock('m_mock_uhc_aaa79', '87726', 'UnitedHealthcare', 'UHCAAA79', 'John', 'Doe', '1970-01-01', 'M'),
} as const satisfies Record<string, MemberRecord>;

const FIRST = ['Ava', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jamal', 'Kira', 'Luis'];
const LAST = ['Nguyen', 'Okafor', 'Patel', 'Quinn', 'Rossi', 'Smith', 'Tanaka', 'Usman', 'Vega', 'Walsh'];
const PAYERS: ReadonlyArray<readonly [string, string]> = [
  ['60054', 'Aetna'],
  ['87726', 'UnitedHealthcare'],
  ['62308', 'Cigna'],
  ['61101', 'Humana'],
];
const ZONES = ['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'America/Phoenix', 'Pacific/Honolulu'];

/** `count` deterministic members `m_000000`, `m_000001`, ... (same index, same record, on every machine). */
export function syntheticMembers(count: number, offset = 0): MemberRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + offset;
    const [payerId, payerName] = PAYERS[i % PAYERS.length]!;
    const year = 1940 + ((i * 7) % 65);
    const month = ((i * 5) % 12) + 1;
    const day = ((i * 11) % 28) + 1;
    return {
      memberId: `m_${i.toString().padStart(6, '0')}`,
      firstName: FIRST[i % FIRST.length]!,
      lastName: LAST[(i * 3) % LAST.length]!,
      dateOfBirth: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
      gender: i % 3 === 0 ? 'M' : i % 3 === 1 ? 'F' : 'U',
      payerMemberId: `W${(100000000 + i * 7919).toString()}`,
      payerId,
      payerName,
      timeZone: ZONES[i % ZONES.length]!,
      sponsorId: `sponsor-${(i % 5) + 1}`,
    };
  });
}

/** An in-memory `MemberRecordSource` over the given records. */
export function createFixtureMemberSource(records: Iterable<MemberRecord>): MemberRecordSource & { size: number } {
  const byId = new Map<string, MemberRecord>();
  for (const r of records) byId.set(r.memberId, r);
  return {
    size: byId.size,
    getMemberRecords(memberIds: readonly string[]) {
      const out = new Map<string, MemberRecord>();
      for (const id of memberIds) {
        const r = byId.get(id);
        if (r) out.set(id, r);
      }
      return Promise.resolve(out);
    },
  };
}
