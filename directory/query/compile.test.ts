import { create, type MessageInitShape } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { FieldError } from '../../lib/errors';
import { SortOrder_Direction, SortOrder_Field, type AccountStatus } from '../../gen/rte/v1/common_pb';
import {
  FeatureOptionFilter_FeatureOptionType as T,
  FeatureOptionFilter_Operator as Op,
  MemberQuerySchema,
  RecentEventFilter_EventCategory as Cat,
} from '../../gen/rte/v1/member_query_pb';
import { compileMemberQuery } from './compile';
import { encodeCursor, queryHash } from './cursor';
import { latestBirthDateForAge, ageOn } from './semantics';

const now = new Date('2024-11-15T00:00:00Z');
const q = (init: MessageInitShape<typeof MemberQuerySchema>) => create(MemberQuerySchema, init);
const compile = (init: MessageInitShape<typeof MemberQuerySchema>) => compileMemberQuery(q(init), { now, flagSponsors: new Map([['f', ['S1']]]) });

function fieldErrorOf(fn: () => unknown): FieldError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FieldError) return e;
    throw e;
  }
  throw new Error('expected a FieldError');
}

describe('validation names the offending field', () => {
  test.each<[string, MessageInitShape<typeof MemberQuerySchema>, string]>([
    ['unspecified enum in a list', { accountStatuses: [0 as AccountStatus] }, 'member_query.account_statuses[0]'],
    ['min_age > max_age', { demographicsFilter: { minAge: 50, maxAge: 40 } }, 'member_query.demographics_filter.min_age'],
    ['negative age', { demographicsFilter: { minAge: -1 } }, 'member_query.demographics_filter.min_age'],
    ['min deductible > max', { insurancePlanFilter: { minIndividualDeductible: 5000, maxIndividualDeductible: 100 } }, 'member_query.insurance_plan_filter.min_individual_deductible'],
    ['min family size > max', { familyFilter: { minFamilySize: 5, maxFamilySize: 2 } }, 'member_query.family_filter.min_family_size'],
    ['probability above 1', { minAppUsageProbability: 1.5 }, 'member_query.min_app_usage_probability'],
    ['limit above max', { limit: 10_001 }, 'member_query.limit'],
    ['zip prefix with a wildcard', { demographicsFilter: { zipCodes: ['9%'] } }, 'member_query.demographics_filter.zip_codes[0]'],
    ['empty sponsor id', { sponsorIds: ['ok', ''] }, 'member_query.sponsor_ids[1]'],
    ['renewing_within_days without days', { insurancePlanFilter: { renewingWithinDays: true } }, 'member_query.insurance_plan_filter.days_until_renewal'],
    ['NUMBER option with text', { featureOptions: [{ name: 'n', type: T.NUMBER, value: 'ten', operator: Op.GREATER_THAN }] }, 'member_query.feature_options[0].value'],
    ['BOOLEAN option with GREATER_THAN', { featureOptions: [{ name: 'b', type: T.BOOLEAN, value: 'true', operator: Op.GREATER_THAN }] }, 'member_query.feature_options[0].operator'],
    ['JSON option with bad JSON', { featureOptions: [{ name: 'j', type: T.JSON, value: '{', operator: Op.CONTAINS }] }, 'member_query.feature_options[0].value'],
    ['events_after after events_before', { recentEventFilter: { eventsAfter: { seconds: 200n }, eventsBefore: { seconds: 100n } } }, 'member_query.recent_event_filter.events_after'],
    ['zero within_last', { recentEventFilter: { withinLast: { seconds: 0n } } }, 'member_query.recent_event_filter.within_last'],
    ['unknown sort field', { sortOrder: { field: 17 as SortOrder_Field } }, 'member_query.sort_order.field'],
    ['malformed predicate', { predicateFilter: { expression: 'AGE >>= 1' } }, 'member_query.predicate_filter.expression'],
    ['expiring coverage without days', { temporalEventFilter: { coverageExpiringWithinDays: true } }, 'member_query.temporal_event_filter.days_until_expiration'],
  ])('%s', (_name, init, path) => {
    expect(fieldErrorOf(() => compile(init)).fieldPath).toBe(path);
  });
});

describe('cursor', () => {
  test('is bound to the query, not to limit', () => {
    const a = q({ demographicsFilter: { states: ['CA'] }, limit: 10 });
    const b = q({ demographicsFilter: { states: ['CA'] }, limit: 99 });
    const c = q({ demographicsFilter: { states: ['NY'] }, limit: 10 });
    expect(queryHash(a)).toBe(queryHash(b));
    expect(queryHash(a)).not.toBe(queryHash(c));
    const cursor = encodeCursor({ h: queryHash(a), k: null, id: 'm_0000010', t: now.toISOString() });
    expect(() => compileMemberQuery(q({ demographicsFilter: { states: ['CA'] }, cursor }), { now })).not.toThrow();
    expect(fieldErrorOf(() => compileMemberQuery(q({ demographicsFilter: { states: ['NY'] }, cursor }), { now })).message).toBe(
      'member_query.cursor: cursor was issued for a different query',
    );
  });

  test('pins the evaluation time of the first page', () => {
    const query = q({ recentEventFilter: { withinLast: { seconds: 3600n } } });
    const cursor = encodeCursor({ h: queryHash(query), k: null, id: 'm_1', t: '2024-01-01T00:00:00.000Z' });
    query.cursor = cursor;
    expect(compileMemberQuery(query, { now }).evaluatedAt.toISOString()).toBe('2024-01-01T00:00:00.000Z');
  });

  test('rejects a sort key of the wrong type', () => {
    const query = q({ sortOrder: { field: SortOrder_Field.CREATED_AT, direction: SortOrder_Direction.DESCENDING } });
    query.cursor = encodeCursor({ h: queryHash(query), k: 12, id: 'm_1', t: now.toISOString() });
    expect(fieldErrorOf(() => compileMemberQuery(query, { now })).fieldPath).toBe('member_query.cursor');
  });
});

describe('no request value reaches SQL text', () => {
  test('SQL text does not depend on the values of string fields', () => {
    const s = fc.string({ minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(s, s, s, s, s, (a, b, c, d, e) => {
        const build = (x: string[]) =>
          compile({
            sponsorIds: [x[0] as string],
            populationIds: [x[1] as string],
            demographicsFilter: { states: [x[2] as string], cities: [x[3] as string] },
            coverageFilter: { payerNames: [x[4] as string] },
            insurancePlanFilter: { groupNumbers: [x[0] as string], employerIds: [x[1] as string] },
            featureOptions: [{ name: x[2] as string, type: T.STRING, value: x[3] as string, operator: Op.CONTAINS }],
            careJourneyFilter: { chronicConditions: [x[4] as string] },
            recentEventFilter: { eventTypes: [x[0] as string], featureNames: [x[1] as string] },
            providerNetworkFilter: { networkIds: [x[2] as string] },
          });
        const real = build([a, b, c, d, e]);
        const dummy = build(['1', '2', '3', '4', '5']);
        expect(real.sql).toBe(dummy.sql);
        expect(real.params).toEqual(expect.arrayContaining([[a], [b], [c]]));
      }),
      { numRuns: 200 },
    );
  });
});

describe('age semantics', () => {
  test.each([
    ['2006-11-15', 18, true],
    ['2006-11-16', 18, false],
    ['2008-02-29', 16, true], // on 2024-11-15
  ])('born %s is at least %d on 2024-11-15: %s', (dob, years, ok) => {
    expect(ageOn(dob, now) >= years).toBe(ok);
    expect(dob <= latestBirthDateForAge(now, years)).toBe(ok);
  });

  test('Feb 29 cutoff rolls back to Feb 28', () => {
    expect(latestBirthDateForAge(new Date('2024-02-29T12:00:00Z'), 1)).toBe('2023-02-28');
  });

  test('the cutoff agrees with ageOn for every day of two years', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 800 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 40000 }), (dayOffset, years, dobOffset) => {
        const on = new Date(Date.UTC(2023, 0, 1) + dayOffset * 86_400_000);
        const dob = new Date(Date.UTC(1920, 0, 1) + dobOffset * 86_400_000).toISOString().slice(0, 10);
        expect(dob <= latestBirthDateForAge(on, years)).toBe(ageOn(dob, on) >= years);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('query shape for the planner (results are covered by the differential tests)', () => {
  const hoursDur = (h: number) => ({ seconds: BigInt(h * 3600), nanos: 0 });
  const ELIGIBILITY_CHECK_FAILED = 28;

  test('a short window over few event types is pre-filtered from the event side', () => {
    const c = compile({ recentEventFilter: { eventCategories: [Cat.RTE], withinLast: hoursDur(24), hadEligibilityError: true } });
    expect(c.sql).toContain('m.member_key IN (SELECT p0.member_key FROM member_events p0 WHERE');
    expect(c.sql).toContain('AND p0.member_key IN (SELECT p1.member_key FROM member_events p1 WHERE');
    expect(c.params).toContainEqual([ELIGIBILITY_CHECK_FAILED]);
    // The exact per-member aggregates stay: the pre-filter is only a necessary condition.
    expect(c.sql).toContain('CROSS JOIN LATERAL');
    expect(c.countSql).toContain('m.member_key IN (SELECT p0.member_key');
  });

  test('wide windows, absence flags and unbounded windows keep the per-member walk', () => {
    for (const recentEventFilter of [
      { eventCategories: [Cat.AUTHENTICATION], withinLast: hoursDur(72) }, // 3 types x 72 h
      { withinLast: hoursDur(7 * 24), hasSignedInRecently: true }, // 1 type x 168 h
      { withinLast: hoursDur(24), hadEligibilityError: false },
      { hadEligibilityError: true },
    ]) {
      expect(compile({ recentEventFilter }).sql).not.toContain('member_events p0');
    }
  });

  test('a count implied by the regular-pattern test does not unbound the per-member event scan', () => {
    const c = compile({ recentEventFilter: { eventCategories: [Cat.ENGAGEMENT], isRegularPattern: true } });
    expect(c.sql).toMatch(/WHERE e\.member_key = m\.member_key AND e\.occurred_at >= \$\d+::timestamptz\) ev/);
    const windowed = compile({ recentEventFilter: { eventCategories: [Cat.ENGAGEMENT], withinLast: hoursDur(24), isRegularPattern: true } });
    expect(windowed.sql).toMatch(/AS c0,/); // N >= 1 in the last 24 h is not implied by a 4-week pattern
  });

  test('has_upcoming_appointments=true is a plain comparison; false still selects members without one', () => {
    expect(compile({ engagementFilter: { hasUpcomingAppointments: true } }).sql).toMatch(/me\.next_appointment_at > \$\d+::timestamptz\n/);
    expect(compile({ engagementFilter: { hasUpcomingAppointments: false } }).sql).toMatch(
      /NOT \(me\.next_appointment_at IS NOT NULL AND me\.next_appointment_at > \$\d+::timestamptz\)/,
    );
  });
});

describe('predicate_filter plan attributes (issue 10)', () => {
  const correlated = /FROM insurance_plans pp WHERE pp\.plan_id = m\.primary_plan_id/;
  const join = 'LEFT JOIN insurance_plans mpl ON mpl.plan_id = m.primary_plan_id';

  test('read through one join on the primary plan, in the page and the count, not a subquery per member', () => {
    for (const expression of ["PLAN_TYPE = 'HDHP'", "NOT (PAYER_ID IN ('60054', '62308')) OR STATE = 'CA'", 'HAS_HSA AND INDIVIDUAL_DEDUCTIBLE >= 3000']) {
      const c = compile({ predicateFilter: { expression } });
      for (const sql of [c.sql, c.countSql]) {
        expect(sql).toContain(join);
        expect(sql).not.toMatch(correlated);
        expect(sql.split('insurance_plans').length - 1).toBe(1);
      }
    }
    expect(compile({ predicateFilter: { expression: 'HAS_HSA' } }).sql).toContain('(mpl.has_hsa = TRUE)');
    expect(compile({ predicateFilter: { expression: "METAL_TIER = 'GOLD'" } }).sql).toContain("COALESCE(mpl.metal_tier, 'NONE')");
  });

  test('the plan join is added only when an expression reads a plan attribute', () => {
    expect(compile({ predicateFilter: { expression: "STATE = 'CA' AND AGE >= 30" } }).sql).not.toContain('insurance_plans');
    expect(compile({ demographicsFilter: { states: ['CA'] } }).sql).not.toContain('insurance_plans');
  });

  test("the former compilation ('subquery', kept for the bench) differs only in how plan columns are read", () => {
    const query = q({ predicateFilter: { expression: "PLAN_TYPE = 'HDHP' OR IS_VIP" } });
    const before = compileMemberQuery(query, { now, planAttributes: 'subquery' });
    const after = compileMemberQuery(query, { now });
    expect(before.sql).toMatch(correlated);
    expect(before.sql).not.toContain(join);
    expect(before.params).toEqual(after.params);
  });
});

describe('within_last (issue 10)', () => {
  test('is [now - N, now]: events after "now" are outside the window', () => {
    const c = compile({ recentEventFilter: { withinLast: { seconds: 3600n, nanos: 0 }, minEventCount: 1 } });
    expect(c.params).toContainEqual(new Date(now.getTime() - 3_600_000).toISOString());
    expect(c.params).toContainEqual(new Date(now.getTime() + 1).toISOString());
    expect(c.sql).toMatch(/occurred_at < \$\d+::timestamptz/);
  });
});
