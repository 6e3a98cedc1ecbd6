/**
 * Build step (`npm run build`): bundles the compiled workflows once into dist/workflow-bundle.js, which
 * workers/main.ts loads with `workflowBundle: { codePath }` instead of running webpack at every worker start.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_FILE } from '../workers/workflow-bundle';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  const file = path.resolve(__dirname, '..', WORKFLOW_BUNDLE_FILE);
  writeFileSync(file, code);
  console.log(`${file}: ${code.length} bytes`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
