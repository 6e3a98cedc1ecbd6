import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { createFixtureMemberSource, STEDI_MOCK_MEMBERS, syntheticMembers } from '../../lib/member-fixtures';
import type { MemberRecord } from '../../lib/member-record';
import { createStediSim, type StediSim } from '../../stedi-sim/server';
import { toErrorDetails } from '../../api/coverage-mapping';
import { checkEligibilityToVerdict } from './eligibility';
import { createHttpStediGateway, type StediGateway } from './gateway';
import { buildEligibilityRequest } from './request-builder';

const provider = { npi: '1999999984', organizationName: 'Included Health' };
let sim: StediSim;
let gateway: StediGateway;

beforeAll(async () => {
  sim = createStediSim({ timeScale: 0, logger: silentLogger() });
  const { url } = await sim.start(0);
  gateway = createHttpStediGateway({ baseUrl: url, apiKey: 'sim-key' });
});
afterAll(() => sim.stop());
afterEach(() => sim.setFaults({ reset: true }));

const check = (member: MemberRecord) => checkEligibilityToVerdict(gateway, buildEligibilityRequest({ member, provider, controlNumberSeed: `test:${member.memberId}` }));

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
  throw new Error('expected an ApplicationFailure');
}

describe('checkEligibilityToVerdict (member record -> request -> simulator -> summary)', () => {
  it('returns an active coverage summary for an active member', async () => {
    const v = await check(STEDI_MOCK_MEMBERS.aetnaActive);
    expect(v.coverageAnswer).toBe(true);
    expect(v.summary.status).toBe('active');
    expect(v.summary.payer.id).toBe('60054');
  });

  it('returns definitive rejections as cacheable error summaries', async () => {
    const v = await check(STEDI_MOCK_MEMBERS.uhcAaa75);
    expect(v.coverageAnswer).toBe(false);
    expect(v.summary.status).toBe('error');
    expect(v.summary.errors.map((e) => e.code)).toEqual(['75']);
  });

  it('returns a payer connectivity answer (AAA 42) as a retry-later error summary, cached with the error TTL', async () => {
    const v = await check(STEDI_MOCK_MEMBERS.uhcAaa42);
    expect([v.coverageAnswer, v.retryLater, v.classification.kind]).toEqual([false, true, 'payer-unavailable']);
    expect(v.summary.status).toBe('error');
    expect(v.summary.errors.map((e) => e.code)).toEqual(['42']);
    const definitive = await check(STEDI_MOCK_MEMBERS.uhcAaa75);
    expect(definitive.retryLater).toBe(false);
  });

  // Probe p18 F11: EligibilityErrorDetail.http_status was 0 on every answer, fresh live ones included.
  it('carries the HTTP status Stedi answered with into the summary and the error details a client sees', async () => {
    const on200 = await check(STEDI_MOCK_MEMBERS.uhcAaa72);
    expect(on200.summary.httpStatus).toBe(200);
    expect(toErrorDetails(on200.summary).map((e) => [e.code, e.httpStatus])).toEqual([['72', 200]]);

    // An unknown payer: Stedi answers HTTP 400 + AAA 79 ("payer not set up"), which no retry fixes.
    const request = buildEligibilityRequest({ member: STEDI_MOCK_MEMBERS.uhcAaa72, provider, controlNumberSeed: 'test:bad-payer' });
    const on400 = await checkEligibilityToVerdict(gateway, { ...request, tradingPartnerServiceId: 'BADPAYER' });
    expect(on400.summary.httpStatus).toBe(400);
    // Through the cache's JSON form, as a cached entry is read back.
    const cached = JSON.parse(JSON.stringify(on400.summary)) as typeof on400.summary;
    expect(toErrorDetails(cached).map((e) => [e.code, e.httpStatus, e.retryable])).toEqual([['79', 400, false]]);
    // An entry cached before the status was recorded keeps 0 (unknown), as the proto says.
    const { httpStatus: _dropped, ...old } = cached;
    expect(toErrorDetails(old).map((e) => [e.httpStatus, e.retryable])).toEqual([[0, true]]);
  });

  it('throws a retryable failure for a 5xx', async () => {
    sim.setFaults({ burst5xx: { count: 1, status: 500 } });
    const f500 = await failureOf(check(STEDI_MOCK_MEMBERS.aetnaActive));
    expect([f500.type, f500.nonRetryable]).toEqual([ErrorType.StediServer, false]);
  });

  it('throws a non-retryable failure for an invalid request', async () => {
    const bad = buildEligibilityRequest({ member: STEDI_MOCK_MEMBERS.aetnaActive, provider: { npi: '12', organizationName: 'X' }, controlNumberSeed: 's' });
    const f = await failureOf(checkEligibilityToVerdict(gateway, bad));
    expect([f.type, f.nonRetryable]).toEqual([ErrorType.StediValidation, true]);
  });

  it('checks synthetic fixture members deterministically', async () => {
    const source = createFixtureMemberSource(syntheticMembers(12));
    const records = await source.getMemberRecords(['m_000000', 'm_000005', 'm_000011', 'missing']);
    expect([...records.keys()]).toEqual(['m_000000', 'm_000005', 'm_000011']);
    for (const m of records.values()) {
      const first = await check(m).then((v) => v.summary.status, (e: ApplicationFailure) => e.type);
      const second = await check(m).then((v) => v.summary.status, (e: ApplicationFailure) => e.type);
      expect(second).toBe(first);
      expect(['active', 'inactive', 'error']).toContain(first);
    }
  });
});
