import { readFileSync } from 'node:fs';
import { Counter, Histogram, type Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';

/** `member_cron_events_dead_lettered_total{reason}` (lib/metric-label-values.ts). */
export const DEAD_LETTER_REASONS = ['build', 'publish'] as const;

/**
 * Member cron metrics (design doc: "track emit rate, subscriber lag, prediction accuracy"). `knownSchedules`: the
 * dead-letter counter's series of these schedules start at 0, so RteMemberCronDeadLetters (an increase() > 0) sees
 * the first burst after a worker start: a series first scraped at 5 has no increase (probe p16 #7).
 */
export function createMemberCronMetrics(registry: Registry, opts: { knownSchedules?: readonly string[] } = {}) {
  const metrics = {
    eventsEmitted: new Counter({
      name: 'member_cron_events_emitted_total',
      help: 'MemberCronEvents written to Kafka, by schedule (rate() of it is the emit rate)',
      labelNames: ['schedule'] as const,
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: 'member_cron_events_duplicate_total',
      help: 'Members skipped because their event for this schedule tick was already emitted (reruns)',
      labelNames: ['schedule'] as const,
      registers: [registry],
    }),
    eventsDeadLettered: new Counter({
      name: 'member_cron_events_dead_lettered_total',
      help: 'MemberCronEvents sent to the dead-letter topic, by schedule and reason class',
      labelNames: ['schedule', 'reason'] as const,
      registers: [registry],
    }),
    emitLag: new Histogram({
      name: 'member_cron_emit_lag_seconds',
      help: 'Delay from the scheduled time to the broker acknowledging the event',
      labelNames: ['schedule'] as const,
      buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600],
      registers: [registry],
    }),
    predictedProbability: new Histogram({
      name: 'member_cron_predicted_app_usage_probability',
      help: 'Distribution of predicted app usage probability, by model version (drift watch; accuracy: rte_cache_warming_prediction_accuracy)',
      labelNames: ['model_version'] as const,
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1],
      registers: [registry],
    }),
    predictionsRecorded: new Counter({
      name: 'member_cron_high_confidence_predictions_recorded_total',
      help: 'High-confidence predictions of emitted events recorded for the online accuracy metric (first record per member and tick)',
      labelNames: ['schedule'] as const,
      registers: [registry],
    }),
    predictionRecordFailures: new Counter({
      name: 'member_cron_prediction_record_failures_total',
      help: 'High-confidence predictions that could not be recorded (the accuracy metric undercounts them; emission is unaffected)',
      labelNames: ['schedule'] as const,
      registers: [registry],
    }),
  };
  for (const schedule of opts.knownSchedules ?? []) for (const reason of DEAD_LETTER_REASONS) metrics.eventsDeadLettered.inc({ schedule, reason }, 0);
  return metrics;
}
export type MemberCronMetrics = ReturnType<typeof createMemberCronMetrics>;

/**
 * The schedule names of a member-cron schedules file (schedules/member-cron-schedules.yaml), read leniently: only to
 * pre-create metric series, so a missing or unreadable file gives [] (the file is validated where it is applied).
 */
export function memberCronScheduleNames(files: readonly string[]): string[] {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    try {
      const doc = parseYaml(text) as { schedules?: { name?: unknown }[] } | null;
      return [...new Set((doc?.schedules ?? []).map((s) => s?.name).filter((n): n is string => typeof n === 'string' && n !== ''))];
    } catch {
      return [];
    }
  }
  return [];
}
