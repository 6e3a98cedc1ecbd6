import { Counter, Histogram, type Registry } from 'prom-client';

/** Member cron metrics (design doc: "track emit rate, subscriber lag, prediction accuracy"). */
export function createMemberCronMetrics(registry: Registry) {
  return {
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
}
export type MemberCronMetrics = ReturnType<typeof createMemberCronMetrics>;
