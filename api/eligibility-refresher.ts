import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { hashMemberId } from '../lib/member-hash';
import type { eligibilityRefreshWorkflow } from '../workflows/eligibility-refresh';
import {
  ELIGIBILITY_REFRESH_WORKFLOW_TYPE,
  eligibilityRefreshWorkflowId,
  type EligibilityRefreshInput,
  type EligibilityRefreshResult,
} from '../workflows/eligibility-refresh.defs';
import { RteJobType, RteMemberHash } from '../workflows/search-attributes';

/** Starts (or joins) the per-member refresh workflow. The API never calls Stedi itself. */
export interface EligibilityRefresher {
  /**
   * Single flight: concurrent callers for one member + operation share one workflow run. `signal` ends the wait
   * for the result (the caller's deadline or disconnect): the long-poll for it is cancelled, the refresh goes on.
   */
  refresh(input: EligibilityRefreshInput, signal?: AbortSignal): Promise<EligibilityRefreshResult>;
  /** Fire and forget (stale-while-revalidate); joins a run already in flight. */
  refreshInBackground(input: EligibilityRefreshInput): Promise<void>;
}

export function createTemporalRefresher(client: Client, taskQueue: string, memberHashSecret: string): EligibilityRefresher {
  const start = (input: EligibilityRefreshInput) => {
    const memberHash = hashMemberId(memberHashSecret, input.memberId);
    return client.workflow.start<typeof eligibilityRefreshWorkflow>(ELIGIBILITY_REFRESH_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: eligibilityRefreshWorkflowId(memberHash, input.operation),
      args: [input],
      // Join a run in flight (single flight); a finished run may be followed by a new refresh.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      workflowExecutionTimeout: '30 minutes',
      typedSearchAttributes: [
        { key: RteMemberHash, value: memberHash },
        { key: RteJobType, value: `eligibility-refresh:${input.source}` },
      ],
    });
  };
  return {
    async refresh(input, signal) {
      const handle = await start(input);
      if (!signal) return handle.result();
      // Without the signal, a caller that stopped waiting would leave the history long-poll open until the run ends
      // (up to its 30-minute timeout): one open gRPC call per abandoned check.
      return client.withAbortSignal(signal, () => handle.result());
    },
    async refreshInBackground(input) {
      await start(input);
    },
  };
}
