import { proxyActivities, setHandler } from '@temporalio/workflow';
import type { EligibilityActivities } from '../activities/eligibility/activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../lib/errors';
import {
  ELIGIBILITY_REFRESH_WORKFLOW_TYPE,
  eligibilityRefreshStatusQuery,
  type EligibilityRefreshInput,
  type EligibilityRefreshResult,
  type EligibilityRefreshStatus,
} from './eligibility-refresh.defs';
import { ignoredSignals } from './ignored-signals';

const { refreshEligibility } = proxyActivities<EligibilityActivities>({
  // The activity waits for a fair share of the 15 global slots, then makes one Stedi call (90 s timeout).
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  },
});

/**
 * One Stedi refresh of one member's eligibility, written to the cache. Deterministic glue only: the
 * activity does the slot wait, the call and the cache write, so a retry after a crash repeats them.
 */
export async function eligibilityRefreshWorkflow(input: EligibilityRefreshInput): Promise<EligibilityRefreshResult> {
  const status: EligibilityRefreshStatus = { phase: 'refreshing' };
  setHandler(eligibilityRefreshStatusQuery, () => ({ ...status }));
  ignoredSignals(ELIGIBILITY_REFRESH_WORKFLOW_TYPE).watchUnknown([]);
  try {
    const result = await refreshEligibility(input);
    status.phase = 'completed';
    return result;
  } catch (err) {
    status.phase = 'failed';
    status.lastError = err instanceof Error ? err.message : String(err);
    throw err;
  }
}
