/**
 * Wire and JSON round-trips of the generated rte.v1 messages. These guard the contract other services
 * rely on: field numbers/names survive binary and JSON, explicit-presence filters keep "false", enum
 * names in JSON are the proto names, and the design doc's MemberQuery examples are expressible.
 */
import { create, equals, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import type { JsonObject } from '@bufbuild/protobuf';
import { durationFromMs, timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  BatchEligibilityService,
  BatchExecutionOptions_Priority,
  BatchExecutionOptions_Strategy,
  NotificationPreferences_DeliveryMode,
  SubmitBatchRequestSchema,
} from '../gen/rte/v1/batch_pb';
import { AccountStatus, CacheControl, SchedulingWindow, SortOrder_Direction, SortOrder_Field } from '../gen/rte/v1/common_pb';
import { EligibilityService } from '../gen/rte/v1/eligibility_pb';
import { MemberCronEventSchema } from '../gen/rte/v1/events_pb';
import {
  CareJourneyFilter_ProgramType,
  DemographicsFilter_AgeGroup,
  EngagementFilter_EngagementCohort,
  FeatureOptionFilter_FeatureOptionType,
  FeatureOptionFilter_Operator,
  InsurancePlanFilter_PlanType,
  MemberQuerySchema,
  RecentEventFilter_EventCategory,
} from '../gen/rte/v1/member_query_pb';
import { CacheWarmingService, WarmCacheRequest_Priority, WarmingStrategy } from '../gen/rte/v1/warming_pb';

const loggedInAfter = new Date('2024-10-01T00:00:00Z');

function fullSubmitBatchRequest() {
  return create(SubmitBatchRequestSchema, {
    clientServiceName: 'medication-service',
    clientJobId: 'nightly-eligibility-refresh-2024-11-13',
    memberSelector: {
      case: 'memberQuery',
      value: {
        sponsorIds: ['ACME_CORP'],
        hasRteEnabled: true,
        requiredFeatureFlags: { 'medication-eligibility-check': true, 'legacy-flow': false },
        benefitContractFilter: { healthcareServiceIds: ['VPC', 'BH_THERAPY'] },
        featureOptions: [
          {
            name: 'max_visits_per_year',
            type: FeatureOptionFilter_FeatureOptionType.NUMBER,
            value: '10',
            operator: FeatureOptionFilter_Operator.GREATER_THAN,
          },
        ],
        demographicsFilter: { states: ['CA', 'TX'], minAge: 18, ageGroups: [DemographicsFilter_AgeGroup.MIDDLE_AGE] },
        engagementFilter: {
          cohorts: [EngagementFilter_EngagementCohort.NEWLY_ENGAGED, EngagementFilter_EngagementCohort.COST_CONSCIOUS],
          loggedInAfter: timestampFromDate(loggedInAfter),
          hasCompletedOnboarding: false,
        },
        insurancePlanFilter: { planTypes: [InsurancePlanFilter_PlanType.HDHP], hasHsa: true, minIndividualDeductible: 3000 },
        recentEventFilter: {
          eventCategories: [RecentEventFilter_EventCategory.AUTHENTICATION, RecentEventFilter_EventCategory.RTE],
          withinLast: durationFromMs(7 * 24 * 3600 * 1000),
          minEventCount: 5,
        },
        careJourneyFilter: { notEnrolledPrograms: [CareJourneyFilter_ProgramType.CHRONIC_CARE_MANAGEMENT] },
        riskStratificationFilter: { minHealthRiskScore: 0.5, minChronicConditions: 2 },
        sdohFilter: { hasTransportationBarrier: true },
        accountStatuses: [AccountStatus.ACTIVE],
        excludeMockAccounts: true,
        limit: 5000,
        sortOrder: { field: SortOrder_Field.CREATED_AT, direction: SortOrder_Direction.DESCENDING },
        schedulingWindow: SchedulingWindow.MORNING,
      },
    },
    options: {
      priority: BatchExecutionOptions_Priority.HIGH,
      strategy: BatchExecutionOptions_Strategy.REALTIME_ONLY,
      schedulingWindow: SchedulingWindow.LOW_UTILIZATION,
      maxConcurrentRequests: 5,
      timeout: durationFromMs(8 * 3600 * 1000),
      retryConfig: { maxAttempts: 3, backoffMultiplier: 2 },
      callbackUrl: 'https://legacy.example.test/cb',
      notifications: {
        callbackUrl: 'https://hooks.example.test/batch',
        eventTypes: ['STARTED', 'COMPLETED'],
        deliveryMode: NotificationPreferences_DeliveryMode.DELIVERY_AT_LEAST_ONCE,
      },
    },
    cacheControl: CacheControl.PREFER_CACHED,
  });
}

describe('SubmitBatchRequest', () => {
  it('survives a binary round-trip with every filter intact', () => {
    const original = fullSubmitBatchRequest();
    const decoded = fromBinary(SubmitBatchRequestSchema, toBinary(SubmitBatchRequestSchema, original));

    expect(equals(SubmitBatchRequestSchema, original, decoded)).toBe(true);
    expect(decoded.clientJobId).toBe('nightly-eligibility-refresh-2024-11-13');
    expect(decoded.cacheControl).toBe(CacheControl.PREFER_CACHED);
    expect(decoded.memberSelector.case).toBe('memberQuery');
    if (decoded.memberSelector.case !== 'memberQuery') throw new Error('selector lost');
    const q = decoded.memberSelector.value;
    expect(q.requiredFeatureFlags).toEqual({ 'medication-eligibility-check': true, 'legacy-flow': false });
    expect(q.demographicsFilter?.minAge).toBe(18);
    expect(q.demographicsFilter?.maxAge).toBeUndefined();
    // proto3 `optional`: an explicit false is a filter ("not onboarded"), distinct from "no filter".
    expect(q.engagementFilter?.hasCompletedOnboarding).toBe(false);
    expect(q.engagementFilter?.hasUpcomingAppointments).toBeUndefined();
    expect(timestampDate(q.engagementFilter!.loggedInAfter!).toISOString()).toBe(loggedInAfter.toISOString());
    expect(q.recentEventFilter?.withinLast?.seconds).toBe(BigInt(7 * 24 * 3600));
    expect(q.featureOptions[0]?.operator).toBe(FeatureOptionFilter_Operator.GREATER_THAN);
    expect(q.careJourneyFilter?.notEnrolledPrograms).toEqual([CareJourneyFilter_ProgramType.CHRONIC_CARE_MANAGEMENT]);
    expect(q.riskStratificationFilter?.minChronicConditions).toBe(2);
    expect(q.schedulingWindow).toBe(SchedulingWindow.MORNING);
    expect(decoded.options?.notifications?.deliveryMode).toBe(NotificationPreferences_DeliveryMode.DELIVERY_AT_LEAST_ONCE);
    expect(decoded.options?.callbackUrl).toBe('https://legacy.example.test/cb');
    expect(decoded.options?.timeout?.seconds).toBe(BigInt(8 * 3600));
  });

  it('survives a JSON round-trip and uses proto enum names and camelCase keys in JSON', () => {
    const original = fullSubmitBatchRequest();
    const json = toJson(SubmitBatchRequestSchema, original) as JsonObject;

    const query = json['memberQuery'] as JsonObject;
    expect(query['schedulingWindow']).toBe('SCHEDULING_WINDOW_MORNING');
    expect((query['engagementFilter'] as JsonObject)['cohorts']).toEqual(['NEWLY_ENGAGED', 'COST_CONSCIOUS']);
    expect((query['engagementFilter'] as JsonObject)['loggedInAfter']).toBe('2024-10-01T00:00:00Z');
    expect((query['engagementFilter'] as JsonObject)['hasCompletedOnboarding']).toBe(false);
    expect((query['recentEventFilter'] as JsonObject)['withinLast']).toBe('604800s');
    expect(query['accountStatuses']).toEqual(['ACTIVE']);
    expect(json['cacheControl']).toBe('CACHE_CONTROL_PREFER_CACHED');
    expect((json['options'] as JsonObject)['priority']).toBe('PRIORITY_HIGH');

    const decoded = fromJson(SubmitBatchRequestSchema, JSON.parse(JSON.stringify(json)));
    expect(equals(SubmitBatchRequestSchema, original, decoded)).toBe(true);
  });

  it('carries an explicit member id list through the oneof', () => {
    const req = create(SubmitBatchRequestSchema, {
      clientServiceName: 'svc',
      memberSelector: { case: 'memberIds', value: { memberIds: ['m-1', 'm-2'] } },
    });
    const decoded = fromBinary(SubmitBatchRequestSchema, toBinary(SubmitBatchRequestSchema, req));
    expect(decoded.memberSelector).toMatchObject({ case: 'memberIds', value: { memberIds: ['m-1', 'm-2'] } });
  });
});

describe('design doc MemberQuery examples (written with the doc field names)', () => {
  const examples: Array<[string, Record<string, unknown>]> = [
    [
      'Example 1: VPC members in CA',
      {
        benefit_contract_filter: { healthcare_service_ids: ['VPC'], active_at: '2024-11-13T00:00:00Z' },
        demographics_filter: { states: ['CA'], min_age: 18 },
        engagement_filter: { cohorts: ['HIGHLY_ENGAGED', 'REGULARLY_ENGAGED'], has_upcoming_appointments: true },
        scheduling_window: 'SCHEDULING_WINDOW_MORNING',
        limit: 5000,
      },
    ],
    [
      'Example 6: HDHP members (COST_CONSCIOUS cohort)',
      {
        insurance_plan_filter: { plan_types: ['HDHP'], has_hsa: true, min_individual_deductible: 3000.0 },
        demographics_filter: { age_groups: ['YOUNG_ADULT', 'MIDDLE_AGE'] },
        engagement_filter: { cohorts: ['COST_CONSCIOUS'], logged_in_after: '2024-10-01T00:00:00Z' },
        scheduling_window: 'SCHEDULING_WINDOW_BUSINESS_HOURS',
      },
    ],
    [
      'Example 8: plan renewal window',
      {
        insurance_plan_filter: { renewing_within_days: true, days_until_renewal: 30, is_self_funded: false },
        family_filter: { member_roles: ['SUBSCRIBER'], has_dependents: true },
        scheduling_window: 'SCHEDULING_WINDOW_OPTIMAL_MEMBER_ENGAGEMENT',
      },
    ],
    [
      'Example 10: increasing engagement (NEWLY_ENGAGED cohort, 7d window)',
      {
        recent_event_filter: {
          event_categories: ['AUTHENTICATION', 'ENGAGEMENT', 'APPOINTMENTS'],
          within_last: '604800s',
          min_event_count: 5,
          is_increasing_activity: true,
          has_signed_in_recently: true,
        },
        engagement_filter: { cohorts: ['REGULARLY_ENGAGED', 'NEWLY_ENGAGED'] },
        scheduling_window: 'SCHEDULING_WINDOW_OPTIMAL_MEMBER_ENGAGEMENT',
        limit: 2000,
      },
    ],
    [
      'Example 16: CCM candidates not yet enrolled',
      {
        care_journey_filter: {
          chronic_conditions: ['DIABETES', 'HYPERTENSION', 'COPD'],
          is_high_utilizer: true,
          not_enrolled_programs: ['CHRONIC_CARE_MANAGEMENT'],
        },
        demographics_filter: { age_groups: ['SENIOR', 'MEDICARE_AGE'] },
        scheduling_window: 'SCHEDULING_WINDOW_OPTIMAL_MEMBER_ENGAGEMENT',
      },
    ],
    [
      'Predicate and feature option example',
      {
        predicate_filter: {
          expression: "AGE >= 18 AND STATE IN ('CA', 'NY', 'TX')",
          healthcare_service_id: 'BH_THERAPY',
          require_all_predicates: true,
        },
        feature_options: [{ name: 'chat_available', type: 'BOOLEAN', value: 'true', operator: 'EQUALS' }],
      },
    ],
    [
      'appointment-preload warming schedule',
      { engagement_filter: { has_upcoming_appointments: true, upcoming_appointment_within_hours: 24 } },
    ],
  ];

  it.each(examples)('%s parses and round-trips', (_name, example) => {
    const query = fromJson(MemberQuerySchema, example as JsonObject);
    const again = fromBinary(MemberQuerySchema, toBinary(MemberQuerySchema, query));
    expect(equals(MemberQuerySchema, query, again)).toBe(true);
    // Same content when re-emitted with the original proto field names.
    expect(toJson(MemberQuerySchema, again, { useProtoFieldName: true })).toEqual(
      toJson(MemberQuerySchema, query, { useProtoFieldName: true }),
    );
  });

  it('rejects a field the schema does not have', () => {
    expect(() => fromJson(MemberQuerySchema, { has_upcoming_appointment: true })).toThrow(/has_upcoming_appointment/);
  });
});

describe('MemberCronEvent', () => {
  it('encodes and decodes with its member context and prediction', () => {
    const emittedAt = new Date('2024-11-13T04:00:00Z');
    const event = create(MemberCronEventSchema, {
      memberId: 'member-123',
      accountId: 'account-9',
      scheduleName: 'daily-rte-warmup',
      cronExpression: '0 4 * * *',
      emittedAt: timestampFromDate(emittedAt),
      context: {
        sponsorId: 'ACME_CORP',
        populationIds: ['pop-1'],
        featureFlags: { 'rte-warming': true },
        hasRteEnabled: true,
        predictedActivity: {
          appUsageProbability: 0.75,
          predictedOperations: ['check_eligibility', 'get_coverage'],
          confidence: 0.5,
          modelVersion: 'atc-2024.11',
          predictedWindowStart: timestampFromDate(new Date('2024-11-13T18:00:00Z')),
          predictedWindowEnd: timestampFromDate(new Date('2024-11-13T21:00:00Z')),
        },
      },
    });
    const bytes = toBinary(MemberCronEventSchema, event);
    const decoded = fromBinary(MemberCronEventSchema, bytes);

    expect(equals(MemberCronEventSchema, event, decoded)).toBe(true);
    expect(decoded.memberId).toBe('member-123');
    expect(timestampDate(decoded.emittedAt!).toISOString()).toBe(emittedAt.toISOString());
    expect(decoded.context?.featureFlags).toEqual({ 'rte-warming': true });
    expect(decoded.context?.predictedActivity?.appUsageProbability).toBe(0.75);
    expect(decoded.context?.predictedActivity?.predictedOperations).toEqual(['check_eligibility', 'get_coverage']);
    expect(decoded.context?.lastEligibilityCheck).toBeUndefined();
    expect(timestampDate(decoded.context!.predictedActivity!.predictedWindowStart!).toISOString()).toBe('2024-11-13T18:00:00.000Z');
    expect(timestampDate(decoded.context!.predictedActivity!.predictedWindowEnd!).toISOString()).toBe('2024-11-13T21:00:00.000Z');
  });

  it('decodes an event from a producer without the predicted window (additive fields stay unset)', () => {
    const old = create(MemberCronEventSchema, { memberId: 'm', context: { predictedActivity: { appUsageProbability: 0.9 } } });
    const decoded = fromBinary(MemberCronEventSchema, toBinary(MemberCronEventSchema, old));
    expect(decoded.context?.predictedActivity?.predictedWindowStart).toBeUndefined();
    expect(decoded.context?.predictedActivity?.predictedWindowEnd).toBeUndefined();
  });
});

describe('service descriptors', () => {
  it('exposes the RPCs of the design doc with the right streaming kinds', () => {
    expect(Object.keys(BatchEligibilityService.method).sort()).toEqual(
      ['cancelBatch', 'getBatchStatus', 'listBatches', 'pauseBatch', 'resumeBatch', 'submitBatch', 'submitBatchStreaming', 'watchBatchStatus'].sort(),
    );
    expect(BatchEligibilityService.method.watchBatchStatus.methodKind).toBe('server_streaming');
    // Option 2's other streaming RPC (issue 16): SubmitBatch's request, WatchBatchStatus's stream.
    expect(BatchEligibilityService.method.submitBatchStreaming.methodKind).toBe('server_streaming');
    expect(BatchEligibilityService.method.submitBatchStreaming.input).toBe(BatchEligibilityService.method.submitBatch.input);
    expect(BatchEligibilityService.method.submitBatchStreaming.output).toBe(BatchEligibilityService.method.watchBatchStatus.output);
    expect(BatchEligibilityService.method.submitBatch.methodKind).toBe('unary');
    expect(BatchEligibilityService.typeName).toBe('rte.v1.BatchEligibilityService');
    expect(EligibilityService.method.checkEligibility.methodKind).toBe('unary');
    // GetWarmingJob (not in the design doc): one warming job's state for the client that asked for it.
    expect(Object.keys(CacheWarmingService.method).sort()).toEqual(['getWarmingJob', 'getWarmingStats', 'scheduleWarming', 'warmCache']);
    expect(CacheWarmingService.method.getWarmingJob.methodKind).toBe('unary');
    expect(WarmingStrategy.INTELLIGENT).toBe(0);
    expect(WarmCacheRequest_Priority.URGENT).toBe(2);
  });
});
