import { clone, create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { FieldError } from '../lib/errors';
import { SortOrderSchema, type AccountStatus } from '../gen/rte/v1/common_pb';
import { MemberQuerySchema, type InsurancePlanFilter_PlanType, type MemberQuery } from '../gen/rte/v1/member_query_pb';
import { COMPLEXITY_EXAMPLES, DOC_EXAMPLES } from './doc-examples';
import { PgFeatureFlagProvider, resolveFlagSponsors } from './feature-flags';
import { PgMemberDirectory } from './pg-member-directory';
import { compileMemberQuery } from './query/compile';
import { evaluateReference, loadReferenceData, type ReferenceData } from './reference-evaluator';
import { createTestDirectory, TEST_REFERENCE_TIME, type TestDirectory } from './test-support';

jest.setTimeout(120_000);

let db: TestDirectory;
let dir: PgMemberDirectory;
let ref: ReferenceData;
let sponsors: string[];

beforeAll(async () => {
  // Seed 1 gives every doc usage example a non-empty result at 3,000 members.
  db = await createTestDirectory({ seed: 1, population: 3000 });
  dir = new PgMemberDirectory(db.pool, { now: () => TEST_REFERENCE_TIME });
  ref = await loadReferenceData(db.pool);
  sponsors = (await db.pool.query<{ sponsor_id: string }>('SELECT sponsor_id FROM sponsors')).rows.map((r) => r.sponsor_id);
}, 300_000);

afterAll(async () => {
  await db?.drop();
});

/** Every member the directory returns for `query`, paging with the cursor. */
async function pageAll(query: MemberQuery, pageSize?: number): Promise<{ ids: string[]; pages: number }> {
  const q = clone(MemberQuerySchema, query);
  if (pageSize !== undefined) q.limit = pageSize;
  const ids: string[] = [];
  let pages = 0;
  for (;;) {
    const page = await dir.queryMembers(q);
    pages++;
    ids.push(...page.members.map((m) => m.memberId));
    if (!page.nextCursor) break;
    q.cursor = page.nextCursor;
    if (pages > 10_000) throw new Error('runaway paging');
  }
  return { ids, pages };
}

async function expected(query: MemberQuery): Promise<string[]> {
  const flagSponsors = await resolveFlagSponsors(new PgFeatureFlagProvider(db.pool), query.requiredFeatureFlags, sponsors);
  return evaluateReference(ref, query, { now: TEST_REFERENCE_TIME, flagSponsors });
}

describe('design doc MemberQuery examples agree with the reference evaluator', () => {
  const nonEmpty: string[] = [];
  test.each([...DOC_EXAMPLES, ...COMPLEXITY_EXAMPLES].map((e) => [e.name, e.query] as const))('%s', async (_name, query) => {
    const want = await expected(query);
    // Small pages force many cursor hops; the example's own limit is used too when it has one.
    const small = await pageAll(query, 37);
    expect(small.ids).toEqual(want);
    expect(new Set(small.ids).size).toBe(small.ids.length);
    if (query.limit > 0) expect((await pageAll(query)).ids).toEqual(want);
    expect(await dir.countMembers(query)).toBe(want.length);
    if (want.length > 0) nonEmpty.push(_name);
    // Example 9b asks for at-risk members who last logged in a month or more before with P ≥ 0.4: the predictor
    // (member_predictions, issue 9) honestly puts them lower, so it is checked without its probability bound too.
    if (want.length === 0 && query.minAppUsageProbability > 0) {
      const relaxed = clone(MemberQuerySchema, query);
      relaxed.minAppUsageProbability = 0;
      const wantRelaxed = await expected(relaxed);
      expect((await pageAll(relaxed, 37)).ids).toEqual(wantRelaxed);
      if (wantRelaxed.length > 0) nonEmpty.push(_name);
    }
  });

  test('every doc usage example selects someone from the seeded population (the differential test is not vacuous)', () => {
    expect(DOC_EXAMPLES.map((e) => e.name).filter((n) => !nonEmpty.includes(n))).toEqual([]);
  });
});

describe('member records for request building', () => {
  test('bulk lookup returns what Stedi needs and omits unknown ids', async () => {
    const records = await dir.getMemberRecords(['m_0000001', 'm_0000002', 'm_9999999']);
    expect([...records.keys()].sort()).toEqual(['m_0000001', 'm_0000002']);
    const r = records.get('m_0000001');
    expect(r?.dateOfBirth).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(r?.payerId).toMatch(/^[0-9A-Z]{3,5}$/);
    expect(r?.timeZone).toMatch(/^[A-Za-z]+\/[A-Za-z_]+$/);
    expect(['M', 'F', 'U']).toContain(r?.gender);
  });
});

describe('bad input is rejected with the field path', () => {
  const cases: [string, () => MemberQuery, string][] = [
    ['unknown account status', () => create(MemberQuerySchema, { accountStatuses: [42 as AccountStatus] }), 'member_query.account_statuses[0]'],
    ['unknown plan type', () => create(MemberQuerySchema, { insurancePlanFilter: { planTypes: [1, 99 as InsurancePlanFilter_PlanType] } }), 'member_query.insurance_plan_filter.plan_types[1]'],
    ['min_age > max_age', () => create(MemberQuerySchema, { demographicsFilter: { minAge: 40, maxAge: 30 } }), 'member_query.demographics_filter.min_age'],
    ['malformed predicate', () => create(MemberQuerySchema, { predicateFilter: { expression: 'AGE >= 18 AND FOO = 1' } }), 'member_query.predicate_filter.expression'],
    ['negative limit', () => create(MemberQuerySchema, { limit: -1 }), 'member_query.limit'],
    ['garbage cursor', () => create(MemberQuerySchema, { cursor: 'not a cursor!' }), 'member_query.cursor'],
  ];
  test.each(cases)('%s', async (_name, build, path) => {
    const err = await dir.queryMembers(build()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).fieldPath).toBe(path);
  });

  test('SubmitBatch\'s check refuses a sponsor id or a feature flag the directory does not know, naming it; a search still answers', async () => {
    const known = sponsors[0]!;
    await expect(dir.checkQuery(create(MemberQuerySchema, { sponsorIds: [known] }))).resolves.toBeUndefined();
    const typo = create(MemberQuerySchema, { sponsorIds: [known, `${known}_TYPO`] });
    const err = await dir.checkQuery(typo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FieldError);
    expect((err as FieldError).fieldPath).toBe('member_query.sponsor_ids[1]');
    // A typo required false would otherwise select every sponsor; required true, nobody.
    for (const wanted of [false, true]) {
      const flagErr = await dir.checkQuery(create(MemberQuerySchema, { requiredFeatureFlags: { 'vpc-expanson': wanted } })).catch((e: unknown) => e);
      expect((flagErr as FieldError).fieldPath).toBe('member_query.required_feature_flags["vpc-expanson"]');
    }
    await expect(dir.checkQuery(create(MemberQuerySchema, { requiredFeatureFlags: { 'vpc-expansion': true } }))).resolves.toBeUndefined();
    // A sponsor added after the catalog was cached is known at once.
    await db.pool.query("INSERT INTO sponsors (sponsor_id, sponsor_name, sponsor_type, is_file_based_enrollment) VALUES ('NEW_SPONSOR_X', 'New', 'EMPLOYER', false)");
    await expect(dir.checkQuery(create(MemberQuerySchema, { sponsorIds: ['NEW_SPONSOR_X'] }))).resolves.toBeUndefined();
    await db.pool.query("DELETE FROM sponsors WHERE sponsor_id = 'NEW_SPONSOR_X'");
    // A search (queryMembers) is not refused: it answers with what the query selects.
    await expect(dir.queryMembers(typo)).resolves.toBeDefined();
  });

  test('SubmitBatch\'s check refuses an unknown population, plan, contract or service id and a state that is not a US state code, naming the field and index', async () => {
    const one = async <T>(sql: string) => (await db.pool.query<{ v: T }>(sql)).rows[0]!.v;
    const population = await one<string>('SELECT population_id AS v FROM populations LIMIT 1');
    const plan = await one<string>('SELECT plan_id AS v FROM insurance_plans LIMIT 1');
    const contract = await one<string>('SELECT contract_id AS v FROM benefit_contracts LIMIT 1');
    const service = await one<string>('SELECT healthcare_service_ids[1] AS v FROM benefit_contracts LIMIT 1');
    const known: MessageInitShape<typeof MemberQuerySchema> = {
      populationIds: [population],
      benefitContractFilter: { healthcareServiceIds: [service], insurancePlanIds: [plan] },
      predicateFilter: { benefitContractId: contract, healthcareServiceId: service },
      insurancePlanFilter: { insurancePlanIds: [plan] },
      demographicsFilter: { states: ['CA', 'DC', 'PR'] },
    };
    await expect(dir.checkQuery(create(MemberQuerySchema, known))).resolves.toBeUndefined();
    const cases: [MessageInitShape<typeof MemberQuerySchema>, string, RegExp][] = [
      [{ populationIds: [population, 'NOPE_POP'] }, 'member_query.population_ids[1]', /unknown population id "NOPE_POP"/],
      [{ benefitContractFilter: { healthcareServiceIds: ['NOPE'] } }, 'member_query.benefit_contract_filter.healthcare_service_ids[0]', /unknown healthcare service id "NOPE"/],
      [{ benefitContractFilter: { healthcareServiceIds: [service], insurancePlanIds: [plan, 'NOPE'] } }, 'member_query.benefit_contract_filter.insurance_plan_ids[1]', /unknown insurance plan id "NOPE"/],
      [{ predicateFilter: { benefitContractId: 'nope' } }, 'member_query.predicate_filter.benefit_contract_id', /unknown benefit contract id "nope"/],
      [{ predicateFilter: { healthcareServiceId: 'nope' } }, 'member_query.predicate_filter.healthcare_service_id', /unknown healthcare service id "nope"/],
      [{ insurancePlanFilter: { insurancePlanIds: ['NOPE'] } }, 'member_query.insurance_plan_filter.insurance_plan_ids[0]', /unknown insurance plan id "NOPE"/],
      [{ demographicsFilter: { states: ['CA', 'ZZ'] } }, 'member_query.demographics_filter.states[1]', /"ZZ" is not a US state code/],
      [{ demographicsFilter: { states: ['ca'] } }, 'member_query.demographics_filter.states[0]', /not a US state code/],
    ];
    for (const [init, path, message] of cases) {
      const err = await dir.checkQuery(create(MemberQuerySchema, init)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FieldError);
      expect([(err as FieldError).fieldPath, (err as FieldError).message]).toEqual([path, expect.stringMatching(message)]);
      // A search still answers (nobody selected).
      await expect(dir.queryMembers(create(MemberQuerySchema, init))).resolves.toBeDefined();
    }
    // A population added after the catalog was cached is known at once.
    const sponsor = sponsors[0]!;
    await db.pool.query("INSERT INTO populations (population_id, sponsor_id, description) VALUES ('NEW_POP_X', $1, 'new')", [sponsor]);
    try {
      await expect(dir.checkQuery(create(MemberQuerySchema, { populationIds: ['NEW_POP_X'] }))).resolves.toBeUndefined();
    } finally {
      await db.pool.query("DELETE FROM populations WHERE population_id = 'NEW_POP_X'");
    }
  });

  test('a cursor from one query is rejected by another', async () => {
    const a = create(MemberQuerySchema, { demographicsFilter: { states: ['CA'] }, limit: 5 });
    const page = await dir.queryMembers(a);
    expect(page.nextCursor).not.toBeNull();
    const b = create(MemberQuerySchema, { demographicsFilter: { states: ['TX'] }, limit: 5, cursor: page.nextCursor ?? '' });
    await expect(dir.queryMembers(b)).rejects.toThrow('member_query.cursor: cursor was issued for a different query');
    // ...but the same query with a different page size accepts it.
    const c = create(MemberQuerySchema, { demographicsFilter: { states: ['CA'] }, limit: 50, cursor: page.nextCursor ?? '' });
    await expect(dir.queryMembers(c)).resolves.toBeDefined();
  });
});

describe('plan-field predicates compile as a join (issue 10) and select what the reference evaluator does', () => {
  // Plan-only, mixed with member attributes, under NOT / OR / NOT IN, numeric and COALESCEd (METAL_TIER) columns.
  const expressions = [
    "PLAN_TYPE = 'HDHP'",
    "PAYER_ID IN ('60054', '62308', '00611')",
    'HAS_HSA OR INDIVIDUAL_DEDUCTIBLE >= 3000',
    "NOT (PLAN_TYPE IN ('HMO', 'PPO')) AND AGE >= 30",
    "(PLAN_TYPE = 'HDHP' OR IS_VIP) AND NOT HAS_DENTAL_COVERAGE",
    "NOT (METAL_TIER = 'NONE') OR STATE = 'CA'",
    "PAYER NOT IN ('Aetna', 'Cigna') AND NOT IS_SELF_FUNDED AND FAMILY_DEDUCTIBLE < 8000",
    "NOT (NETWORK_TYPE = 'HMO' OR HAS_TELEHEALTH_COVERAGE)",
  ];

  /** The former compilation (a scalar subquery per member), paged with its own cursor. */
  async function pageAllFormer(query: MemberQuery, pageSize: number): Promise<string[]> {
    const q = clone(MemberQuerySchema, query);
    q.limit = pageSize;
    const ids: string[] = [];
    for (;;) {
      const c = compileMemberQuery(q, { now: TEST_REFERENCE_TIME, planAttributes: 'subquery' });
      const rows = (await db.pool.query<{ member_id: string; sort_key: unknown }>(c.sql, c.params)).rows;
      const page = rows.slice(0, c.limit);
      ids.push(...page.map((r) => r.member_id));
      const last = page[page.length - 1];
      if (rows.length <= c.limit || !last) return ids;
      q.cursor = c.cursorAfter(last);
    }
  }

  test.each(expressions)('%s', async (expression) => {
    let nonEmptyPages = 0;
    for (const [field, direction] of [
      [0, 0],
      [1, 2],
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 1],
    ] as const) {
      const query = create(MemberQuerySchema, { predicateFilter: { expression }, sortOrder: { field, direction } });
      const want = await expected(query);
      // Pages of 37 cross the join at many cursor positions: no member twice, none skipped, same order.
      const small = await pageAll(query, 37);
      expect(small.ids).toEqual(want);
      expect(new Set(small.ids).size).toBe(small.ids.length);
      expect((await pageAll(query, 1000)).ids).toEqual(want);
      expect(await dir.countMembers(query)).toBe(want.length);
      expect(await pageAllFormer(query, 101)).toEqual(want);
      if (want.length > 37) nonEmptyPages++;
    }
    expect(nonEmptyPages).toBeGreaterThan(0); // not vacuous: every expression spans several pages
  });

  test('combined with other filters and a contract scope, the page and the count agree with the reference', async () => {
    const queries = [
      create(MemberQuerySchema, { accountStatuses: [1], demographicsFilter: { states: ['CA', 'TX', 'NY'] }, predicateFilter: { expression: "PLAN_TYPE IN ('HDHP', 'PPO') OR NOT HAS_HSA" } }),
      create(MemberQuerySchema, { engagementFilter: { hasCompletedOnboarding: true }, predicateFilter: { expression: "NOT (PAYER_ID = '60054') AND AGE < 65" }, sortOrder: { field: 3, direction: 1 } }),
      ...DOC_EXAMPLES.filter((e) => /PLAN_TYPE|PAYER|HAS_|DEDUCTIBLE|METAL_TIER|NETWORK_TYPE/.test(e.query.predicateFilter?.expression ?? '')).map((e) => e.query),
    ];
    for (const query of queries) {
      const want = await expected(query);
      expect((await pageAll(query, 37)).ids).toEqual(want);
      expect(await dir.countMembers(query)).toBe(want.length);
    }
  });

  test('the count plan reads the plans once instead of a subquery per member', async () => {
    const query = create(MemberQuerySchema, { predicateFilter: { expression: "(PLAN_TYPE = 'HDHP' OR IS_VIP) AND NOT HAS_DENTAL_COVERAGE" } });
    const plan = async (planAttributes: 'join' | 'subquery'): Promise<string> => {
      const c = compileMemberQuery(query, { now: TEST_REFERENCE_TIME, planAttributes });
      return (await db.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${c.countSql}`, c.countParams)).rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    expect(await plan('subquery')).toContain('SubPlan'); // the former shape, for contrast
    const now = await plan('join');
    expect(now).not.toContain('SubPlan');
    expect(now).toMatch(/insurance_plans mpl/);
  });
});

describe('random queries from the filter space agree with the reference evaluator', () => {
  const sub = <T>(xs: readonly T[]) => fc.subarray([...xs], { maxLength: Math.min(3, xs.length) });
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const day = (iso: string) => timestampFromDate(new Date(iso));
  const dates = fc.constantFrom('2024-08-20T00:00:00Z', '2024-10-01T00:00:00Z', '2024-11-01T12:30:00Z', '2024-11-14T00:00:00Z').map(day);
  const hours = fc.constantFrom(6, 24, 72, 168, 336, 720).map((h) => ({ seconds: BigInt(h * 3600), nanos: 0 }));

  const demographics = fc.record(
    {
      minAge: opt(fc.integer({ min: 0, max: 70 })),
      ageGroups: sub([1, 2, 3, 4, 5]),
      states: sub(['CA', 'TX', 'NY', 'FL', 'AZ', 'WA']),
      zipCodes: sub(['9', '94', '100', '77', '0']),
      preferredSpokenLanguages: sub(['en', 'es', 'zh']),
      biologicalSexes: sub(['MALE', 'FEMALE', 'UNKNOWN']),
      isVip: opt(fc.boolean()),
      isDoNotContact: opt(fc.boolean()),
    },
    { requiredKeys: [] },
  );
  const engagement = fc.record(
    {
      cohorts: sub([1, 2, 3, 4, 5, 6, 7, 8]),
      loggedInAfter: opt(dates),
      hasCompletedOnboarding: opt(fc.boolean()),
      usedFeatures: sub(['messaging', 'appointments', 'cost_estimator']),
      hasUpcomingAppointments: opt(fc.boolean()),
      upcomingAppointmentWithinHours: opt(fc.constantFrom(24, 72, 240)),
      hasUnreadMessages: opt(fc.boolean()),
      pushNotificationsEnabled: opt(fc.boolean()),
    },
    { requiredKeys: [] },
  );
  const care = fc.record(
    {
      enrolledPrograms: sub([1, 2, 3, 4, 5]),
      notEnrolledPrograms: sub([1, 2]),
      hasOpenCareGaps: opt(fc.boolean()),
      careGapTypes: sub(['A1C_MANAGEMENT', 'PHQ9_FOLLOWUP', 'HEDIS_COLORECTAL_SCREENING']),
      chronicConditions: sub(['DIABETES', 'HYPERTENSION', 'ASTHMA']),
      hasRecentClaims: opt(fc.boolean()),
      claimsAfter: opt(dates),
      isHighUtilizer: opt(fc.boolean()),
      hasActiveServiceDeliveries: opt(fc.boolean()),
    },
    { requiredKeys: [] },
  );
  const coverage = fc.record(
    {
      hasDualCoverage: opt(fc.boolean()),
      coverageTypes: sub([1, 2]),
      coverageStatuses: sub([1, 2, 3, 4]),
      payerNames: sub(['Aetna', 'UnitedHealthcare', 'Kaiser Permanente', 'Medicare']),
      isFileBasedEnrollment: opt(fc.boolean()),
      coverageActiveAt: opt(dates),
    },
    { requiredKeys: [] },
  );
  const plan = fc.record(
    {
      planTypes: sub([1, 2, 3, 4, 5, 6, 7, 8, 9]),
      networkTypes: sub([1, 2, 3]),
      hasHsa: opt(fc.boolean()),
      hasPrescriptionCoverage: opt(fc.boolean()),
      minIndividualDeductible: opt(fc.constantFrom(0, 500, 1000, 3000)),
      maxIndividualDeductible: opt(fc.constantFrom(4000, 8000)),
      daysUntilRenewal: opt(fc.constantFrom(30, 60, 200)),
      isMarketplacePlan: opt(fc.boolean()),
      metalTiers: sub([1, 2, 3, 4, 5]),
      planEffectiveAfter: opt(dates),
    },
    { requiredKeys: [] },
  );
  const family = fc.record(
    {
      memberRoles: sub([1, 2, 3]),
      hasDependents: opt(fc.boolean()),
      isDependent: opt(fc.boolean()),
      relationships: sub([1, 2, 3, 4]),
      minFamilySize: opt(fc.integer({ min: 1, max: 4 })),
      hasFamilyMembersEnrolled: opt(fc.boolean()),
    },
    { requiredKeys: [] },
  );
  const events = fc.record(
    {
      eventCategories: sub([1, 3, 4, 5, 6, 9, 13]),
      sourceServices: sub(['mx-backend', 'scheduling', 'realtime-eligibility']),
      withinLast: opt(hours),
      eventsBefore: opt(dates),
      minEventCount: opt(fc.integer({ min: 0, max: 6 })),
      maxEventCount: opt(fc.integer({ min: 6, max: 40 })),
      hasSignedInRecently: opt(fc.boolean()),
      hasBookedAppointment: opt(fc.boolean()),
      hadEligibilityError: opt(fc.boolean()),
      featureNames: sub(['messaging', 'pharmacy']),
      hasSessionActive: opt(fc.boolean()),
      isIncreasingActivity: opt(fc.boolean()),
      isDecreasingActivity: opt(fc.boolean()),
      isRegularPattern: opt(fc.boolean()),
    },
    { requiredKeys: [] },
  );
  const contracts = fc.record(
    {
      healthcareServiceIds: sub(['VPC', 'BH_THERAPY', 'PHARMACY', 'TELEHEALTH', 'EMO']),
      includeFutureContracts: fc.boolean(),
      isTopBenefit: opt(fc.boolean()),
      activeAt: opt(dates),
    },
    { requiredKeys: [] },
  );
  const options = fc.subarray([
    { name: 'chat_available', type: 1, value: 'true', operator: 1 },
    { name: 'provider_instructions', type: 2, value: 'special', operator: 3 },
    { name: 'max_visits_per_year', type: 3, value: '10', operator: 5 },
    { name: 'network_config', type: 4, value: '{"regions":["west"]}', operator: 3 },
    { name: 'provider_instructions', type: 2, value: 'none', operator: 2 },
  ], { maxLength: 2 });
  const predicate = fc.record(
    {
      expression: fc.constantFrom('', 'AGE >= 40', "STATE IN ('CA', 'TX') OR IS_VIP", "NOT (PLAN_TYPE = 'HMO') AND FAMILY_SIZE >= 2", 'CHRONIC_CONDITION_COUNT > 1 AND APP_USAGE_PROBABILITY < 0.5'),
      healthcareServiceId: opt(fc.constantFrom('VPC', 'BH_THERAPY', 'CHRONIC_CARE_MANAGEMENT')),
      requireAllPredicates: fc.boolean(),
    },
    { requiredKeys: ['expression'] },
  );
  const proposed = fc.record(
    {
      riskStratificationFilter: fc.record({ minHealthRiskScore: opt(fc.constantFrom(0.2, 0.5)), minChronicConditions: opt(fc.integer({ min: 0, max: 3 })) }, { requiredKeys: [] }),
      biometricFilter: fc.record({ hasWearableConnected: opt(fc.boolean()), deviceTypes: sub(['fitbit', 'continuous_glucose_monitor']) }, { requiredKeys: [] }),
      sdohFilter: fc.record({ hasFoodInsecurity: opt(fc.boolean()), requiresDigitalAssistance: opt(fc.boolean()) }, { requiredKeys: [] }),
      providerNetworkFilter: fc.record({ hasPcpAttributed: opt(fc.boolean()), providerTypes: sub(['PCP', 'SPECIALIST']) }, { requiredKeys: [] }),
      temporalEventFilter: fc.record(
        {
          lifeEventTypes: sub(['MOVE', 'JOB_CHANGE', 'BIRTH']),
          inOpenEnrollmentPeriod: opt(fc.boolean()),
          daysUntilExpiration: fc.constantFrom(0, 60),
          daysUntilEnrollmentAnniversary: opt(fc.constantFrom(30, 200)),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  );
  const queryArb = fc
    .record(
      {
        sponsorIds: fc.constantFrom([], ['ACME_CORP', 'SPONSOR_123', 'MEDICARE_PLAN_01'], ['SPONSOR_0007', 'MEDICAID_PLAN_01']),
        populationIds: sub(['CA_VPC', 'ACME_CORP_ALL', 'MEDICARE_PLAN_01_BH']),
        accountStatuses: sub([1, 2, 3, 4, 5]),
        excludeMockAccounts: fc.boolean(),
        hasRteEnabled: fc.boolean(),
        eligibilityCheckedBefore: opt(dates),
        lastActiveAfter: opt(dates),
        minAppUsageProbability: fc.constantFrom(0, 0.1, 0.4, 0.7),
        requiredFeatureFlags: fc.constantFrom({}, { 'vpc-expansion': true }, { 'directory-warming-enabled': false }, { 'no-such-flag': false }),
        demographicsFilter: demographics,
        engagementFilter: engagement,
        careJourneyFilter: care,
        coverageFilter: coverage,
        insurancePlanFilter: plan,
        familyFilter: family,
        recentEventFilter: events,
        benefitContractFilter: contracts,
        featureOptions: options,
        predicateFilter: predicate,
        sortOrder: fc.record({ field: fc.integer({ min: 0, max: 5 }), direction: fc.integer({ min: 0, max: 2 }) }),
      },
      { requiredKeys: ['sortOrder'] },
    )
    .chain((init) => proposed.map((p) => ({ ...init, ...p })));

  test('paged results equal the reference for random queries', async () => {
    const seen = { nonEmpty: 0, total: 0 };
    await fc.assert(
      fc.asyncProperty(queryArb, fc.integer({ min: 25, max: 400 }), async (init, pageSize) => {
        const plain = init as Record<string, unknown>;
        const pf = plain['insurancePlanFilter'] as { daysUntilRenewal?: number; renewingWithinDays?: boolean } | undefined;
        if (pf?.daysUntilRenewal !== undefined) pf.renewingWithinDays = true;
        const query = create(MemberQuerySchema, init as MessageInitShape<typeof MemberQuerySchema>);
        let want: string[];
        try {
          want = await expected(query);
        } catch {
          return; // invalid combinations are covered by the validation tests
        }
        let got: string[];
        try {
          got = (await pageAll(query, pageSize)).ids;
        } catch (e) {
          if (e instanceof FieldError) return;
          throw e;
        }
        seen.total++;
        if (want.length > 0) seen.nonEmpty++;
        expect(got).toEqual(want);
      }),
      { numRuns: 60, seed: 20241115 },
    );
    expect(seen.total).toBeGreaterThan(40);
  });

  test('narrow random queries (few filters) agree and usually select someone', async () => {
    let nonEmpty = 0;
    const narrow = fc.oneof(
      fc.record({ demographicsFilter: demographics }),
      fc.record({ engagementFilter: engagement }),
      fc.record({ careJourneyFilter: care }),
      fc.record({ coverageFilter: coverage }),
      fc.record({ familyFilter: family }),
      fc.record({ recentEventFilter: events }),
      fc.record({ benefitContractFilter: contracts }),
      fc.record({ featureOptions: options }),
      fc.record({ predicateFilter: predicate }),
      proposed,
    );
    await fc.assert(
      fc.asyncProperty(narrow, fc.integer({ min: 0, max: 5 }), async (init, field) => {
        const query = create(MemberQuerySchema, init as MessageInitShape<typeof MemberQuerySchema>);
        query.sortOrder = create(SortOrderSchema, { field, direction: 2 });
        let want: string[];
        try {
          want = await expected(query);
          expect((await pageAll(query, 500)).ids).toEqual(want);
        } catch (e) {
          if (e instanceof FieldError) return;
          throw e;
        }
        if (want.length > 0) nonEmpty++;
      }),
      { numRuns: 80, seed: 7 },
    );
    expect(nonEmpty).toBeGreaterThan(30);
  });
});
