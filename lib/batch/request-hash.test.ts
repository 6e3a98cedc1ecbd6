import { create, toJson, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { MemberQuerySchema } from '../../gen/rte/v1/member_query_pb';
import { SchedulingWindow } from '../../gen/rte/v1/common_pb';
import { canonicalMemberQuery, legacySubmitRequestHash, ORDERED_QUERY_LISTS, sameSubmitRequest, submitRequestHash } from './request-hash';

const q = (init: MessageInitShape<typeof MemberQuerySchema>) => toJson(MemberQuerySchema, create(MemberQuerySchema, init));
const options = { schedulingWindow: 'MORNING', cacheMode: 'CACHE_ONLY' };
const hashOf = (init: MessageInitShape<typeof MemberQuerySchema>, opts: unknown = options) => submitRequestHash({ kind: 'query', query: q(init) }, opts);

describe('canonicalMemberQuery', () => {
  test.each<[string, MessageInitShape<typeof MemberQuerySchema>, MessageInitShape<typeof MemberQuerySchema>]>([
    ['sponsor ids reversed', { sponsorIds: ['ACME_CORP', 'SPONSOR_123'], limit: 2 }, { sponsorIds: ['SPONSOR_123', 'ACME_CORP'], limit: 2 }],
    ['a sponsor id written twice', { sponsorIds: ['ACME_CORP', 'SPONSOR_123'] }, { sponsorIds: ['SPONSOR_123', 'ACME_CORP', 'SPONSOR_123'] }],
    ['state codes reordered', { demographicsFilter: { states: ['CA', 'TX', 'NY'] } }, { demographicsFilter: { states: ['NY', 'CA', 'TX', 'CA'] } }],
    ['population ids reordered', { populationIds: ['p1', 'p2'] }, { populationIds: ['p2', 'p1'] }],
    ['healthcare service and contract plan ids reordered', { benefitContractFilter: { healthcareServiceIds: ['VPC', 'BH_THERAPY'], insurancePlanIds: ['a', 'b'] } }, { benefitContractFilter: { healthcareServiceIds: ['BH_THERAPY', 'VPC'], insurancePlanIds: ['b', 'a'] } }],
    ['plan filter ids reordered', { insurancePlanFilter: { insurancePlanIds: ['x', 'y'], payerNames: ['Aetna', 'Cigna'] } }, { insurancePlanFilter: { insurancePlanIds: ['y', 'x'], payerNames: ['Cigna', 'Aetna'] } }],
    ['enum lists reordered', { accountStatuses: [1, 2] }, { accountStatuses: [2, 1, 2] }],
    ['flag keys in another order', { requiredFeatureFlags: { a: true, b: false } }, { requiredFeatureFlags: { b: false, a: true } }],
    ['feature options reordered, operator EQUALS and type STRING spelled out', { featureOptions: [{ name: 'x', value: '1' }, { name: 'y', value: '2', operator: 2 }] }, { featureOptions: [{ name: 'y', value: '2', operator: 2 }, { name: 'x', value: '1', operator: 1, type: 2 }] }],
    ['sort direction ASCENDING spelled out', { sortOrder: { field: 1 } }, { sortOrder: { field: 1, direction: 1 } }],
    ['an empty filter message', {}, { demographicsFilter: {}, sortOrder: {} }],
    ['scheduling_window in the query (compared as the resolved option)', { sponsorIds: ['A'] }, { sponsorIds: ['A'], schedulingWindow: SchedulingWindow.MORNING }],
  ])('%s: the same canonical form and hash', (_name, a, b) => {
    expect(canonicalMemberQuery(q(a))).toEqual(canonicalMemberQuery(q(b)));
    expect(hashOf(a)).toBe(hashOf(b));
  });

  test.each<[string, MessageInitShape<typeof MemberQuerySchema>, MessageInitShape<typeof MemberQuerySchema>]>([
    ['another sponsor', { sponsorIds: ['ACME_CORP', 'SPONSOR_123'] }, { sponsorIds: ['ACME_CORP', 'SPONSOR_999'] }],
    ['one sponsor fewer', { sponsorIds: ['ACME_CORP', 'SPONSOR_123'] }, { sponsorIds: ['ACME_CORP'] }],
    ['another limit', { sponsorIds: ['A'], limit: 2 }, { sponsorIds: ['A'], limit: 3 }],
    ['descending instead of ascending', { sortOrder: { field: 1, direction: 1 } }, { sortOrder: { field: 1, direction: 2 } }],
    ['a flag required false instead of true', { requiredFeatureFlags: { a: true } }, { requiredFeatureFlags: { a: false } }],
    ['another operator', { featureOptions: [{ name: 'x', value: '1' }] }, { featureOptions: [{ name: 'x', value: '1', operator: 2 }] }],
    ['an optional bool set to false (it selects)', {}, { coverageFilter: { hasDualCoverage: false } }],
  ])('%s: a different request', (_name, a, b) => {
    expect(hashOf(a)).not.toBe(hashOf(b));
  });

  test('the resolved window is compared: a different resolved window is a different request', () => {
    expect(hashOf({ sponsorIds: ['A'] }, { ...options, schedulingWindow: 'EVENING' })).not.toBe(hashOf({ sponsorIds: ['A'] }));
  });

  test('every repeated field of MemberQuery is classified; none keeps its order', () => {
    const lists: string[] = [];
    const walk = (m: DescMessage, prefix: string, depth: number) => {
      if (depth > 3) return;
      for (const f of m.fields) {
        const path = prefix ? `${prefix}.${f.jsonName}` : f.jsonName;
        if (f.fieldKind === 'list') lists.push(path);
        if (f.fieldKind === 'message' && !f.message.typeName.startsWith('google.protobuf.')) walk(f.message, path, depth + 1);
      }
    };
    walk(MemberQuerySchema, '', 0);
    // A new repeated field fails this list: decide whether its order means something (then add it to
    // ORDERED_QUERY_LISTS) before extending it.
    expect(lists.sort()).toEqual(
      [
        'accountStatuses',
        'benefitContractFilter.healthcareServiceIds',
        'benefitContractFilter.insurancePlanIds',
        'biometricFilter.deviceTypes',
        'careJourneyFilter.careGapTypes',
        'careJourneyFilter.chronicConditions',
        'careJourneyFilter.enrolledPrograms',
        'careJourneyFilter.notEnrolledPrograms',
        'careJourneyFilter.serviceDeliveryTypes',
        'coverageFilter.coverageStatuses',
        'coverageFilter.coverageTypes',
        'coverageFilter.payerNames',
        'demographicsFilter.ageGroups',
        'demographicsFilter.biologicalSexes',
        'demographicsFilter.cities',
        'demographicsFilter.genderIdentities',
        'demographicsFilter.preferredSpokenLanguages',
        'demographicsFilter.preferredWrittenLanguages',
        'demographicsFilter.raceEthnicities',
        'demographicsFilter.states',
        'demographicsFilter.zipCodes',
        'engagementFilter.cohorts',
        'engagementFilter.usedFeatures',
        'familyFilter.memberRoles',
        'familyFilter.relationships',
        'featureOptions',
        'insurancePlanFilter.employerIds',
        'insurancePlanFilter.groupNumbers',
        'insurancePlanFilter.insurancePlanIds',
        'insurancePlanFilter.metalTiers',
        'insurancePlanFilter.networkTypes',
        'insurancePlanFilter.payerNames',
        'insurancePlanFilter.planTypes',
        'insurancePlanFilter.policyNumbers',
        'populationIds',
        'providerNetworkFilter.networkIds',
        'providerNetworkFilter.providerTypes',
        'recentEventFilter.eventCategories',
        'recentEventFilter.eventTypes',
        'recentEventFilter.featureNames',
        'recentEventFilter.sourceServices',
        'sponsorIds',
        'temporalEventFilter.lifeEventTypes',
      ].sort(),
    );
    expect([...ORDERED_QUERY_LISTS]).toEqual([]);
  });
});

describe('sameSubmitRequest', () => {
  const written = q({ sponsorIds: ['ACME_CORP', 'SPONSOR_123'], limit: 2 });
  const reversed = q({ sponsorIds: ['SPONSOR_123', 'ACME_CORP'], limit: 2 });

  test('a batch started before the upgrade (query hash as written) is still recognised when repeated as written', () => {
    const stored = legacySubmitRequestHash({ kind: 'query', query: written }, options);
    expect(stored).not.toBe(submitRequestHash({ kind: 'query', query: written }, options));
    expect(sameSubmitRequest(stored, { kind: 'query', query: written }, options)).toBe(true);
    // A different request is still refused against the old hash.
    expect(sameSubmitRequest(stored, { kind: 'query', query: q({ sponsorIds: ['ACME_CORP'], limit: 2 }) }, options)).toBe(false);
  });

  test('a new batch (canonical hash) matches its repeat written differently, not a different query', () => {
    const stored = submitRequestHash({ kind: 'query', query: written }, options);
    expect(sameSubmitRequest(stored, { kind: 'query', query: reversed }, options)).toBe(true);
    expect(sameSubmitRequest(stored, { kind: 'query', query: q({ sponsorIds: ['ACME_CORP', 'SPONSOR_999'], limit: 2 }) }, options)).toBe(false);
  });

  test('member ids hash as before (a set), so batches of ids started before keep matching', () => {
    const ids = { kind: 'ids' as const, memberIds: ['m_2', 'm_1'] };
    expect(submitRequestHash(ids, options)).toBe(legacySubmitRequestHash(ids, options));
    expect(submitRequestHash(ids, options)).toBe(submitRequestHash({ kind: 'ids', memberIds: ['m_1', 'm_2'] }, options));
  });
});
