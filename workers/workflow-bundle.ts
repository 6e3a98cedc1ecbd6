import { existsSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';

/**
 * Where the worker gets its workflow code. `npm run build` bundles the workflows once (scripts/bundle-workflows.ts
 * writes dist/workflow-bundle.js); a built worker loads that file, so it starts without webpack and every replica
 * runs byte-identical workflow code. From sources (tsx, tests) there is no prebuilt bundle: it is built once here
 * and shared by both of the process's workers.
 */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

let inProcess: Promise<{ code: string }> | undefined;

export async function workflowCodeOption(): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  // Compiled: this file is dist/workers/workflow-bundle.js and the bundle dist/workflow-bundle.js.
  const prebuilt = path.resolve(__dirname, '..', WORKFLOW_BUNDLE_FILE);
  if (__filename.endsWith('.js') && existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  inProcess ??= bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  return { workflowBundle: await inProcess };
}
