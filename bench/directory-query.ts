/**
 * Member directory benchmark: first-page latency per complexity tier and full-scan throughput.
 *   DATABASE_URL        (default postgres://rte:rte@127.0.0.1:5432/rte)
 *   BENCH_POPULATION    members (default 1000000); loaded into BENCH_SCHEMA if that schema is empty
 *   BENCH_SCHEMA        (default dir_bench_<population>)
 *   BENCH_SEED          (default 42)
 *   BENCH_RUNS          timed runs per query (default 5)
 *   BENCH_SCAN_SECONDS  cap on the full-scan measurement (default 120)
 *   BENCH_ONLY          only queries whose name contains this text (default all)
 *   BENCH_JIT           on | off: override the server's `jit` setting for the bench sessions (default: leave
 *                       it). PostgreSQL's JIT compiles the larger MemberQuery plans for 0.5-1 s, which can be
 *                       more than the query itself; `off` shows what a directory pool with jit=off would see.
 * Prints a table; targets are the design doc's tiers (low < 100 ms, medium < 500 ms, high < 2 s).
 */
import { clone, create } from '@bufbuild/protobuf';
import { Pool } from 'pg';
import { AccountStatus } from '../gen/rte/v1/common_pb';
import { MemberQuerySchema, type MemberQuery } from '../gen/rte/v1/member_query_pb';
import { COMPLEXITY_EXAMPLES, DOC_EXAMPLES, type Tier } from '../directory/doc-examples';
import { DEFAULT_REFERENCE_TIME } from '../directory/generator';
import { isDirectoryEmpty, loadPopulation, readPopulationInfo } from '../directory/loader';
import { migrate } from '../directory/migrate';
import { PgMemberDirectory } from '../directory/pg-member-directory';
import { createDirectoryPool, quoteIdent } from '../directory/pool';

const TARGET_MS: Record<Tier, number> = { low: 100, medium: 500, high: 2000 };

// Doc usage examples by the doc's tiering (the most expensive filter decides).
const EXAMPLE_TIERS: Record<string, Tier> = {
  'Example 1': 'medium',
  'Example 2': 'high',
  'Example 3': 'high',
  'Example 4': 'medium',
  'Example 5': 'medium',
  'Example 6': 'medium',
  'Example 7': 'high',
  'Example 8': 'high',
  'Example 9': 'medium',
  'Example 10': 'high',
  'Example 11': 'medium',
  'Example 12': 'high',
  'Example 13': 'high',
  'Example 14': 'medium',
  'Example 15': 'medium',
  'Example 16': 'high',
  'Example 7b': 'high',
  'Example 8b': 'medium',
  'Example 9b': 'high',
  'Example 10b': 'medium',
};

function env(name: string, fallback: string): string {
  return process.env[name] || fallback;
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const population = Number(env('BENCH_POPULATION', '1000000'));
  const schema = env('BENCH_SCHEMA', `dir_bench_${population}`);
  const seed = Number(env('BENCH_SEED', '42'));
  const runs = Number(env('BENCH_RUNS', '5'));
  const scanSeconds = Number(env('BENCH_SCAN_SECONDS', '120'));
  const only = env('BENCH_ONLY', '');
  const jit = env('BENCH_JIT', '');
  if (jit !== '' && jit !== 'on' && jit !== 'off') throw new Error('BENCH_JIT must be on or off');
  const connectionString = env('DATABASE_URL', 'postgres://rte:rte@127.0.0.1:5432/rte');
  // Same sessions as createDirectoryPool, plus the jit override as a startup option when asked for.
  const pool =
    jit === ''
      ? createDirectoryPool({ connectionString, schema, max: 4 })
      : new Pool({ connectionString, max: 4, options: `-c search_path=${quoteIdent(schema)},public -c jit=${jit}` });
  try {
    await migrate(pool, { schema });
    if (await isDirectoryEmpty(pool)) {
      console.log(`loading ${population.toLocaleString()} members into schema ${schema} (seed ${seed})...`);
      const loaded = await loadPopulation(pool, { seed, population, referenceTime: new Date(DEFAULT_REFERENCE_TIME) });
      console.log(`loaded ${loaded.members.toLocaleString()} members, ${loaded.events.toLocaleString()} events in ${(loaded.durationMs / 1000).toFixed(1)} s`);
    }
    const info = await readPopulationInfo(pool);
    if (!info) throw new Error(`schema ${schema} has members but no synthetic population record`);
    const dir = new PgMemberDirectory(pool, { now: () => info.referenceTime });
    const jitSetting = (await pool.query<{ jit: string }>('SHOW jit')).rows[0]?.jit ?? '?';
    console.log(
      `\npopulation ${info.population.toLocaleString()} (seed ${info.seed}, as of ${info.referenceTime.toISOString()}), ${runs} timed runs per query, page size 1000, jit=${jitSetting}\n`,
    );

    const queries: { name: string; tier: Tier; query: MemberQuery }[] = [
      ...COMPLEXITY_EXAMPLES.map((e) => ({ name: e.name, tier: e.tier, query: e.query })),
      ...DOC_EXAMPLES.map((e) => ({ name: e.name, tier: EXAMPLE_TIERS[e.name.split(':')[0] ?? ''] ?? 'high', query: e.query })),
    ].filter((x) => x.name.includes(only));
    const rows: string[][] = [];
    const byTier: Record<Tier, number[]> = { low: [], medium: [], high: [] };
    for (const { name, tier, query } of queries) {
      const q = clone(MemberQuerySchema, query);
      q.limit = 1000;
      await dir.queryMembers(q); // warm-up (plans, caches)
      const samples: number[] = [];
      let returned = 0;
      for (let i = 0; i < runs; i++) {
        const [ms, page] = await time(() => dir.queryMembers(q));
        samples.push(ms);
        returned = page.members.length;
      }
      samples.sort((a, b) => a - b);
      const p50 = pct(samples, 0.5);
      byTier[tier].push(p50);
      const target = TARGET_MS[tier];
      rows.push([tier, name.slice(0, 70), String(returned), p50.toFixed(1), pct(samples, 0.95).toFixed(1), String(target), (p50 / target).toFixed(2), p50 <= target ? 'ok' : 'OVER']);
    }
    const header = ['tier', 'query', 'rows', 'p50 ms', 'p95 ms', 'target', 'p50/target', ''];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (r: string[]) => r.map((c, i) => (i === 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
    console.log(line(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));
    console.log('');
    for (const tier of ['low', 'medium', 'high'] as Tier[]) {
      const xs = [...byTier[tier]].sort((a, b) => a - b);
      if (xs.length === 0) continue;
      console.log(`${tier.padEnd(6)} median of p50s ${pct(xs, 0.5).toFixed(1)} ms, worst ${Math.max(...xs).toFixed(1)} ms, target ${TARGET_MS[tier]} ms`);
    }

    // Full scan through the cursor: every ACTIVE member, 10,000 per page.
    const scan = create(MemberQuerySchema, { accountStatuses: [AccountStatus.ACTIVE], limit: 10_000 });
    let scanned = 0;
    let pages = 0;
    const t0 = Date.now();
    for (;;) {
      const page = await dir.queryMembers(scan);
      scanned += page.members.length;
      pages++;
      if (!page.nextCursor || Date.now() - t0 > scanSeconds * 1000) break;
      scan.cursor = page.nextCursor;
    }
    const secs = (Date.now() - t0) / 1000;
    console.log(`\nfull scan (account_statuses=[ACTIVE], page 10,000): ${scanned.toLocaleString()} members in ${pages} pages, ${secs.toFixed(1)} s → ${Math.round(scanned / secs).toLocaleString()} members/s`);
    const total = await dir.countMembers(create(MemberQuerySchema, { accountStatuses: [AccountStatus.ACTIVE] }));
    console.log(`(${total.toLocaleString()} ACTIVE members in total${scanned < total ? '; scan stopped at the time cap' : ''})`);
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
