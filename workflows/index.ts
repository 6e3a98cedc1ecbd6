// Workflow bundle entry: every workflow type the worker registers.
export { eligibilityRefreshWorkflow } from './eligibility-refresh';
export { batchWorkflow, webhookDeliveryWorkflow } from './batch-workflows';
export { memberCronWorkflow, memberCronShardWorkflow } from './member-cron';
export { cacheWarmingWorkflow } from './warming';
export { batchTerminalSweepWorkflow, batchTerminalEventWorkflow } from './terminal-sweep';
