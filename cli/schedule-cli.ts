/**
 * What cli/schedules.ts (member-cron) and cli/warming-schedules.ts share: `<apply|validate> [--file <path>]
 * [--dry-run] [--prefix <p>]`, loading the file (a malformed one: exit 2, nothing touched), and applying it
 * through a Temporal client built from the usual environment with the platform's data converter. `apply` (dry run
 * included) also checks every member_query's ids against the member directory (DATABASE_READ_URL/DATABASE_URL), as
 * SubmitBatch and ScheduleWarming do; `validate` reads no database and says so.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { directoryClock } from '../directory/loader';
import { createPgMemberDirectory } from '../directory/pg-member-directory';
import { createDirectoryPools } from '../directory/pool';
import { loadConfig } from '../lib/config';
import { connectTemporalClient } from '../lib/temporal/connect';
import { ScheduleFileError, type MemberQueryCheck } from '../schedules/load';

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
  /** Loads and validates the file; with `check`, every member_query's ids are checked against the directory too. */
  load(file: string, check?: MemberQueryCheck): Promise<readonly D[]>;
  /** Applies the definitions and returns the printable report. */
  apply(defs: readonly D[], client: Client, opts: { taskQueue: string; dryRun: boolean; idPrefix?: string }): Promise<string>;
}

/** Where the CLI writes (the process's console by default; tests capture it). */
export interface ScheduleCliOutput {
  log(line: string): void;
  error(line: string): void;
}

/** What `validate` cannot know without the directory; `apply` checks it. */
export const IDS_NOT_CHECKED =
  'sponsor, population, insurance plan, benefit contract and healthcare service ids, state codes and feature-flag keys were not checked against the member directory (apply checks them)';

async function loadChecked<D>(cli: ScheduleCli<D>, file: string, config: ReturnType<typeof loadConfig>): Promise<readonly D[]> {
  // The directory the scheduled runs query (the read pool, the workers' clock), so a query apply accepts is one a run can answer.
  const pools = createDirectoryPools(config, { max: 2 });
  try {
    const directory = createPgMemberDirectory(pools.readPg, { now: await directoryClock(pools.readPg) });
    return await cli.load(file, (q) => directory.checkQuery(q));
  } catch (err) {
    if (err instanceof ScheduleFileError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot check the file's member_query ids against the member directory (DATABASE_READ_URL/DATABASE_URL): ${reason}; no schedule was changed`);
  } finally {
    await pools.close();
  }
}

/** Runs one command; resolves to the exit code (0 done, 2 file refused with nothing changed). */
export async function runScheduleCommand<D>(cli: ScheduleCli<D>, argv: readonly string[], out: ScheduleCliOutput = console): Promise<number> {
  const { command, file, dryRun, prefix } = parseScheduleCliArgs(argv, cli.defaultFile);
  const config = command === 'apply' ? loadConfig() : undefined;
  let defs;
  try {
    defs = config ? await loadChecked(cli, file, config) : await cli.load(file);
  } catch (err) {
    if (err instanceof ScheduleFileError) {
      out.error(err.message);
      out.error('no schedule was changed');
      return 2;
    }
    throw err;
  }
  if (!config) {
    out.log(`${file}: ${defs.length} ${cli.noun} valid; ${IDS_NOT_CHECKED}`);
    return 0;
  }
  // The platform's data converter (payload codec): schedule action inputs are encrypted like every payload.
  const { connection, client } = await connectTemporalClient(config);
  try {
    out.log(
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
  runScheduleCommand(cli, process.argv.slice(2)).then(
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
