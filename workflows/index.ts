// Workflow bundle entry: every workflow type the worker registers.
export { eligibilityRefreshWorkflow } from './eligibility-refresh';
