import { CancellationScope, ContinueAsNew, isCancellation, setHandler } from '@temporalio/workflow';
import type { EndReason } from '../lib/batch/progress';
import { BatchRun } from './batch-run';
import {
  BATCH_WORKFLOW_TYPE,
  batchAcceptedUpdate,
  batchDispatchGateQuery,
  batchStatusQuery,
  cancelBatchSignal,
  cancelBatchUpdate,
  legacyCancelBatchUpdate,
  pauseBatchSignal,
  resumeBatchSignal,
  validateCancelBatchArgs,
  validateNoArgs,
  type BatchWorkflowInput,
  type BatchWorkflowResult,
} from './batch.defs';
import { ignoredSignals, optionalStringArg } from './ignored-signals';

/**
 * One batch of eligibility checks (design doc Component 3).
 *
 * A batch is accepted, resolves its members (a member_query is read page by page into PostgreSQL), chooses how to
 * reach Stedi (real-time slots or the batch API, from size, priority and load), waits for its scheduling window,
 * checks its members — cache answers first, then Stedi — and finishes with a final status, an event and a webhook.
 * Clients may pause, resume and cancel it at any time and ask for its status.
 *
 * Exactly-once accounting: a member is counted when its activity result is recorded in this workflow's history —
 * replays and worker crashes re-derive the same counts; Stedi batch results are counted as deltas against a
 * per-chunk bitmap of members already seen. State and steps live in BatchRun (workflows/batch-run.ts); every count
 * changes through a pure reducer (lib/batch/reducers.ts).
 */
export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchWorkflowResult> {
  const batch = new BatchRun(input);

  // Messages: status query; pause / resume / cancel signals; cancel-and-wait and accepted updates (validated).
  const ignored = ignoredSignals(BATCH_WORKFLOW_TYPE);
  setHandler(batchStatusQuery, () => batch.status());
  setHandler(batchDispatchGateQuery, () => batch.dispatchGate());
  setHandler(pauseBatchSignal, (a) => batch.pause(optionalStringArg(ignored, pauseBatchSignal.name, a, 'by', 100)));
  setHandler(resumeBatchSignal, () => batch.resume());
  setHandler(cancelBatchSignal, (a) => batch.requestCancel(optionalStringArg(ignored, cancelBatchSignal.name, a, 'reason', 500)));
  setHandler(cancelBatchUpdate, (a) => batch.cancelAndWait(a?.reason), { validator: validateCancelBatchArgs });
  setHandler(legacyCancelBatchUpdate, (a) => batch.cancelAndWait(a?.reason), { validator: validateCancelBatchArgs });
  setHandler(batchAcceptedUpdate, () => batch.accepted(), { validator: validateNoArgs });
  // After every signal handler: a signal by another name (a typo) is logged and listed by the ignoredSignals query.
  ignored.watchUnknown([pauseBatchSignal.name, resumeBatchSignal.name, cancelBatchSignal.name]);

  batch.announce();

  let reason: EndReason;
  try {
    if (batch.needsResolving) await batch.resolveMembers();
    await batch.chooseStrategy();
    if (batch.stopRequested()) reason = batch.endReason();
    else reason = batch.usesRealtime ? await batch.runRealtime() : await batch.runBatchApi();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    // Temporal-level cancellation (e.g. `temporal workflow cancel`) has CancelBatch's semantics; anything else fails
    // the batch with its reason.
    reason = isCancellation(err) ? batch.cancelledByTemporal() : batch.fail(err);
  }
  // The end is never cancelled half-way: counts, errors, final status and events all land.
  return CancellationScope.nonCancellable(() => batch.finish(reason));
}
