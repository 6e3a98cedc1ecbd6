import { defineQuery } from '@temporalio/workflow';
import type { BatchPriority } from '../lib/wdrr';
import type { WarmingPriority } from '../lib/warming/types';

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
  | { kind: 'batch'; clientService: string; priority: BatchPriority }
  /** A cache-warming job's real-time warm: slot class `warming`, cache source 'warming', recorded in cache_warms. */
  | { kind: 'warming'; jobId: string; priority: WarmingPriority };

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

/**
 * The refresh activity's input: the workflow's, or (a batch member since patch `batch-member-refs-v1`) without
 * `memberId` and with the batch's list reference: the activity reads the id at `batchMember.index` from the stored
 * list, so no member id enters the batch's history.
 */
export type RefreshActivityInput = Omit<EligibilityRefreshInput, 'memberId' | 'batchMember'> & {
  memberId?: string;
  batchMember?: { batchId: string; index: number; listRef?: string };
};

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
  /** outcome 'error': what the payer said ("AAA 72 Invalid/Missing Subscriber/Insured ID"); absent from older workers. */
  payerError?: string;
}

export const eligibilityRefreshStatusQuery = defineQuery<EligibilityRefreshStatus>('eligibilityRefreshStatus');

export function eligibilityRefreshWorkflowId(memberHash: string, operation: string): string {
  return `eligibility/${memberHash}/${operation}`;
}
