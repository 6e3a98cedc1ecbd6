import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_SUMMARY_BENEFITS, normalizeEligibilityResponse, stediDateToIso } from './coverage-summary';

// Stedi's own example bodies from the OpenAPI specs the simulator ships (stedi-sim/openapi/).
type Spec = { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { examples: Record<string, { value: unknown }> }> }> }>> };
function example(file: string, path: string, method: string, status: string): unknown {
  const spec = JSON.parse(readFileSync(join(__dirname, '..', 'stedi-sim', 'openapi', file), 'utf8')) as Spec;
  const examples = spec.paths[path]?.[method]?.responses[status]?.content['application/json']?.examples ?? {};
  return Object.values(examples)[0]?.value;
}

const uhcDependentActive = example('healthcare.json', '/change/medicalnetwork/eligibility/v3', 'post', '200');
const aaa44Rejection = example('healthcare.json', '/change/medicalnetwork/eligibility/v3', 'post', '400');
const pollingPage = example('manager.json', '/eligibility-manager/polling/batch-eligibility', 'get', '200') as { items: unknown[] };

describe('normalizeEligibilityResponse', () => {
  it('summarizes Stedi\'s documented active UHC response', () => {
    const s = normalizeEligibilityResponse(uhcDependentActive);
    expect(s.status).toBe('active');
    expect(s.payer).toEqual({ id: '87726', name: 'UNITEDHEALTHCARE' });
    expect(s.plan).toEqual({ name: 'CHOICE PLUS', number: 'UVdQAC5j6f', groupNumber: '186084', insuranceType: 'Commercial' });
    expect(s.coverage).toEqual({ start: '2024-01-01', end: '2024-12-31' });
    expect(s.errors).toEqual([]);
    expect(s.stediCheckId).toBe('ec_019f4829-fecb-7b60-86a9-6c900ad94bfb');
    // Only the important benefit codes survive, STC 30 first, capped.
    expect(s.benefits.length).toBeLessThanOrEqual(MAX_SUMMARY_BENEFITS);
    expect(new Set(s.benefits.map((b) => b.code))).toEqual(new Set(['1', 'C', 'G', 'A', 'B']));
    expect(s.benefits[0]).toMatchObject({ serviceTypeCode: '30', code: '1', name: 'Active Coverage', inNetwork: null });
    expect(s.benefits).toContainEqual({
      serviceTypeCode: '30', name: 'Out of Pocket (Stop Loss)', code: 'G', coverageLevel: 'FAM', inNetwork: true, amount: 6850, timePeriod: 'Calendar Year',
    });
    expect(s.benefits.some((b) => b.code === 'F')).toBe(false);
  });

  it('reports a payer AAA rejection (400 body) as an error with the AAA details', () => {
    const s = normalizeEligibilityResponse(aaa44Rejection);
    expect(s.status).toBe('error');
    expect(s.errors).toEqual([{ code: '44', description: 'Invalid/Missing Provider Name', followupAction: 'Please Correct and Resubmit' }]);
    expect(s.benefits).toEqual([]);
    expect(s.coverage).toEqual({ start: '2024-07-26', end: null });
  });

  it('handles batch polling items: unknown payer error and active Cigna coverage', () => {
    const [failed, active] = pollingPage.items;
    const f = normalizeEligibilityResponse(failed);
    expect(f.status).toBe('error');
    expect(f.errors.map((e) => e.code)).toEqual(['79']);
    expect(f.payer.id).toBe('TEST');
    const a = normalizeEligibilityResponse(active);
    expect(a.status).toBe('active');
    expect(a.benefits).toContainEqual({ serviceTypeCode: '30', name: 'Co-Insurance', code: 'A', coverageLevel: 'IND', inNetwork: true, percent: 0.1 });
  });

  it('detects inactive coverage and unknown bodies', () => {
    expect(normalizeEligibilityResponse({ benefitsInformation: [{ code: '6', name: 'Inactive', serviceTypeCodes: ['30'] }], errors: [] }).status).toBe('inactive');
    expect(normalizeEligibilityResponse({ planStatus: [{ statusCode: '6' }] }).status).toBe('inactive');
    expect(normalizeEligibilityResponse({}).status).toBe('unknown');
    expect(normalizeEligibilityResponse(null).status).toBe('unknown');
  });

  it('merges entity-level aaaErrors with top-level errors without duplicates', () => {
    const err = { code: '72', description: 'Invalid/Missing Subscriber/Insured ID', followupAction: 'Please Correct and Resubmit' };
    const s = normalizeEligibilityResponse({ errors: [err], subscriber: { aaaErrors: [err] } });
    expect(s.errors).toEqual([err]);
    expect(s.status).toBe('error');
  });

  it('is deterministic and independent of benefit order', () => {
    const body = uhcDependentActive as { benefitsInformation: unknown[] };
    const reversed = { ...body, benefitsInformation: [...body.benefitsInformation].reverse() };
    expect(JSON.stringify(normalizeEligibilityResponse(reversed))).toBe(JSON.stringify(normalizeEligibilityResponse(body)));
    const s = normalizeEligibilityResponse(body);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('converts Stedi dates', () => {
    expect(stediDateToIso('20240131')).toBe('2024-01-31');
    expect(stediDateToIso('2024-01-31')).toBeNull();
    expect(stediDateToIso(undefined)).toBeNull();
  });
});
