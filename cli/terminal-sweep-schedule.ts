/**
 * `npx tsx cli/terminal-sweep-schedule.ts apply [--dry-run]`
 *
 * Creates or updates the terminal sweep's Temporal Schedule (`batch-terminal-sweep`: batches ended at the Temporal
 * level get their FAILED event; docs/batch.md) from the environment: every BATCH_TERMINAL_SWEEP_INTERVAL_SECONDS
 * (60; 0: leave the schedule alone), looking back BATCH_TERMINAL_SWEEP_LOOKBACK_HOURS (24), on TEMPORAL_TASK_QUEUE.
 * Prints `batch-terminal-sweep: created|updated|unchanged`. `stack up` runs it after the other schedule applies.
 */
import { loadConfig } from '../lib/config';
import { connectTemporalClient } from '../lib/temporal/connect';
import { ensureTerminalSweepSchedule } from '../schedules/terminal-sweep';
import { TERMINAL_SWEEP_SCHEDULE_ID } from '../workflows/terminal-sweep.defs';

const USAGE = 'usage: terminal-sweep-schedule.ts apply [--dry-run]';

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'apply' || rest.some((a) => a !== '--dry-run')) {
    console.error(USAGE);
    return 64;
  }
  const dryRun = rest.includes('--dry-run');
  const config = loadConfig();
  const { intervalMs, lookbackMs } = config.batch.terminalSweep;
  if (intervalMs === 0) {
    console.log(`${TERMINAL_SWEEP_SCHEDULE_ID}: not managed (BATCH_TERMINAL_SWEEP_INTERVAL_SECONDS=0)`);
    return 0;
  }
  const { client, connection } = await connectTemporalClient(config);
  try {
    const action = await ensureTerminalSweepSchedule(client, { taskQueue: config.temporal.taskQueue, intervalMs, lookbackMs, dryRun });
    console.log(`${TERMINAL_SWEEP_SCHEDULE_ID}: ${dryRun && action !== 'unchanged' ? `would be ${action}` : action} (every ${intervalMs / 1000} s, lookback ${lookbackMs / 3_600_000} h, task queue ${config.temporal.taskQueue})`);
    return 0;
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
