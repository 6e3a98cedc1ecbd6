import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * Metric names referenced by a PromQL expression, without a full parser: label matchers, strings, range and
 * subquery brackets, `offset`, grouping label lists and function/aggregation calls are removed; every
 * identifier left is a metric name. Good enough for the expressions we write in ops/ (checked by a unit test).
 */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  let s = expr;
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // strings
  s = s.replace(/#.*$/gm, ''); // comments
  s = s.replace(/\{[^}]*\}/g, ' '); // label matchers
  s = s.replace(/\[[^\]]*\]/g, ' '); // ranges, subqueries
  s = s.replace(/\boffset\s+-?[0-9a-z]+/gi, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  s = s.replace(/\b[a-zA-Z_][a-zA-Z0-9_]*\s*\(/g, '('); // function and aggregation calls
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![0-9.eE])\b[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const id = m[0];
    if (!KEYWORDS.has(id.toLowerCase())) names.add(id);
  }
  return [...names].sort();
}

/** Names a /metrics page exports, from its `# TYPE` lines (present even before a labelled metric has samples). */
export function exportedNames(metricsText: string): string[] {
  const out = new Set<string>();
  for (const line of metricsText.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (m) {
      const [, name, type] = m as unknown as [string, string, string];
      out.add(name);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) out.add(name + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) out.add(name + suffix);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample?.[1]) out.add(sample[1]);
  }
  return [...out];
}

export interface LabelMatcher {
  metric: string;
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** The label matchers of every `metric{...}` selector in an expression (selectors without a metric name are skipped). */
export function labelMatchers(expr: string): LabelMatcher[] {
  const out: LabelMatcher[] = [];
  for (const sel of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const [, metric, body] = sel as unknown as [string, string, string];
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/g)) {
      const [, label, op, quoted] = m as unknown as [string, string, LabelMatcher['op'], string];
      const raw = quoted.slice(1, -1);
      const value = quoted.startsWith('`') ? raw : raw.replace(/\\(.)/g, '$1');
      out.push({ metric, label, op, value });
    }
  }
  return out;
}

/**
 * Matchers on an enumerated label (`allowed`: metric → label → the values it can take) that can never select a
 * series: `=` / `!=` with a value the label never has (a `!=` on one is a no-op, most likely a typo too), or a
 * regex that matches none of the values (Prometheus anchors regexes). Other labels and metrics are not judged.
 */
export function unmatchableLabelValues(expr: string, allowed: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>): string[] {
  const bad: string[] = [];
  for (const m of labelMatchers(expr)) {
    const values = allowed[m.metric]?.[m.label];
    if (!values) continue;
    const ok = m.op === '=' || m.op === '!=' ? values.includes(m.value) : values.some((v) => new RegExp(`^(?:${m.value})$`).test(v));
    if (!ok) bad.push(`${m.metric}{${m.label}${m.op}"${m.value}"}: ${m.label} is one of ${values.join(', ')}`);
  }
  return bad;
}

export interface Expr {
  where: string;
  expr: string;
}

/** Every PromQL expression in ops/: each Grafana dashboard target and each alert/recording rule. */
export function opsExpressions(root: string): Expr[] {
  const out: Expr[] = [];
  const dashDir = path.join(root, 'ops/grafana/dashboards');
  for (const file of readdirSync(dashDir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(path.join(dashDir, file), 'utf8')) as { panels?: { title: string; targets?: { expr?: string }[] }[] };
    for (const p of dash.panels ?? []) for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${file} · ${p.title}`, expr: t.expr });
  }
  const rules = parseYaml(readFileSync(path.join(root, 'ops/prometheus/alerts.yml'), 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  for (const g of rules.groups) for (const r of g.rules) out.push({ where: `alerts.yml · ${r.alert ?? r.record ?? '?'}`, expr: String(r.expr) });
  return out;
}
