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
