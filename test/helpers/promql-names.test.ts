import path from 'node:path';
import { METRIC_LABEL_VALUES } from '../../lib/metric-label-values';
import { exportedNames, labelMatchers, metricNames, opsExpressions, unmatchableLabelValues } from './promql-names';

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

describe('labelMatchers / unmatchableLabelValues', () => {
  const allowed = { m_total: { result: ['hit', 'miss'] } };
  it('reads every matcher of a named selector', () => {
    expect(labelMatchers('sum(rate(m_total{result="hit", mode!~\'a|b\'}[5m])) / up{job=~"x"}')).toEqual([
      { metric: 'm_total', label: 'result', op: '=', value: 'hit' },
      { metric: 'm_total', label: 'mode', op: '!~', value: 'a|b' },
      { metric: 'up', label: 'job', op: '=~', value: 'x' },
    ]);
  });
  it.each([
    // probe p16 #2: the cache-warming dashboard's hit ratio used the other casing convention.
    ['sum(rate(m_total{result="HIT"}[5m])) / sum(rate(m_total[5m]))', 1],
    ['sum(rate(m_total{result="hit"}[5m]))', 0],
    ['m_total{result!="Hit"}', 1],
    ['m_total{result=~"hit|HIT"}', 0],
    ['m_total{result=~"HIT|MISS"}', 1],
    ['m_total{result=~"hi"}', 1], // anchored, as Prometheus does
    ['m_total{other="x"} + n_total{result="HIT"}', 0], // labels and metrics without a list are not judged
  ])('%s → %i problem(s)', (expr, n) => {
    expect(unmatchableLabelValues(expr, allowed)).toHaveLength(n);
  });
});

describe('ops/ expressions against lib/metric-label-values.ts (the static part of ops-expressions.int.test.ts)', () => {
  it('no selector uses a label value its metric never takes', () => {
    const bad = opsExpressions(path.resolve(__dirname, '../..')).flatMap((e) => unmatchableLabelValues(e.expr, METRIC_LABEL_VALUES).map((b) => `${e.where}: ${b}`));
    expect(bad).toEqual([]);
  });
});
