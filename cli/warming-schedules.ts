/**
 * `npx tsx cli/warming-schedules.ts apply [--file schedules/warming-schedules.yaml] [--dry-run]`
 * `npx tsx cli/warming-schedules.ts validate [--file ...]`
 *
 * Reconciles the cache-warming Temporal Schedules (`warming/<name>`) with the warming schedules file and prints
 * what changed. A malformed file is rejected (exit 2) before any schedule is touched; apply also refuses ids, state
 * codes and feature-flag keys the member directory does not know, as the ScheduleWarming RPC does. Schedules created through the
 * ScheduleWarming RPC are left alone unless the file lists the same name. Connection settings come from the usual
 * environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE).
 */
import path from 'node:path';
import { applyWarmingSchedules, createTemporalWarmingScheduleStore, formatWarmingReport } from '../schedules/warming';
import { loadWarmingScheduleFile } from '../schedules/warming-load';
import { runScheduleCli, type ScheduleCli } from './schedule-cli';
import type { WarmingScheduleDefinition } from '../schedules/warming-request';
import { loadConfig } from '../lib/config';
import { warmingTuningFromConfig } from '../lib/temporal/warming-jobs';

export const warmingScheduleCli: ScheduleCli<WarmingScheduleDefinition> = {
  usage: 'warming-schedules.ts <apply|validate> [--file <path>] [--dry-run] [--prefix warming/]',
  defaultFile: path.resolve(__dirname, '../schedules/warming-schedules.yaml'),
  noun: 'warming schedule(s)',
  load: loadWarmingScheduleFile,
  // The same tuning the ScheduleWarming RPC puts in a schedule's action (api/routes.ts), so both writers agree.
  apply: async (defs, client, opts) =>
    formatWarmingReport(await applyWarmingSchedules(defs, createTemporalWarmingScheduleStore(client), { ...opts, tuning: warmingTuningFromConfig(loadConfig()) })),
};

// Imported by tests for its definition; run only as a program.
if (require.main === module) runScheduleCli(warmingScheduleCli);
