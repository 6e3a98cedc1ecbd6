import { normalizeEligibilityResponse, type CoverageSummary } from '../../lib/coverage-summary';
import { toApplicationFailure, type StediClassification } from './classify';
import { StediRequestError, type StediCallOptions, type StediGateway } from './gateway';
import type { EligibilityCheckRequest } from './types';

/** A payer verdict worth caching: coverage (ok) or a definitive rejection (do-not-resubmit, status 'error'). */
export interface EligibilityVerdict {
  summary: CoverageSummary;
  classification: StediClassification;
  httpStatus: number;
  /** True for coverage answers (22 h TTL), false for definitive AAA rejections (error TTL). */
  coverageAnswer: boolean;
}

/**
 * One real-time check, as an activity body wants it: returns a cacheable verdict, or throws the Temporal
 * ApplicationFailure that the classification calls for (retryable with backoff for throttling / payer
 * connectivity / 5xx / network; non-retryable for validation and auth). The caller's cancellation propagates.
 */
export async function checkEligibilityToVerdict(
  gateway: StediGateway,
  request: EligibilityCheckRequest,
  options?: StediCallOptions,
): Promise<EligibilityVerdict> {
  let outcome;
  try {
    outcome = await gateway.checkEligibility(request, options);
  } catch (err) {
    if (err instanceof StediRequestError) throw toApplicationFailure(err.classification, err);
    throw err;
  }
  const { classification } = outcome;
  if (classification.kind !== 'ok' && classification.kind !== 'do-not-resubmit') {
    throw toApplicationFailure(classification);
  }
  return {
    summary: normalizeEligibilityResponse(outcome.response),
    classification,
    httpStatus: outcome.httpStatus,
    coverageAnswer: classification.kind === 'ok',
  };
}
