import { normalizeEligibilityResponse, type CoverageSummary } from '../../lib/coverage-summary';
import { toApplicationFailure, type StediClassification } from './classify';
import { StediRequestError, type StediCallOptions, type StediGateway } from './gateway';
import type { EligibilityCheckRequest } from './types';

/**
 * A payer verdict worth caching: coverage (ok), a definitive rejection (do-not-resubmit, status 'error'), or a
 * payer connectivity answer (AAA 42/79/80 in a payer body: "retry later"), which is cached with the error TTL
 * like any error (design doc: 5 min) so the next request inside that TTL does not call Stedi again.
 */
export interface EligibilityVerdict {
  summary: CoverageSummary;
  classification: StediClassification;
  httpStatus: number;
  /** True for coverage answers (22 h TTL), false for AAA rejections and connectivity answers (error TTL). */
  coverageAnswer: boolean;
  /** A payer connectivity answer (classification 'payer-unavailable' with the payer's AAA body): retry after the error TTL. */
  retryLater: boolean;
}

/**
 * One real-time check, as an activity body wants it: returns a cacheable verdict (coverage, a definitive AAA
 * rejection, or a payer connectivity AAA answer marked `retryLater`), or throws the Temporal ApplicationFailure
 * that the classification calls for (retryable with backoff for throttling / HTTP 503-504 / 5xx / network;
 * non-retryable for validation and auth). The caller's cancellation propagates.
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
  if (classification.kind !== 'ok' && classification.kind !== 'do-not-resubmit' && classification.kind !== 'payer-unavailable') {
    throw toApplicationFailure(classification);
  }
  return {
    // The status travels with the summary into the cache, so a cached payer error still says what Stedi answered.
    summary: { ...normalizeEligibilityResponse(outcome.response), httpStatus: outcome.httpStatus },
    classification,
    httpStatus: outcome.httpStatus,
    coverageAnswer: classification.kind === 'ok',
    retryLater: classification.kind === 'payer-unavailable',
  };
}
