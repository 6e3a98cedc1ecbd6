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
const load = (file: string) => temporal.api.history.v1.History.decode(readFileSync(path.join(dir, file)));

describe('workflow histories replay deterministically', () => {
  let bundle: { code: string };
  beforeAll(async () => {
    bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./index'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } });
  }, 120_000);

  it('has saved histories for the main workflow types and paths', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'batch-realtime.bin',
        'eligibility-refresh.bin',
        'member-cron.bin',
        // Recorded from real runs on the stack (issue 13): every batch patch, the Stedi batch-API path (submit + polls),
        // webhook delivery (delivered, and undelivered → FAILED), a member-cron shard.
        'batch-every-patch.bin',
        'batch-stedi-api.bin',
        'webhook-delivered.bin',
        'webhook-undelivered.bin',
        // AT_LEAST_ONCE, receiver answering 500, schedule [0, 0]: retry then exhausted (patch webhook-final-attempt-v1).
        'webhook-exhausted.bin',
        'member-cron-shard.bin',
        // No member data in histories (issue 13): batch refreshes by list index, member cron pages by stored reference.
        'batch-member-refs.bin',
        'member-cron-page-refs.bin',
        'member-cron-shard-ref.bin',
        // SubmitBatch's bounded answer and events that outlive a cancelled scope (probe batch #12, #15).
        'batch-query-slow-cancel-mid-check.bin',
        // The terminal sweep: a sweep that started a batch's terminal-event workflow, and one that sent FAILED to
        // Kafka and started its webhook delivery (recorded by test/integration/batch-terminal-sweep.int.test.ts).
        'terminal-sweep-started.bin',
        'terminal-event-webhook.bin',
      ]),
    );
    const activities = (file: string) => new Set(load(file).events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean));
    expect([...activities('batch-stedi-api.bin')]).toEqual(expect.arrayContaining(['submitStediChunk', 'pollStediChunk']));
  });

  // Every patched() id in workflows/ must be exercised (its marker recorded) by at least one saved history, so the
  // branch old runs take is replayed in CI. Adding a patch means recording a history that passes through it.
  it('every patched() branch in workflows/ is exercised by a saved history', () => {
    const wfDir = path.resolve(__dirname);
    const ids = new Set<string>();
    for (const f of readdirSync(wfDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      for (const m of readFileSync(path.join(wfDir, f), 'utf8').matchAll(/\b(?:patched|deprecatePatch)\(\s*['"]([^'"]+)['"]/g)) ids.add(m[1]!);
    }
    expect(ids.size).toBeGreaterThan(0);
    const recorded = new Set<string>();
    for (const file of files) {
      for (const e of load(file).events ?? []) {
        const m = e.markerRecordedEventAttributes;
        if (m?.markerName !== 'core_patch') continue;
        const data = m.details?.['patch-data']?.payloads?.[0]?.data;
        if (data) recorded.add((JSON.parse(Buffer.from(data).toString('utf8')) as { id: string }).id);
      }
    }
    expect([...ids].filter((id) => !recorded.has(id)).sort()).toEqual([]);
  });

  it.each(files)('%s', async (file) => {
    const history = load(file);
    // With the production data converter: encrypted histories decode, pre-codec (plaintext) ones pass through.
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: temporalDataConverter(loadConfig({})) }, history, file)).resolves.toBeUndefined();
  }, 120_000);
});
