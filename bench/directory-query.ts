/**
 * Member directory benchmark: first-page latency per complexity tier, and full reads and counts.
 *   DATABASE_URL        (default postgres://rte:rte@127.0.0.1:5432/rte)
 *   BENCH_POPULATION    members (default 1000000); loaded into BENCH_SCHEMA if that schema is empty
 *   BENCH_SCHEMA        (default dir_bench_<population>). A loaded schema is reused by later runs (generating
 *                       1,000,000 members takes a while); BENCH_PART=load only loads it.
 *   BENCH_PART          all (default) | pages (first-page latency per tier) | reads (full reads and counts of
 *                       plain, plan-field and combined queries, old vs new plan-field compilation) | load
 *   BENCH_DROP_SCHEMA   1: drop BENCH_SCHEMA when done
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
import { compileMemberQuery } from '../directory/query/compile';
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
  const part = env('BENCH_PART', 'all');
  if (!['all', 'pages', 'reads', 'load'].includes(part)) throw new Error('BENCH_PART must be all, pages, reads or load');
  const dropSchema = env('BENCH_DROP_SCHEMA', '') === '1';
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

    if (part === 'load') return;
    if (part === 'all' || part === 'pages') await firstPages(dir, { runs, only });
    if (part === 'all' || part === 'reads') await fullReads(pool, dir, info.referenceTime, { runs, scanSeconds, only });
  } finally {
    if (dropSchema) {
      await pool.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      console.log(`\ndropped schema ${schema}`);
    }
    await pool.end();
  }
}

/** First page (1,000 rows) of every doc and complexity example: p50/p95 against the tier targets. */
async function firstPages(dir: PgMemberDirectory, opts: { runs: number; only: string }): Promise<void> {
  const { runs, only } = opts;
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
}

/**
 * Full reads and counts. For each query: count (median of runs), every matching member through the cursor in
 * pages of 10,000 (rows/s, capped at BENCH_SCAN_SECONDS), and for queries with a predicate_filter the same with
 * the former compilation of plan attributes (a scalar subquery per member) plus both count plans.
 */
async function fullReads(pool: Pool, dir: PgMemberDirectory, now: Date, opts: { runs: number; scanSeconds: number; only: string }): Promise<void> {
  const queries: { name: string; query: MemberQuery }[] = [
    { name: 'plain: account_statuses=[ACTIVE]', query: create(MemberQuerySchema, { accountStatuses: [AccountStatus.ACTIVE] }) },
    { name: 'plain: states=[CA,TX,NY], age 30-64', query: create(MemberQuerySchema, { demographicsFilter: { states: ['CA', 'TX', 'NY'], minAge: 30, maxAge: 64 } }) },
    { name: "plan: PLAN_TYPE = 'HDHP'", query: create(MemberQuerySchema, { predicateFilter: { expression: "PLAN_TYPE = 'HDHP'" } }) },
    { name: "plan: PAYER_ID = '60054'", query: create(MemberQuerySchema, { predicateFilter: { expression: "PAYER_ID = '60054'" } }) },
    {
      name: 'plan: HAS_HSA OR INDIVIDUAL_DEDUCTIBLE >= 3000',
      query: create(MemberQuerySchema, { predicateFilter: { expression: 'HAS_HSA OR INDIVIDUAL_DEDUCTIBLE >= 3000' } }),
    },
    {
      name: "combined: ACTIVE + (PLAN_TYPE IN (..) OR IS_VIP) AND NOT HAS_DENTAL_COVERAGE AND AGE >= 30",
      query: create(MemberQuerySchema, {
        accountStatuses: [AccountStatus.ACTIVE],
        predicateFilter: { expression: "(PLAN_TYPE IN ('HDHP', 'PPO') OR IS_VIP) AND NOT HAS_DENTAL_COVERAGE AND AGE >= 30" },
      }),
    },
    {
      name: "combined: states=[CA,TX,NY] + (NOT (METAL_TIER = 'NONE') OR STATE = 'NY')",
      query: create(MemberQuerySchema, { demographicsFilter: { states: ['CA', 'TX', 'NY'] }, predicateFilter: { expression: "NOT (METAL_TIER = 'NONE') OR STATE = 'NY'" } }),
    },
  ].filter((x) => x.name.includes(opts.only));

  const read = async (query: MemberQuery, run: (q: MemberQuery) => Promise<{ ids: number; cursor: string | null }>): Promise<{ rows: number; pages: number; secs: number; capped: boolean }> => {
    const q = clone(MemberQuerySchema, query);
    q.limit = 10_000;
    let rows = 0;
    let pages = 0;
    const t0 = Date.now();
    for (;;) {
      const page = await run(q);
      rows += page.ids;
      pages++;
      if (!page.cursor) return { rows, pages, secs: (Date.now() - t0) / 1000, capped: false };
      if (Date.now() - t0 > opts.scanSeconds * 1000) return { rows, pages, secs: (Date.now() - t0) / 1000, capped: true };
      q.cursor = page.cursor;
    }
  };
  const newRun = async (q: MemberQuery) => {
    const page = await dir.queryMembers(q);
    return { ids: page.members.length, cursor: page.nextCursor };
  };
  // The former compilation, run directly (these queries need no feature flags or contract predicates).
  const oldRun = async (q: MemberQuery) => {
    const c = compileMemberQuery(q, { now, planAttributes: 'subquery' });
    const rows = (await pool.query<{ member_id: string; sort_key: unknown }>(c.sql, c.params)).rows;
    const last = rows[Math.min(rows.length, c.limit) - 1];
    return { ids: Math.min(rows.length, c.limit), cursor: rows.length > c.limit && last ? c.cursorAfter(last) : null };
  };
  const oldCount = async (q: MemberQuery): Promise<number> => {
    const c = compileMemberQuery(q, { now, planAttributes: 'subquery' });
    return (await pool.query<{ count: number }>(c.countSql, c.countParams)).rows[0]?.count ?? 0;
  };
  const explain = async (q: MemberQuery, planAttributes: 'join' | 'subquery', analyze: boolean): Promise<string> => {
    const c = compileMemberQuery(q, { now, planAttributes });
    const r = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN (${analyze ? 'ANALYZE, ' : ''}COSTS OFF) ${c.countSql}`, c.countParams);
    return r.rows.map((x) => `      ${x['QUERY PLAN']}`).join('\n');
  };

  console.log('\nfull reads (cursor, pages of 10,000) and counts');
  const rows: string[][] = [];
  const plans: string[] = [];
  for (const { name, query } of queries) {
    await dir.countMembers(query); // warm-up
    const samples: number[] = [];
    let total = 0;
    for (let i = 0; i < Math.min(opts.runs, 3); i++) {
      const [ms, n] = await time(() => dir.countMembers(query));
      samples.push(ms);
      total = n;
    }
    samples.sort((a, b) => a - b);
    const r = await read(query, newRun);
    const row = [name, total.toLocaleString(), pct(samples, 0.5).toFixed(0), r.rows.toLocaleString() + (r.capped ? ' (cap)' : ''), r.secs.toFixed(1), Math.round(r.rows / r.secs).toLocaleString(), '', '', ''];
    if (r.rows !== total && !r.capped) throw new Error(`${name}: the full read returned ${r.rows} members, the count says ${total}`);
    if (query.predicateFilter) {
      const [oldMs, oldTotal] = await time(() => oldCount(query));
      if (oldTotal !== total) throw new Error(`${name}: the former compilation counts ${oldTotal}, the join ${total}`);
      const o = await read(query, oldRun);
      row[6] = oldMs.toFixed(0);
      row[7] = Math.round(o.rows / o.secs).toLocaleString() + (o.capped ? ' (cap)' : '');
      row[8] = (oldMs / (pct(samples, 0.5) || 1)).toFixed(1) + '×';
      plans.push(`  ${name}\n    former (scalar subquery per member), EXPLAIN:\n${await explain(query, 'subquery', false)}\n    now (plan join), EXPLAIN ANALYZE:\n${await explain(query, 'join', true)}`);
    }
    rows.push(row);
    console.log(`  ${name}: done`);
  }
  const header = ['query', 'matches', 'count ms', 'read rows', 'read s', 'rows/s', 'former count ms', 'former rows/s', 'count speed-up'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log('');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('\ncount plans, former vs now:');
  for (const p of plans) console.log(p);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
