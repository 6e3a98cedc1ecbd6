import { exportedNames, metricNames } from './promql-names';

describe('metricNames', () => {
  it.each([
    ['rte_batch_jobs_active', ['rte_batch_jobs_active']],
    ['histogram_quantile(0.95, sum by (queue, le) (rate(rte_stedi_slot_wait_seconds_bucket{queue="interactive"}[5m])))', ['rte_stedi_slot_wait_seconds_bucket']],
    ['sum(rate(stedi_requests_total[5m] offset 1w)) / sum(rate(stedi_requests_total{outcome=~"server|x"}[5m])) > 0.1', ['stedi_requests_total']],
    ['max by (source) (a_metric) < 0.7\nand on (source) max by (source) (b_metric) >= 100', ['a_metric', 'b_metric']],
    ['(sum(up{job=~"rte-worker|rte-worker-sdk"}) or vector(0)) == 0 or sum(temporal_num_pollers{poller_type="workflow_task"}) == 0', ['temporal_num_pollers', 'up']],
    ['max(rte_batch_oldest_running_age_seconds) > 8 * 3600 and 1e3 < 2', ['rte_batch_oldest_running_age_seconds']],
    ['sum without (instance) (x:recorded:rate5m)', ['x:recorded:rate5m']],
  ])('%s', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe('exportedNames', () => {
  it('reads TYPE lines (with histogram series) and bare samples', () => {
    const text = ['# HELP a_total x', '# TYPE a_total counter', '# TYPE h_seconds histogram', 'temporal_request{x="1"} 3', 'up 1'].join('\n');
    expect(exportedNames(text).sort()).toEqual(['a_total', 'h_seconds', 'h_seconds_bucket', 'h_seconds_count', 'h_seconds_sum', 'temporal_request', 'up']);
  });
});
