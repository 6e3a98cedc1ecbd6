import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { loadConfig } from '../lib/config';
import { temporalDataConverter } from '../lib/temporal/connect';

/**
 * Replays saved histories of real runs (test/histories/*.bin, saved with `scripts/save-history.ts`) against
 * today's workflow code. A change that would break running workflows (non-determinism) fails here before it ships.
 * Refresh a history only when a change is deliberately incompatible (and then version the workflow).
 */
const dir = path.resolve(__dirname, '../test/histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.bin'));

describe('workflow histories replay deterministically', () => {
  let bundle: { code: string };
  beforeAll(async () => {
    bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./index'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } });
  }, 120_000);

  it('has saved histories for the main workflow types', () => {
    expect(files).toEqual(expect.arrayContaining(['batch-realtime.bin', 'eligibility-refresh.bin', 'member-cron.bin']));
  });

  it.each(files)('%s', async (file) => {
    const history = temporal.api.history.v1.History.decode(readFileSync(path.join(dir, file)));
    // With the production data converter: encrypted histories decode, pre-codec (plaintext) ones pass through.
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: temporalDataConverter(loadConfig({})) }, history, file)).resolves.toBeUndefined();
  }, 120_000);
});
