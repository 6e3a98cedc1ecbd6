import { create } from '@bufbuild/protobuf';
import {
  BenefitSummary_Network,
  BenefitSummarySchema,
  CoverageSummary_Status,
  CoverageSummarySchema,
  EligibilityErrorDetailSchema,
  type CoverageSummary as CoverageSummaryMessage,
  type EligibilityErrorDetail,
} from '../gen/rte/v1/eligibility_pb';
import type { CoverageSummary } from '../lib/coverage-summary';
import { CONNECTIVITY_AAA_CODES } from '../lib/stedi-codes';

const STATUS: Record<CoverageSummary['status'], CoverageSummary_Status> = {
  active: CoverageSummary_Status.ACTIVE,
  inactive: CoverageSummary_Status.INACTIVE,
  unknown: CoverageSummary_Status.UNKNOWN,
  error: CoverageSummary_Status.UNKNOWN,
};

/** The cached JSON summary as the proto message clients receive. */
export function toCoverageMessage(s: CoverageSummary): CoverageSummaryMessage {
  return create(CoverageSummarySchema, {
    status: STATUS[s.status],
    payerId: s.payer.id ?? '',
    payerName: s.payer.name ?? '',
    planName: s.plan.name ?? '',
    planNumber: s.plan.number ?? '',
    groupNumber: s.plan.groupNumber ?? '',
    insuranceType: s.plan.insuranceType ?? '',
    coverageStartDate: s.coverage.start ?? '',
    coverageEndDate: s.coverage.end ?? '',
    benefits: s.benefits.map((b) =>
      create(BenefitSummarySchema, {
        serviceTypeCode: b.serviceTypeCode ?? '',
        benefitCode: b.code,
        benefitName: b.name ?? '',
        network:
          b.inNetwork === true ? BenefitSummary_Network.IN_NETWORK : b.inNetwork === false ? BenefitSummary_Network.OUT_OF_NETWORK : BenefitSummary_Network.UNKNOWN,
        coverageLevelCode: b.coverageLevel ?? '',
        timeQualifier: b.timePeriod ?? '',
        amount: b.amount === undefined ? undefined : b.amount.toFixed(2),
        percent: b.percent === undefined ? undefined : String(b.percent),
      }),
    ),
  });
}

export function toErrorDetails(s: CoverageSummary): EligibilityErrorDetail[] {
  return s.errors.map((e) =>
    create(EligibilityErrorDetailSchema, {
      code: e.code,
      description: e.description ?? '',
      followupAction: e.followupAction ?? '',
      // AAA 79 on HTTP 400 is Stedi's "payer not set up for eligibility": no retry will help (the proto's rule).
      retryable: CONNECTIVITY_AAA_CODES.has(e.code) && !(e.code === '79' && s.httpStatus === 400),
      // 0 (unknown) for batch results and entries cached before the status was recorded.
      httpStatus: s.httpStatus ?? 0,
    }),
  );
}
