import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryOutcome, WebhookMetrics } from '../webhooks/activities';
import type { BatchMetrics } from './ports';

/**
 * prom-client adapter of the batch metrics (design doc names). Created by the worker's composition root with its
 * registry. `rte_batch_jobs_active` moves on STARTED / terminal events; it is per worker process and approximate
 * when an event activity is retried, so dashboards should prefer the visibility count of RteBatchStatus='RUNNING'.
 */
export function createPromBatchMetrics(registry: Registry): BatchMetrics & WebhookMetrics {
  const seenEvents = new Set<string>();
  const active = new Gauge({ name: 'rte_batch_jobs_active', help: 'Batches started and not yet finished (per worker, from batch events)', registers: [registry] });
  const duration = new Histogram({
    name: 'rte_batch_duration_seconds',
    help: 'Batch wall time from first dispatch to terminal status',
    labelNames: ['status'] as const,
    buckets: [10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 57_600],
    registers: [registry],
  });
  // Design doc: batch_jobs_scheduled_total{window} counts batches (once per batch, at STARTED, by requested window);
  // members per effective window (ANY resolved by load) are batch_members_scheduled_total.
  const scheduled = new Counter({ name: 'batch_jobs_scheduled_total', help: 'Batches scheduled, by requested scheduling window', labelNames: ['window'] as const, registers: [registry] });
  const membersScheduled = new Counter({ name: 'batch_members_scheduled_total', help: 'Batch members scheduled, by effective scheduling window', labelNames: ['window'] as const, registers: [registry] });
  const jobDuration = new Histogram({
    name: 'rte_batch_job_duration_seconds',
    help: 'Batch wall time from first dispatch to terminal status, by execution mode (batch_api, realtime, cache_only) and status',
    labelNames: ['mode', 'status'] as const,
    buckets: [10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 57_600],
    registers: [registry],
  });
  // The same series the API counts CheckEligibility into (lib/metrics.ts registers it when the registry came from createMetrics).
  const requestsBySource =
    (registry.getSingleMetric('rte_requests_total') as Counter<'source'> | undefined) ??
    new Counter({ name: 'rte_requests_total', help: 'Eligibility requests by source', labelNames: ['source'] as const, registers: [registry] });
  const hour = new Counter({ name: 'batch_execution_hour_of_day_total', help: 'Batches started, by UTC hour of day', labelNames: ['hour'] as const, registers: [registry] });
  const requests = new Counter({ name: 'rte_batch_stedi_requests_total', help: 'Stedi checks made for batches, by source (batch_api items, realtime calls)', labelNames: ['source'] as const, registers: [registry] });
  const cache = new Counter({ name: 'rte_batch_cache_lookups_total', help: 'Pre-flight cache lookups of batch members, by result', labelNames: ['result'] as const, registers: [registry] });
  // Design doc dashboard "Batch Cache Hit Rate": rate(rte_batch_cache_hits_total) / rate(rte_batch_requests_total).
  const batchCacheHits = new Counter({ name: 'rte_batch_cache_hits_total', help: 'Batch members answered from the cache', registers: [registry] });
  const batchRequests = new Counter({ name: 'rte_batch_requests_total', help: 'Batch members looked up (answered from cache or needing a check)', registers: [registry] });
  const webhooks = new Counter({ name: 'rte_batch_webhook_deliveries_total', help: 'Webhook delivery attempts, by outcome and event type', labelNames: ['outcome', 'event_type'] as const, registers: [registry] });
  return {
    onBatchEvent(eventType, info) {
      // A retried event activity (same event id) moves nothing twice; a batch that ended without ever starting
      // (cancelled while waiting for its window) was never counted, so it is not subtracted (issue 10: the gauge
      // went negative). Across workers the sum stays exact: each STARTED +1 and each terminal -1 exactly once.
      if (eventType === 'PROGRESS') return;
      if (info.eventId !== undefined) {
        if (seenEvents.has(info.eventId)) return;
        seenEvents.add(info.eventId);
        if (seenEvents.size > 10_000) seenEvents.delete(seenEvents.values().next().value as string);
      }
      if (eventType === 'STARTED') {
        active.inc();
        if (info.window !== undefined) scheduled.inc({ window: info.window.toLowerCase() });
      } else {
        if (info.started !== false) active.dec();
        if (info.durationSeconds !== undefined) {
          duration.observe({ status: eventType }, info.durationSeconds);
          jobDuration.observe({ mode: info.mode ?? 'unknown', status: eventType }, info.durationSeconds);
        }
      }
    },
    onScheduled(window, members) {
      membersScheduled.inc({ window: window.toLowerCase() }, members);
    },
    onExecutionHour(h) {
      hour.inc({ hour: String(h).padStart(2, '0') });
    },
    onCacheLookup(hits, misses) {
      if (hits > 0) cache.inc({ result: 'hit' }, hits);
      if (misses > 0) cache.inc({ result: 'miss' }, misses);
      if (hits > 0) batchCacheHits.inc(hits);
      if (hits + misses > 0) batchRequests.inc(hits + misses);
      if (hits + misses > 0) requestsBySource.inc({ source: 'batch' }, hits + misses);
    },
    onStediRequests(source, count) {
      requests.inc({ source }, count);
    },
    onDelivery(outcome: DeliveryOutcome, eventType: string) {
      webhooks.inc({ outcome, event_type: eventType });
    },
  };
}
