import { Counter, type Registry } from 'prom-client';

/** rte_cache_warming_requests_total{source,priority} (member × operation accepted) and rte_cache_warming_results_total{result}. */
export function createPromWarmingMetrics(registry: Registry): { onRequest(source: string, priority: string, n: number): void; onResult(result: string, n: number): void } {
  const requests = new Counter({
    name: 'rte_cache_warming_requests_total',
    help: 'Cache warms accepted by warming jobs (member × operation), by job source and priority',
    labelNames: ['source', 'priority'] as const,
    registers: [registry],
  });
  const results = new Counter({
    name: 'rte_cache_warming_results_total',
    help: 'Cache warm outcomes (warmed, skipped_fresh, skipped_cached, failed, cancelled), counted once per warm',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  return {
    onRequest: (source, priority, n) => requests.inc({ source, priority: priority.toLowerCase() }, n),
    onResult: (result, n) => results.inc({ result }, n),
  };
}
