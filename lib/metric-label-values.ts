import { CACHE_MODES } from './cache-policy';

/**
 * The values an enumerated label of our metrics can take, kept next to the metric definitions (lib/metrics.ts,
 * activities/batch/metrics.ts, activities/warming-usage/recorder.ts, activities/member-cron/metrics.ts). The
 * ops-expressions test (test/integration/ops-expressions.int.test.ts) fails on a dashboard or alert selector whose
 * label value is not listed here (`result="HIT"` on a metric that counts `hit`: probe p16 #2), and on a value a
 * process exports that is missing here (so this list cannot silently fall behind the code).
 * Labels whose values are open-ended (method, schedule, source, outcome of stedi_requests_total) are not listed.
 * Two casing conventions exist for cache results: the request counters use lower case, rte_cache_reads_total the
 * CacheStatus names.
 */
export const METRIC_LABEL_VALUES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  // api/services/eligibility-service.ts and api/graphql/handler.ts: mode is the CacheControl name in lower case,
  // result a CacheStatus in lower case, or `failure` when the call failed before an answer.
  rte_cache_control_requests_total: { mode: CACHE_MODES.map((m) => m.toLowerCase()), result: ['hit', 'miss', 'stale', 'error', 'failure'] },
  rte_cache_control_duration_seconds: { mode: CACHE_MODES.map((m) => m.toLowerCase()) },
  // activities/warming-usage/recorder.ts (ReadResult).
  rte_cache_reads_total: { warmed: ['true', 'false'], result: ['HIT', 'STALE', 'MISS', 'ERROR'] },
  rte_cache_hit_total: { warmed: ['true', 'false'] },
  rte_cache_hit_rate: { warmed: ['true', 'false'] },
  // activities/batch/metrics.ts
  rte_batch_cache_lookups_total: { result: ['hit', 'miss'] },
  rte_batch_webhook_deliveries_total: { outcome: ['delivered', 'retry', 'exhausted', 'gone', 'refused'] },
  // lib/metrics.ts (HELP) and the callers of stediRequests.
  stedi_requests_total: { api: ['realtime', 'batch_submit', 'batch_poll', 'batch_status'] },
  stedi_request_duration_seconds: { api: ['realtime', 'batch_submit', 'batch_poll', 'batch_status'] },
  stedi_request_duration_seconds_bucket: { api: ['realtime', 'batch_submit', 'batch_poll', 'batch_status'] },
  // activities/member-cron/activities.ts
  member_cron_events_dead_lettered_total: { reason: ['build', 'publish'] },
};
