// Workflow types of the batch feature, for the worker bundle (re-export from workflows/index.ts) and tests.
export { batchWorkflow } from './batch';
export { webhookDeliveryWorkflow } from './batch-webhook-delivery';
