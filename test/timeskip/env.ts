import { existsSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/**
 * Time-skipping TestWorkflowEnvironment on Temporal's Java test server from Maven Central (stack/test-server/):
 * the SDK's own download host is unreachable here, so the server runs behind an `existing-path` executable.
 * `./stack/stack install` puts the jars in .stack/test-server/lib; without them these tests FAIL (never skip).
 */
const ROOT = path.resolve(__dirname, '../..');
export const TEST_SERVER_WRAPPER = path.join(ROOT, 'stack/test-server/run.sh');
const TEST_SERVER_LIB = process.env.RTE_TEST_SERVER_LIB ?? path.join(ROOT, '.stack/test-server/lib');

let runtimeInstalled = false;

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  if (!existsSync(path.join(TEST_SERVER_LIB, '.complete'))) {
    throw new Error(`Temporal test server jars missing in ${TEST_SERVER_LIB}: run ./stack/stack install (stack/test-server/pom.xml)`);
  }
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: new DefaultLogger('WARN') });
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER_WRAPPER } } });
  // The workflows upsert the platform's custom search attributes (stack/search-attributes.txt).
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((k) => [k.name, k.type === 'DATETIME' ? 6 : 2])),
  });
  return env;
}
