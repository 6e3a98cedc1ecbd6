/**
 * `npx tsx cli/schedules.ts apply [--file schedules/member-cron-schedules.yaml] [--dry-run]`
 * `npx tsx cli/schedules.ts validate [--file ...]`
 *
 * Reconciles Temporal Schedules with the member-cron schedule file and prints what changed. A malformed
 * file is rejected (exit 2) before any schedule is touched; apply also refuses ids, state codes and feature-flag keys the
 * member directory does not know (validate reads no database and says so). Connection settings come from the usual
 * environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE).
 */
import path from 'node:path';
import { applySchedules, createTemporalScheduleStore, formatReport } from '../schedules/apply';
import { loadScheduleFile } from '../schedules/load';
import { runScheduleCli, type ScheduleCli } from './schedule-cli';
import type { ScheduleDefinition } from '../schedules/load';

export const memberCronScheduleCli: ScheduleCli<ScheduleDefinition> = {
  usage: 'schedules.ts <apply|validate> [--file <path>] [--dry-run] [--prefix member-cron/]',
  defaultFile: path.resolve(__dirname, '../schedules/member-cron-schedules.yaml'),
  noun: 'schedule(s)',
  load: loadScheduleFile,
  apply: async (defs, client, opts) => formatReport(await applySchedules(defs, createTemporalScheduleStore(client), opts)),
};

// Imported by tests for its definition; run only as a program.
if (require.main === module) runScheduleCli(memberCronScheduleCli);
