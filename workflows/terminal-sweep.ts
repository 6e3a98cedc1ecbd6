import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { ParentClosePolicy, log, proxyActivities, setCurrentDetails, startChild, workflowInfo } from '@temporalio/workflow';
import type { BatchActivities } from '../activities/batch/activities';
import type { TerminalSweepActivities } from '../activities/batch/terminal-sweep';
import { webhookBody } from '../lib/batch/events';
import { endedByTemporalQuery, sweptQuery } from '../lib/batch/terminal-sweep';
import { webhookDeliveryWorkflow } from './batch-webhook-delivery';
import { BATCH_WORKFLOW_TYPE, webhookDeliveryWorkflowId } from './batch.defs';
import { ignoredSignals } from './ignored-signals';
import {
  DEFAULT_SWEEP_LOOKBACK_MS,
  DEFAULT_SWEEP_MAX_BATCHES,
  TERMINAL_EVENT_WORKFLOW_TYPE,
  TERMINAL_SWEEP_WORKFLOW_TYPE,
  terminalSweepWorkflowId,
  type BatchTerminalEventInput,
  type BatchTerminalEventResult,
  type BatchTerminalSweepInput,
  type BatchTerminalSweepResult,
} from './terminal-sweep.defs';

const sweepActs = proxyActivities<TerminalSweepActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});
// The batch's own Kafka publish, with the batch's retry (~15 min of a Kafka outage).
const eventActs = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

/**
 * One sweep (contract: workflows/terminal-sweep.defs.ts): lists the batches on this task queue that Temporal ended
 * without their own terminal status, closed within the lookback, and starts one terminal-event workflow per batch
 * (id `<batch id>/terminal-sweep`). A batch swept before is refused by Temporal's id uniqueness and skipped.
 */
export async function batchTerminalSweepWorkflow(input: BatchTerminalSweepInput = {}): Promise<BatchTerminalSweepResult> {
  ignoredSignals(TERMINAL_SWEEP_WORKFLOW_TYPE).watchUnknown([]);
  const { taskQueue } = workflowInfo();
  const sinceMs = Date.now() - (input.lookbackMs ?? DEFAULT_SWEEP_LOOKBACK_MS);
  setCurrentDetails(`looking for batches ended at the Temporal level since ${new Date(sinceMs).toISOString()}`);
  const { batches } = await sweepActs.findBatchesEndedByTemporal({
    query: endedByTemporalQuery({ workflowType: BATCH_WORKFLOW_TYPE, sinceMs, taskQueue }),
    sweptQuery: sweptQuery({ workflowType: TERMINAL_EVENT_WORKFLOW_TYPE, sinceMs, taskQueue }),
    limit: input.maxBatches ?? DEFAULT_SWEEP_MAX_BATCHES,
  });
  const started: string[] = [];
  const alreadySwept: string[] = [];
  for (const b of batches) {
    try {
      await startChild(batchTerminalEventWorkflow, {
        workflowId: terminalSweepWorkflowId(b.batchId),
        // Once per batch: refused while one runs or after one completed; a failed one (Kafka down past its retries)
        // may be tried again by a later sweep (the event id is the same, so consumers that dedupe see it once).
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        args: [b satisfies BatchTerminalEventInput],
        staticSummary: `FAILED event for ${b.batchId} (${b.endedBy.toLowerCase()} in Temporal)`,
      });
      started.push(b.batchId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      alreadySwept.push(b.batchId);
    }
  }
  const summary = `${batches.length} batch(es) ended at the Temporal level without their terminal event · ${started.length} terminal event(s) started · ${alreadySwept.length} swept before`;
  setCurrentDetails(summary);
  if (started.length > 0) log.info('terminal sweep started terminal events', { started: started.length, alreadySwept: alreadySwept.length });
  return { found: batches.length, started, alreadySwept };
}

/**
 * The FAILED event of one batch Temporal ended (id `<batch id>/terminal-sweep`): its last counters and GetBatchStatus's
 * reason, the next event number, to Kafka with the batch's own publish activity, then to its webhook (when its filter
 * lets FAILED through) as the batch's own `webhookDeliveryWorkflow`, id `<batch id>/webhook/<event id>`.
 */
export async function batchTerminalEventWorkflow(input: BatchTerminalEventInput): Promise<BatchTerminalEventResult> {
  ignoredSignals(TERMINAL_EVENT_WORKFLOW_TYPE).watchUnknown([]);
  setCurrentDetails(`reading the last state of ${input.batchId} (${input.endedBy.toLowerCase()} in Temporal)`);
  const r = await sweepActs.readEndedBatch(input);
  if ('skip' in r) {
    setCurrentDetails(`nothing to send: ${r.skip}`);
    return { batchId: input.batchId, outcome: 'skipped', reason: r.skip };
  }
  const { event } = r;
  setCurrentDetails(`sending ${event.eventId} (FAILED, ${event.failure?.code ?? 'no code'})`);
  // Fails this workflow when Kafka stays unreachable past the retries: a later sweep tries again.
  await eventActs.publishBatchEvent({ topic: r.topic, event });
  let webhook: BatchTerminalEventResult['webhook'] = 'none';
  if (r.webhook) {
    try {
      await startChild(webhookDeliveryWorkflow, {
        workflowId: webhookDeliveryWorkflowId(event.batchId, event.eventId),
        parentClosePolicy: ParentClosePolicy.ABANDON,
        args: [{ url: r.webhook.url, webhookId: event.eventId, body: webhookBody(event), eventType: 'FAILED', batchId: event.batchId, clientService: event.clientService, mode: r.webhook.mode }],
      });
      webhook = 'started';
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      webhook = 'exists';
    }
  }
  await sweepActs.recordTerminalSweep({ batchId: input.batchId, endedBy: input.endedBy, eventId: event.eventId, webhook });
  setCurrentDetails(`sent ${event.eventId} (FAILED, ${event.failure?.code ?? 'no code'}) · webhook ${webhook}`);
  return { batchId: input.batchId, outcome: 'sent', eventId: event.eventId, webhook };
}
