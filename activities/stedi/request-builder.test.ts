import type { MemberRecord } from '../../lib/member-record';
import { batchNameFromSeed, buildBatchItem, buildEligibilityRequest, controlNumberFromSeed, toStediDate } from './request-builder';

const member: MemberRecord = {
  memberId: 'm_000123',
  firstName: 'Jane',
  lastName: 'Doe',
  dateOfBirth: '2004-04-04',
  gender: 'F',
  payerMemberId: 'AETNA12345',
  payerId: '60054',
  payerName: 'Aetna',
  timeZone: 'America/New_York',
  sponsorId: 's_1',
};
const provider = { npi: '1999999984', organizationName: 'Included Health' };

describe('buildEligibilityRequest', () => {
  it('builds Stedi\'s v3 request shape from a member record', () => {
    const req = buildEligibilityRequest({ member, provider, controlNumberSeed: 'wf-1' });
    expect(req).toEqual({
      controlNumber: controlNumberFromSeed('wf-1'),
      tradingPartnerServiceId: '60054',
      tradingPartnerName: 'Aetna',
      provider: { organizationName: 'Included Health', npi: '1999999984' },
      subscriber: { memberId: 'AETNA12345', firstName: 'Jane', lastName: 'Doe', dateOfBirth: '20040404', gender: 'F' },
      encounter: { serviceTypeCodes: ['30'] },
    });
    // The platform's own member id never goes to Stedi.
    expect(JSON.stringify(req)).not.toContain('m_000123');
  });

  it('uses the given service type codes and date of service, omits unknown gender', () => {
    const req = buildEligibilityRequest({ member: { ...member, gender: 'U' }, provider, controlNumberSeed: 's', serviceTypeCodes: ['35'], dateOfService: '2026-03-01' });
    expect(req.encounter).toEqual({ serviceTypeCodes: ['35'], dateOfService: '20260301' });
    expect(req.subscriber.gender).toBeUndefined();
  });

  it('clips names and strips characters Stedi rejects from member ids', () => {
    const req = buildEligibilityRequest({ member: { ...member, firstName: 'A'.repeat(50), payerMemberId: 'W12/34.56' }, provider, controlNumberSeed: 's' });
    expect(req.subscriber.firstName).toHaveLength(35);
    expect(req.subscriber.memberId).toBe('W123456');
  });

  it('rejects malformed dates of birth', () => {
    expect(() => buildEligibilityRequest({ member: { ...member, dateOfBirth: '04/04/2004' }, provider, controlNumberSeed: 's' })).toThrow();
    expect(toStediDate('20040404')).toBe('20040404');
  });
});

describe('control numbers and batch items', () => {
  it('derives a stable 9-digit control number from the seed', () => {
    const a = controlNumberFromSeed('workflow-abc');
    expect(a).toMatch(/^\d{9}$/);
    expect(controlNumberFromSeed('workflow-abc')).toBe(a);
    expect(controlNumberFromSeed('workflow-abd')).not.toBe(a);
  });

  it('adds the submitter transaction identifier to batch items', () => {
    const item = buildBatchItem({ member, provider, controlNumberSeed: 'b1:0', submitterTransactionIdentifier: 'h_abc' });
    expect(item.submitterTransactionIdentifier).toBe('h_abc');
    expect(item.tradingPartnerServiceId).toBe('60054');
  });

  it('makes valid, deterministic batch names', () => {
    const n = batchNameFromSeed('batch/client-svc/job 42');
    expect(n).toMatch(/^[a-zA-Z0-9\-_]{1,100}$/);
    expect(batchNameFromSeed('batch/client-svc/job 42')).toBe(n);
    expect(batchNameFromSeed('batch/client-svc/job_42')).not.toBe(n);
  });
});
