/**
 * What cli/schedules.ts (member-cron) and cli/warming-schedules.ts share: `<apply|validate> [--file <path>]
 * [--dry-run] [--prefix <p>]`, loading the file (a malformed one: exit 2, nothing touched), and applying it
 * through a Temporal client built from the usual environment with the platform's data converter.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { loadConfig } from '../lib/config';
import { connectTemporalClient } from '../lib/temporal/connect';
import { ScheduleFileError } from '../schedules/load';

export interface ScheduleCliArgs {
  command: 'apply' | 'validate';
  file: string;
  dryRun: boolean;
  prefix: string | undefined;
}

/** Thrown for arguments the CLI does not understand (the runner prints the usage line and exits 64). */
export class ScheduleCliUsageError extends Error {}

export function parseScheduleCliArgs(argv: readonly string[], defaultFile: string): ScheduleCliArgs {
  const usage = (): never => {
    throw new ScheduleCliUsageError();
  };
  const [command, ...rest] = argv;
  if (command !== 'apply' && command !== 'validate') usage();
  let file = defaultFile;
  let dryRun = false;
  let prefix: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === '--file') file = path.resolve(rest[++i] ?? usage());
    else if (a === '--dry-run') dryRun = true;
    else if (a === '--prefix') prefix = rest[++i] ?? usage();
    else usage();
  }
  return { command: command as ScheduleCliArgs['command'], file, dryRun, prefix };
}

export interface ScheduleCli<D> {
  /** Printed (with a leading `usage: `) on bad arguments. */
  usage: string;
  defaultFile: string;
  /** `validate` prints `<file>: <n> <noun> valid`, e.g. `schedule(s)`. */
  noun: string;
  load(file: string): Promise<readonly D[]>;
  /** Applies the definitions and returns the printable report. */
  apply(defs: readonly D[], client: Client, opts: { taskQueue: string; dryRun: boolean; idPrefix?: string }): Promise<string>;
}

async function main<D>(cli: ScheduleCli<D>, argv: readonly string[]): Promise<number> {
  const { command, file, dryRun, prefix } = parseScheduleCliArgs(argv, cli.defaultFile);
  let defs;
  try {
    defs = await cli.load(file);
  } catch (err) {
    if (err instanceof ScheduleFileError) {
      console.error(err.message);
      console.error('no schedule was changed');
      return 2;
    }
    throw err;
  }
  if (command === 'validate') {
    console.log(`${file}: ${defs.length} ${cli.noun} valid`);
    return 0;
  }
  const config = loadConfig();
  // The platform's data converter (payload codec): schedule action inputs are encrypted like every payload.
  const { connection, client } = await connectTemporalClient(config);
  try {
    console.log(
      await cli.apply(defs, client, {
        taskQueue: config.temporal.taskQueue,
        dryRun,
        ...(prefix !== undefined ? { idPrefix: prefix } : {}),
      }),
    );
    return 0;
  } finally {
    await connection.close();
  }
}

/** Runs the CLI on `process.argv` and exits: 0 done, 2 malformed file, 64 bad arguments, 1 anything else. */
export function runScheduleCli<D>(cli: ScheduleCli<D>): void {
  main(cli, process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ScheduleCliUsageError) {
        console.error(`usage: ${cli.usage}`);
        process.exit(64);
      }
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
