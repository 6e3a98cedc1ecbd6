import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Metric names follow the design doc's Monitoring sections. One registry per process, created by the
 * composition root (workers/ or api/) and passed to whatever records metrics.
 */
export function createMetrics(processName: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry });

  const rpcRequests = new Counter({
    name: 'rte_rpc_requests_total',
    help: 'RPCs handled, by method and Connect code',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  const rpcDuration = new Histogram({
    name: 'rte_rpc_duration_seconds',
    help: 'RPC handling time',
    labelNames: ['method'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 90],
    registers: [registry],
  });
  const cacheControlRequests = new Counter({
    name: 'rte_cache_control_requests_total',
    help: 'CheckEligibility requests by cache-control mode and cache result',
    labelNames: ['mode', 'result'] as const,
    registers: [registry],
  });
  const cacheControlDuration = new Histogram({
    name: 'rte_cache_control_duration_seconds',
    help: 'CheckEligibility response time by cache-control mode',
    labelNames: ['mode'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60],
    registers: [registry],
  });
  const stediRequests = new Counter({
    name: 'stedi_requests_total',
    help: 'Calls to Stedi by API (realtime, batch_submit, batch_poll, batch_status) and outcome',
    labelNames: ['api', 'outcome'] as const,
    registers: [registry],
  });
  const stediDuration = new Histogram({
    name: 'stedi_request_duration_seconds',
    help: 'Stedi call latency by API',
    labelNames: ['api'] as const,
    buckets: [0.05, 0.25, 1, 2.5, 5, 10, 15, 20, 30, 60, 90],
    registers: [registry],
  });
  const slotsInUse = new Gauge({
    name: 'rte_stedi_slots_in_use',
    help: 'Real-time Stedi slots held by this process',
    registers: [registry],
  });
  const slotWait = new Histogram({
    name: 'rte_stedi_slot_wait_seconds',
    help: 'Time waiting for a real-time Stedi slot, by queue',
    labelNames: ['queue'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300],
    registers: [registry],
  });
  const auditEvents = new Counter({
    name: 'rte_audit_events_total',
    help: 'Calls recorded in the audit log (mutating RPCs and GraphQL member listings), by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
  });

  return {
    registry,
    rpcRequests,
    rpcDuration,
    cacheControlRequests,
    cacheControlDuration,
    stediRequests,
    stediDuration,
    slotsInUse,
    slotWait,
    auditEvents,
    slotPoolEffectiveLimit: new Gauge({
      name: 'rte_stedi_slots_effective_limit',
      help: 'Slot pool limit after Stedi 429s lowered it (recovers to STEDI_SLOTS), as last seen by this process',
      registers: [registry],
    }),
    // Design doc "Batch vs real-time": rate(rte_requests_total{source="batch"}) against {source="realtime"}. The API
    // counts CheckEligibility by the caller's declared source (rte-request-source; none = realtime); workers count
    // batch members looked up (the same registry name is reused by activities/batch/metrics.ts).
    requests: new Counter({
      name: 'rte_requests_total',
      help: 'Eligibility requests by source: realtime (CheckEligibility from an app), batch (batch members), or the source a caller declares',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    // Design doc "Batch Job Metrics": real-time Stedi calls in flight (pool-wide, all workers) when a batch's call
    // is granted a slot, as last seen by this process.
    stediConcurrencyDuringBatch: new Histogram({
      name: 'stedi_concurrency_during_batch',
      help: 'Real-time Stedi calls in flight across the slot pool when a batch member is granted a slot',
      buckets: [1, 2, 4, 6, 8, 10, 12, 14, 15, 20],
      registers: [registry],
    }),
    // Server streams (WatchBatchStatus, SubmitBatchStreaming) open now: a stream whose client went away leaves it.
    rpcStreamsOpen: new Gauge({
      name: 'rte_rpc_streams_open',
      help: 'Server-streaming RPCs open now, by method (each holds a watch loop that polls Temporal)',
      labelNames: ['method'] as const,
      registers: [registry],
    }),
    slotPoolFaults: new Counter({
      name: 'rte_slot_pool_faults_total',
      help: 'Slot pool fault events: stedi_429 (limit lowered), lease_reregistered (a running call re-added its lease), state_loss (new pool epoch)',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
    // Issue 14, finite-batch tail: duplicate Stedi calls for a batch's last-wave stragglers (STEDI_HEDGE_*).
    stediHedges: new Counter({
      name: 'rte_stedi_hedges_total',
      help: 'Hedged real-time Stedi calls: started (a duplicate call took an idle slot, one more billed call), won (it answered first), lost (the original answered first)',
      labelNames: ['event'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
