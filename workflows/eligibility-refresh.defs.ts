import { defineQuery } from '@temporalio/workflow';
import type { BatchPriority } from '../lib/wdrr';

/**
 * Contract of the eligibility refresh workflow, importable by the API, the CLI and other Temporal
 * services without pulling in the workflow body.
 *
 * Workflow type: `eligibilityRefreshWorkflow`. Workflow id: `eligibility/<memberHash>/<operation>` (see
 * eligibilityRefreshWorkflowId) so concurrent misses for one member share one run (start with
 * WorkflowIdConflictPolicy USE_EXISTING) and therefore one Stedi call.
 */
export const ELIGIBILITY_REFRESH_WORKFLOW_TYPE = 'eligibilityRefreshWorkflow';

export type RefreshRequester =
  | { kind: 'interactive' }
  | { kind: 'batch'; clientService: string; priority: BatchPriority };

export type RefreshSource = 'realtime' | 'warming' | 'batch';

export interface EligibilityRefreshInput {
  memberId: string;
  /** The RTE operation being cached, e.g. "coverage" (service type code 30). */
  operation: string;
  serviceTypeCodes?: string[];
  /** Overrides of the payer on file / the configured provider NPI (part of the operation key when set). */
  payerId?: string;
  providerNpi?: string;
  requester: RefreshRequester;
  source: RefreshSource;
  /**
   * Epoch ms when the caller saw the cache miss/expiry. A cached answer fetched at or after this time
   * satisfies the request without another Stedi call (a refresh that finished while this one queued).
   */
  satisfiedByFetchAfter?: number;
  /** Set by the batch workflow: the member's place in its batch, so the outcome is streamed to watchers. */
  batchMember?: { batchId: string; index: number };
}

export type RefreshPhase = 'refreshing' | 'completed' | 'failed';

export interface EligibilityRefreshStatus {
  phase: RefreshPhase;
  lastError?: string;
}

export interface EligibilityRefreshResult {
  outcome: 'success' | 'error';
  /** Cache entry timestamps, epoch ms. */
  fetchedAt: number;
  expiresAt: number;
  stediCheckId?: string;
  /** Stedi calls this refresh made: 0 when a newer cache entry answered it (absent from older workers: 1). */
  stediCalls?: number;
}

export const eligibilityRefreshStatusQuery = defineQuery<EligibilityRefreshStatus>('eligibilityRefreshStatus');

export function eligibilityRefreshWorkflowId(memberHash: string, operation: string): string {
  return `eligibility/${memberHash}/${operation}`;
}
