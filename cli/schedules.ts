/**
 * `npx tsx cli/schedules.ts apply [--file schedules/member-cron-schedules.yaml] [--dry-run]`
 * `npx tsx cli/schedules.ts validate [--file ...]`
 *
 * Reconciles Temporal Schedules with the member-cron schedule file and prints what changed. A malformed
 * file is rejected (exit 2) before any schedule is touched. Connection settings come from the usual
 * environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE).
 */
import { connectTemporalClient } from '../lib/temporal/connect';
import path from 'node:path';
import { loadConfig } from '../lib/config';
import { applySchedules, createTemporalScheduleStore, formatReport } from '../schedules/apply';
import { loadScheduleFile, ScheduleFileError } from '../schedules/load';

const DEFAULT_FILE = path.resolve(__dirname, '../schedules/member-cron-schedules.yaml');

function usage(): never {
  console.error('usage: schedules.ts <apply|validate> [--file <path>] [--dry-run] [--prefix member-cron/]');
  process.exit(64);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'apply' && command !== 'validate') usage();
  let file = DEFAULT_FILE;
  let dryRun = false;
  let prefix: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--file') file = path.resolve(rest[++i] ?? usage());
    else if (a === '--dry-run') dryRun = true;
    else if (a === '--prefix') prefix = rest[++i] ?? usage();
    else usage();
  }
  let defs;
  try {
    defs = await loadScheduleFile(file);
  } catch (err) {
    if (err instanceof ScheduleFileError) {
      console.error(err.message);
      console.error('no schedule was changed');
      return 2;
    }
    throw err;
  }
  if (command === 'validate') {
    console.log(`${file}: ${defs.length} schedule(s) valid`);
    return 0;
  }
  const config = loadConfig();
  const { connection, client } = await connectTemporalClient(config);
  try {
    const report = await applySchedules(defs, createTemporalScheduleStore(client), {
      taskQueue: config.temporal.taskQueue,
      dryRun,
      ...(prefix !== undefined ? { idPrefix: prefix } : {}),
    });
    console.log(formatReport(report));
    return 0;
  } finally {
    await connection.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
