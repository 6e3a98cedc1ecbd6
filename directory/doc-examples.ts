/**
 * Every MemberQuery in the design doc's "MemberQuery Usage Examples" (plus its "Cross-Domain Query
 * Complexity" tiers), expressed in the rte.v1 proto. Mapping notes:
 *  - `scheduling_window` is MemberQuery.scheduling_window (field 30); it does not select members.
 *  - Example 16's `enrolled_programs: []  // Not yet enrolled` is not expressible in proto3 (an empty list
 *    is "unset"); it maps to `not_enrolled_programs: [CHRONIC_CARE_MANAGEMENT]` (not yet in the CCM program).
 *  - `limit` is the page size; tests page through every result with the cursor.
 *  - The doc numbers 7-10 twice; the second set is named "7b".."10b" here.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { AccountStatus, SchedulingWindow, SortOrder_Direction, SortOrder_Field } from '../gen/rte/v1/common_pb';
import {
  CareJourneyFilter_ProgramType as Program,
  CoverageFilter_CoverageStatus as CovStatus,
  CoverageFilter_CoverageType as CovType,
  DemographicsFilter_AgeGroup as Age,
  EngagementFilter_EngagementCohort as Cohort,
  FamilyRelationshipFilter_MemberRole as Role,
  FeatureOptionFilter_FeatureOptionType as OptType,
  FeatureOptionFilter_Operator as Op,
  InsurancePlanFilter_NetworkType as Network,
  InsurancePlanFilter_PlanType as Plan,
  MemberQuerySchema,
  RecentEventFilter_EventCategory as Cat,
  type MemberQuery,
} from '../gen/rte/v1/member_query_pb';

const ts = (iso: string): ReturnType<typeof timestampFromDate> => timestampFromDate(new Date(iso));
const hours = (h: number): { seconds: bigint; nanos: number } => ({ seconds: BigInt(h * 3600), nanos: 0 });
const q = (init: MessageInitShape<typeof MemberQuerySchema>): MemberQuery => create(MemberQuerySchema, init);

export type Tier = 'low' | 'medium' | 'high';

export interface DocExample {
  name: string;
  query: MemberQuery;
}

export const DOC_EXAMPLES: DocExample[] = [
  {
    name: 'Example 1: VPC eligible members',
    query: q({
      benefitContractFilter: { healthcareServiceIds: ['VPC'], activeAt: ts('2024-11-13T00:00:00Z') },
      demographicsFilter: { states: ['CA'], minAge: 18 },
      engagementFilter: { cohorts: [Cohort.HIGHLY_ENGAGED, Cohort.REGULARLY_ENGAGED], hasUpcomingAppointments: true },
      schedulingWindow: SchedulingWindow.MORNING,
      limit: 5000,
    }),
  },
  {
    name: 'Example 2: BH members with open care gaps',
    query: q({
      benefitContractFilter: { healthcareServiceIds: ['BH_THERAPY', 'BH_PSYCHIATRY'] },
      careJourneyFilter: { enrolledPrograms: [Program.BEHAVIORAL_HEALTH], hasOpenCareGaps: true, careGapTypes: ['PHQ9_FOLLOWUP', 'MEDICATION_ADHERENCE'] },
      engagementFilter: { loggedInAfter: ts('2024-10-01T00:00:00Z'), hasSentMessages: true },
      schedulingWindow: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
    }),
  },
  {
    name: 'Example 3: family subscribers with dependents',
    query: q({
      familyFilter: { memberRoles: [Role.SUBSCRIBER], hasDependents: true, minFamilySize: 3 },
      demographicsFilter: { ageGroups: [Age.MIDDLE_AGE, Age.SENIOR] },
      coverageFilter: { coverageStatuses: [CovStatus.ACTIVE] },
      schedulingWindow: SchedulingWindow.EVENING,
    }),
  },
  {
    name: 'Example 4: dual coverage needing COB verification',
    query: q({
      coverageFilter: { hasDualCoverage: true, coverageTypes: [CovType.PRIMARY, CovType.SECONDARY] },
      eligibilityCheckedBefore: ts('2024-10-01T00:00:00Z'),
      excludeMockAccounts: true,
      schedulingWindow: SchedulingWindow.LOW_UTILIZATION,
    }),
  },
  {
    name: 'Example 5: new members in onboarding',
    query: q({
      engagementFilter: { cohorts: [Cohort.NEW_MEMBER], hasCompletedOnboarding: false },
      demographicsFilter: { preferredSpokenLanguages: ['en', 'es'] },
      sortOrder: { field: SortOrder_Field.CREATED_AT, direction: SortOrder_Direction.DESCENDING },
      schedulingWindow: SchedulingWindow.MORNING,
      limit: 1000,
    }),
  },
  {
    name: 'Example 6: HDHP members approaching deductible',
    query: q({
      insurancePlanFilter: { planTypes: [Plan.HDHP], hasHsa: true, minIndividualDeductible: 3000 },
      demographicsFilter: { ageGroups: [Age.YOUNG_ADULT, Age.MIDDLE_AGE] },
      engagementFilter: { cohorts: [Cohort.COST_CONSCIOUS], loggedInAfter: ts('2024-10-01T00:00:00Z') },
      schedulingWindow: SchedulingWindow.BUSINESS_HOURS,
    }),
  },
  {
    name: 'Example 7: Medicare Advantage members with prescription coverage',
    query: q({
      insurancePlanFilter: { planTypes: [Plan.MEDICARE_ADVANTAGE], hasPrescriptionCoverage: true },
      demographicsFilter: { ageGroups: [Age.SENIOR] },
      careJourneyFilter: { hasActivePrescriptions: true, chronicConditions: ['DIABETES', 'HYPERTENSION', 'HEART_DISEASE'] },
      schedulingWindow: SchedulingWindow.MORNING,
      limit: 3000,
    }),
  },
  {
    name: 'Example 8: plan renewal window targeting',
    query: q({
      insurancePlanFilter: { renewingWithinDays: true, daysUntilRenewal: 30, isSelfFunded: false },
      familyFilter: { memberRoles: [Role.SUBSCRIBER], hasDependents: true },
      engagementFilter: { pushNotificationsEnabled: true, emailNotificationsEnabled: true },
      schedulingWindow: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
    }),
  },
  {
    name: 'Example 9: HMO members in specific service areas',
    query: q({
      insurancePlanFilter: { planTypes: [Plan.HMO], networkTypes: [Network.IN_NETWORK_ONLY], payerNames: ['Kaiser Permanente', 'Blue Shield HMO'] },
      demographicsFilter: { states: ['CA'], cities: ['San Francisco', 'Oakland', 'San Jose'] },
      benefitContractFilter: { healthcareServiceIds: ['PRIMARY_CARE', 'SPECIALIST_REFERRAL'] },
      schedulingWindow: SchedulingWindow.BUSINESS_HOURS,
    }),
  },
  {
    name: 'Example 10: recently active members with increasing engagement',
    query: q({
      recentEventFilter: {
        eventCategories: [Cat.AUTHENTICATION, Cat.ENGAGEMENT, Cat.APPOINTMENTS],
        withinLast: hours(7 * 24),
        minEventCount: 5,
        isIncreasingActivity: true,
        hasSignedInRecently: true,
      },
      engagementFilter: { cohorts: [Cohort.REGULARLY_ENGAGED, Cohort.NEWLY_ENGAGED] },
      schedulingWindow: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
      limit: 2000,
    }),
  },
  {
    name: 'Example 11: recent enrollment for onboarding',
    query: q({
      recentEventFilter: { eventCategories: [Cat.ENROLLMENT], withinLast: hours(48), hasEnrolledRecently: true, hasCoverageChange: true },
      engagementFilter: { cohorts: [Cohort.NEW_MEMBER], hasCompletedOnboarding: false },
      schedulingWindow: SchedulingWindow.MORNING,
      limit: 1000,
    }),
  },
  {
    name: 'Example 12: re-engagement candidates',
    query: q({
      recentEventFilter: { eventCategories: [Cat.AUTHENTICATION, Cat.ENGAGEMENT], eventsBefore: ts('2024-10-01T00:00:00Z'), isDecreasingActivity: true },
      engagementFilter: { cohorts: [Cohort.AT_RISK_CHURN], loggedInBefore: ts('2024-10-01T00:00:00Z') },
      demographicsFilter: { ageGroups: [Age.MIDDLE_AGE, Age.SENIOR] },
      schedulingWindow: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
    }),
  },
  {
    name: 'Example 13: post-appointment care follow-up',
    query: q({
      recentEventFilter: { eventCategories: [Cat.APPOINTMENTS, Cat.CLINICAL], withinLast: hours(14 * 24), hasBookedAppointment: true },
      careJourneyFilter: { hasOpenCareGaps: true, careGapTypes: ['POST_VISIT_FOLLOWUP', 'LAB_ORDER_PENDING'] },
      schedulingWindow: SchedulingWindow.BUSINESS_HOURS,
    }),
  },
  {
    name: 'Example 14: active messagers with healthcare questions',
    query: q({
      recentEventFilter: { eventCategories: [Cat.MESSAGING, Cat.SEARCH], withinLast: hours(72), hasSentMessage: true, hasSearchedProvider: true, minEventCount: 3 },
      benefitContractFilter: { healthcareServiceIds: ['VPC', 'BH_THERAPY', 'SPECIALIST'] },
      schedulingWindow: SchedulingWindow.ANY,
    }),
  },
  {
    name: 'Example 15: RTE error recovery',
    query: q({
      recentEventFilter: { eventCategories: [Cat.RTE], withinLast: hours(24), hadEligibilityError: true },
      coverageFilter: { hasDualCoverage: false },
      schedulingWindow: SchedulingWindow.LOW_UTILIZATION,
    }),
  },
  {
    name: 'Example 16: chronic care management candidates',
    query: q({
      careJourneyFilter: {
        chronicConditions: ['DIABETES', 'HYPERTENSION', 'COPD'],
        hasActivePrescriptions: true,
        isHighUtilizer: true,
        notEnrolledPrograms: [Program.CHRONIC_CARE_MANAGEMENT],
      },
      benefitContractFilter: { healthcareServiceIds: ['CHRONIC_CARE_MANAGEMENT'] },
      demographicsFilter: { ageGroups: [Age.SENIOR, Age.MEDICARE_AGE] },
      schedulingWindow: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
    }),
  },
  {
    name: 'Example 7b: predicate-based service access',
    query: q({
      predicateFilter: {
        expression: "AGE >= 18 AND STATE IN ('CA', 'NY', 'TX') AND HAS_MENTAL_HEALTH_COVERAGE = true",
        healthcareServiceId: 'BH_THERAPY',
        requireAllPredicates: true,
      },
      featureOptions: [{ name: 'chat_available', type: OptType.BOOLEAN, value: 'true', operator: Op.EQUALS }],
    }),
  },
  {
    name: 'Example 8b: feature option-driven selection',
    query: q({
      sponsorIds: ['ACME_CORP', 'TECH_STARTUP_INC'],
      featureOptions: [
        { name: 'provider_instructions', type: OptType.STRING, value: 'special_network', operator: Op.EQUALS },
        { name: 'max_visits_per_year', type: OptType.NUMBER, value: '10', operator: Op.GREATER_THAN },
      ],
      schedulingWindow: SchedulingWindow.BUSINESS_HOURS,
    }),
  },
  {
    name: 'Example 9b: at-risk member re-engagement',
    query: q({
      engagementFilter: {
        cohorts: [Cohort.AT_RISK_CHURN, Cohort.OCCASIONALLY_ENGAGED],
        loggedInAfter: ts('2024-09-01T00:00:00Z'),
        loggedInBefore: ts('2024-10-01T00:00:00Z'),
        pushNotificationsEnabled: true,
      },
      careJourneyFilter: { hasOpenCareGaps: true },
      minAppUsageProbability: 0.4,
      schedulingWindow: SchedulingWindow.OPTIMAL_MEMBER_ENGAGEMENT,
    }),
  },
  {
    name: 'Example 10b: geographic and demographic targeting',
    query: q({
      demographicsFilter: { states: ['CA', 'TX', 'AZ', 'FL'], preferredSpokenLanguages: ['es'], ageGroups: [Age.YOUNG_ADULT, Age.MIDDLE_AGE] },
      engagementFilter: { hasUpcomingAppointments: true },
      coverageFilter: { coverageStatuses: [CovStatus.ACTIVE] },
      schedulingWindow: SchedulingWindow.EVENING,
    }),
  },
];

/** The doc's "Cross-Domain Query Complexity" examples and its complexity tiers (used by the bench). */
export const COMPLEXITY_EXAMPLES: (DocExample & { tier: Tier })[] = [
  {
    name: 'Simple: sponsorship (sponsor + population)',
    tier: 'low',
    query: q({ sponsorIds: ['SPONSOR_123'], populationIds: ['CA_VPC'] }),
  },
  {
    name: 'Low: account status + demographics',
    tier: 'low',
    query: q({ accountStatuses: [AccountStatus.ACTIVE], demographicsFilter: { states: ['TX'], ageGroups: [Age.MIDDLE_AGE] }, excludeMockAccounts: true }),
  },
  {
    name: 'Medium: sponsorship + coverage + demographics',
    tier: 'medium',
    query: q({ sponsorIds: ['SPONSOR_123'], benefitContractFilter: { healthcareServiceIds: ['VPC'] }, demographicsFilter: { states: ['CA'], minAge: 18 } }),
  },
  {
    name: 'Medium: insurance plan + engagement + recent events with time bounds',
    tier: 'medium',
    query: q({
      insurancePlanFilter: { planTypes: [Plan.PPO, Plan.HDHP] },
      engagementFilter: { cohorts: [Cohort.HIGHLY_ENGAGED] },
      recentEventFilter: { eventCategories: [Cat.AUTHENTICATION], withinLast: hours(72) },
    }),
  },
  {
    name: 'Complex: sponsorship + coverage + accounts + engagement + care journey + events',
    tier: 'high',
    query: q({
      sponsorIds: ['SPONSOR_123'],
      insurancePlanFilter: { planTypes: [Plan.HDHP], hasHsa: true },
      familyFilter: { hasDependents: true },
      engagementFilter: { loggedInAfter: ts('2024-10-01T00:00:00Z') },
      careJourneyFilter: { hasOpenCareGaps: true },
      recentEventFilter: { eventCategories: [Cat.AUTHENTICATION, Cat.APPOINTMENTS, Cat.CLINICAL], withinLast: hours(14 * 24), isIncreasingActivity: true },
    }),
  },
  {
    name: 'High: predicates + family joins + pattern detection (all sponsors)',
    tier: 'high',
    query: q({
      predicateFilter: { expression: "AGE >= 18 AND PLAN_TYPE IN ('PPO', 'HDHP') AND NOT IS_DO_NOT_CONTACT", healthcareServiceId: 'VPC' },
      familyFilter: { hasFamilyMembersEnrolled: true },
      recentEventFilter: { eventCategories: [Cat.ENGAGEMENT], isRegularPattern: true },
    }),
  },
];
