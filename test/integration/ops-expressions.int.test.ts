import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Redis } from 'ioredis';
import { createConfiguredEligibilityCache } from '../../activities/cache';
import { createTestDirectory, type TestDirectory } from '../../directory/test-support';
import { CacheControl, CacheStatus } from '../../gen/rte/v1/common_pb';
import { EligibilityService } from '../../gen/rte/v1/eligibility_pb';
import { CacheWarmingService, WarmCacheRequest_Priority as Priority, WarmingStrategy } from '../../gen/rte/v1/warming_pb';
import { loadConfig } from '../../lib/config';
import { mintDevToken } from '../../lib/dev-token';
import { silentLogger } from '../../lib/logger';
import { freePort } from '../helpers/own-redis';
import { METRIC_LABEL_VALUES } from '../../lib/metric-label-values';
import { exportedNames, metricNames, opsExpressions, unmatchableLabelValues, type Expr } from '../helpers/promql-names';

/**
 * Every PromQL expression in ops/ (Grafana dashboards and alert rules) runs against a real Prometheus scraping
 * the real API and worker processes (plus the Temporal dev server's metrics port when the stack exposes one):
 * a parse error fails, and so does a metric name that no process exports, and a label value its metric never takes
 * (lib/metric-label-values.ts; probe p16 #2: `result="HIT"` on a counter whose values are lower case).
 */
const ROOT = path.resolve(__dirname, '../..');

/**
 * Names we reference before their producer exists. Each entry must say who will export it.
 * Remove an entry as soon as the name is exported (the test prints a reminder). Empty: the warming names (issue 9)
 * are produced below by a tiny warming job and an interactive cache read.
 */
const NOT_YET_EXPORTED: Readonly<Record<string, string>> = {};

/**
 * Temporal server counters created on their first increment (a schedule missing an action), so no /metrics page
 * lists them before it happens. Defined in temporalio/temporal common/metrics/metric_defs.go.
 */
const TEMPORAL_SERVER_EVENT_COUNTERS: Readonly<Record<string, string>> = {
  schedule_missed_catchup_window: 'Temporal server: schedule action missed its catch-up window',
  schedule_buffer_overruns: 'Temporal server: schedule buffer overflowed',
};

function collectExpressions(): Expr[] {
  return opsExpressions(ROOT);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const httpOk = (url: string) => fetch(url).then((r) => r.ok, () => false);

describe('ops/ PromQL: dashboards and alert rules against a real Prometheus', () => {
  const children: ChildProcess[] = [];
  const logs = new Map<string, string>();
  let dir: TestDirectory;
  let tmp: string;
  let prom: string;
  let targets: Record<string, string>;

  function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): void {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    logs.set(name, '');
    child.stderr?.on('data', (d: Buffer) => logs.set(name, ((logs.get(name) ?? '') + d.toString()).slice(-3000)));
    child.once('exit', (code, signal) => logs.set(name, `${logs.get(name) ?? ''}\n[${name} exited: ${code ?? '-'} ${signal ?? '-'}]`));
    children.push(child);
  }

  beforeAll(async () => {
    dir = await createTestDirectory({ seed: 15, population: 3 });
    tmp = mkdtempSync(path.join(tmpdir(), 'rte-ops-prom-'));
    const [api, worker, sdk, promPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const suffix = Math.random().toString(36).slice(2, 8);
    const env = {
      ...process.env,
      LOG_LEVEL: 'warn',
      TEMPORAL_TASK_QUEUE: `ops-expr-${suffix}`,
      REDIS_KEY_PREFIX: `test:ops-expr-${suffix}:`,
      DATABASE_SCHEMA: dir.schema,
      API_PORT: String(api),
      WORKER_METRICS_PORT: String(worker),
      WORKER_SDK_METRICS_PORT: String(sdk),
    };
    start('worker', process.execPath, ['--import', 'tsx', 'workers/main.ts'], env);
    start('api', process.execPath, ['--import', 'tsx', 'api/main.ts'], env);
    targets = { 'rte-api': `127.0.0.1:${api}`, 'rte-worker': `127.0.0.1:${worker}`, 'rte-worker-sdk': `127.0.0.1:${sdk}` };
    // The Temporal dev server's own metrics, where the stack exposes them (stack/stack: --metrics-port).
    const temporalMetrics = `127.0.0.1:${process.env['TEMPORAL_METRICS_PORT'] ?? '7235'}`;
    if (await httpOk(`http://${temporalMetrics}/metrics`)) targets['temporal-server'] = temporalMetrics;

    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [path.join(ROOT, 'ops/prometheus/alerts.yml')],
      scrape_configs: Object.entries(targets).map(([job, t]) => ({ job_name: job, static_configs: [{ targets: [t] }] })),
    };
    writeFileSync(path.join(tmp, 'prometheus.yml'), JSON.stringify(config)); // JSON is YAML
    prom = `http://127.0.0.1:${promPort}`;
    start('prometheus', 'prometheus', [`--config.file=${tmp}/prometheus.yml`, `--storage.tsdb.path=${tmp}/data`, `--web.listen-address=127.0.0.1:${promPort}`], process.env);

    const diag = () => [...logs.entries()].map(([k, v]) => `--- ${k}\n${v}`).join('\n');
    await waitFor(() => httpOk(`http://${targets['rte-worker']}/readyz`), 180_000, 'the worker').catch((e: unknown) => {
      throw new Error(`${String(e)}\n${diag()}`);
    });
    await waitFor(() => httpOk(`http://${targets['rte-api']}/healthz`), 180_000, 'the API').catch((e: unknown) => {
      throw new Error(`${String(e)}\n${diag()}`);
    });
    // Every target scraped successfully at least once.
    await waitFor(
      async () => {
        const r = (await (await fetch(`${prom}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
        return r.data.activeTargets.length === Object.keys(targets).length && r.data.activeTargets.every((t) => t.health === 'up');
      },
      60_000,
      'Prometheus to scrape every target',
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${diag()}`);
    });

    // Series that exist only once something happened: a tiny warming job (one member whose cache entry is fresh, so
    // INTELLIGENT skips it without a Stedi call: rte_cache_warming_requests_total and _results_total in the worker) and
    // an interactive read answered from the cache (rte_cache_hit_total and rte_cache_hit_rate in the API).
    const appConfig = loadConfig(env);
    const memberId = (await dir.pool.query<{ member_id: string }>('select member_id from members order by member_id limit 1')).rows[0]!.member_id;
    const redis = new Redis(appConfig.redisUrl);
    try {
      const cache = createConfiguredEligibilityCache(redis, appConfig, silentLogger());
      await cache.put({
        memberId,
        operation: 'check_eligibility',
        summary: { status: 'active', payer: { id: 'P', name: 'Payer' }, plan: { name: 'Plan', number: 'P1', groupNumber: 'G1', insuranceType: null }, coverage: { start: '2026-01-01', end: null }, benefits: [], errors: [] },
        outcome: 'success',
        source: 'realtime',
        fetchedAt: Date.now() - 60_000,
      });
    } finally {
      redis.disconnect();
    }
    const token = await mintDevToken({ service: 'ops-expr', scopes: ['rte:warming:write', 'rte:eligibility:read'], secret: appConfig.auth.mode === 'dev-hs256' ? appConfig.auth.devSecret : '' });
    const headers = { authorization: `Bearer ${token}` };
    const transport = createConnectTransport({ baseUrl: `http://${targets['rte-api']}`, httpVersion: '1.1' });
    const warmed = await createClient(CacheWarmingService, transport).warmCache(
      { memberIds: [memberId], operations: ['check_eligibility'], strategy: WarmingStrategy.INTELLIGENT, priority: Priority.PRELOAD, source: 'ops-expr' },
      { headers },
    );
    expect(warmed.membersSkipped).toBe(1);
    const read = await createClient(EligibilityService, transport).checkEligibility({ memberId, cacheControl: CacheControl.CACHE_ONLY }, { headers });
    expect(read.cacheStatus).toBe(CacheStatus.HIT);
    const produced = ['rte_cache_warming_requests_total', 'rte_cache_warming_results_total', 'rte_cache_hit_total', 'rte_cache_hit_rate'];
    await waitFor(
      async () => {
        const r = (await (await fetch(`${prom}/api/v1/label/__name__/values`)).json()) as { data: string[] };
        return produced.every((n) => r.data.includes(n));
      },
      60_000,
      `Prometheus to scrape ${produced.join(', ')}`,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${diag()}`);
    });
  }, 300_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await dir?.drop();
  });

  const expressions = collectExpressions();

  it('finds the expressions of four dashboards and every alert', () => {
    const dashboards = new Set(expressions.filter((e) => e.where.includes('.json · ')).map((e) => e.where.split(' · ')[0]));
    expect([...dashboards].sort()).toEqual(['rte-batch-processing.json', 'rte-cache-warming.json', 'rte-member-cron.json', 'rte-slot-pool.json']);
    expect(expressions.filter((e) => e.where.startsWith('alerts.yml')).length).toBeGreaterThanOrEqual(13);
  });

  it('Prometheus loaded the alert rules', async () => {
    const r = (await (await fetch(`${prom}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const rules = r.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(13);
  });

  it('every expression parses and evaluates', async () => {
    const failures: string[] = [];
    for (const e of expressions) {
      const res = await fetch(`${prom}/api/v1/query?${new URLSearchParams({ query: e.expr })}`);
      const body = (await res.json()) as { status: string; error?: string; errorType?: string };
      if (body.status !== 'success') failures.push(`${e.where}: ${body.errorType ?? ''} ${body.error ?? ''}\n    ${e.expr}`);
    }
    expect(failures).toEqual([]);
  });

  it('every label matcher on an enumerated label uses a value its metric can take (lib/metric-label-values.ts)', () => {
    const bad = expressions.flatMap((e) => unmatchableLabelValues(e.expr, METRIC_LABEL_VALUES).map((b) => `${e.where}: ${b}`));
    expect(bad).toEqual([]);
  });

  it('lib/metric-label-values.ts lists every value the processes export for those labels', async () => {
    const missing: string[] = [];
    for (const t of Object.values(targets)) {
      const text = await (await fetch(`http://${t}/metrics`)).text();
      for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/.exec(line);
        const allowed = m ? METRIC_LABEL_VALUES[m[1]!] : undefined;
        if (!m || !allowed) continue;
        for (const [, label, value] of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) as Iterable<[string, string, string]>) {
          if (allowed[label] && !allowed[label].includes(value)) missing.push(`${m[1]}{${label}="${value}"}`);
        }
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });

  it('every metric name is exported by some process (or explicitly allow-listed)', async () => {
    const exported = new Set<string>();
    for (const t of Object.values(targets)) for (const n of exportedNames(await (await fetch(`http://${t}/metrics`)).text())) exported.add(n);
    const values = (await (await fetch(`${prom}/api/v1/label/__name__/values`)).json()) as { data: string[] };
    for (const n of values.data) exported.add(n); // up, scrape_*, ALERTS and everything scraped so far

    const unknown: string[] = [];
    const used = new Set<string>();
    for (const e of expressions) {
      for (const name of metricNames(e.expr)) {
        used.add(name);
        if (exported.has(name) || name in NOT_YET_EXPORTED || name in TEMPORAL_SERVER_EVENT_COUNTERS) continue;
        unknown.push(`${e.where}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
    const stale = Object.keys(NOT_YET_EXPORTED).filter((n) => exported.has(n));
    if (stale.length > 0) console.warn(`exported now, remove from NOT_YET_EXPORTED: ${stale.join(', ')}`);
    // The allow-lists only cover names the expressions really use.
    for (const n of [...Object.keys(NOT_YET_EXPORTED), ...Object.keys(TEMPORAL_SERVER_EVENT_COUNTERS)]) expect(used.has(n)).toBe(true);
  });
});
