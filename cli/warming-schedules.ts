/**
 * `npx tsx cli/warming-schedules.ts apply [--file schedules/warming-schedules.yaml] [--dry-run]`
 * `npx tsx cli/warming-schedules.ts validate [--file ...]`
 *
 * Reconciles the cache-warming Temporal Schedules (`warming/<name>`) with the warming schedules file and prints
 * what changed. A malformed file is rejected (exit 2) before any schedule is touched. Schedules created through the
 * ScheduleWarming RPC are left alone unless the file lists the same name. Connection settings come from the usual
 * environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE).
 */
import { connectTemporalClient } from '../lib/temporal/connect';
import path from 'node:path';
import { loadConfig } from '../lib/config';
import { ScheduleFileError } from '../schedules/load';
import { applyWarmingSchedules, createTemporalWarmingScheduleStore, formatWarmingReport } from '../schedules/warming';
import { loadWarmingScheduleFile } from '../schedules/warming-load';

const DEFAULT_FILE = path.resolve(__dirname, '../schedules/warming-schedules.yaml');

function usage(): never {
  console.error('usage: warming-schedules.ts <apply|validate> [--file <path>] [--dry-run] [--prefix warming/]');
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
    defs = await loadWarmingScheduleFile(file);
  } catch (err) {
    if (err instanceof ScheduleFileError) {
      console.error(err.message);
      console.error('no schedule was changed');
      return 2;
    }
    throw err;
  }
  if (command === 'validate') {
    console.log(`${file}: ${defs.length} warming schedule(s) valid`);
    return 0;
  }
  const config = loadConfig();
  // The platform's data converter (payload codec): schedule action inputs are encrypted like every payload.
  const { connection, client } = await connectTemporalClient(config);
  try {
    const report = await applyWarmingSchedules(defs, createTemporalWarmingScheduleStore(client), {
      taskQueue: config.temporal.taskQueue,
      dryRun,
      ...(prefix !== undefined ? { idPrefix: prefix } : {}),
    });
    console.log(formatWarmingReport(report));
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
