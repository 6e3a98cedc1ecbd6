import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../lib/logger';
import { GENERATOR_VERSION, PopulationGenerator, type Catalog, type GeneratorOptions, type MemberChunk, type Row } from './generator';

/** COPY text-format field encoding (NULL as \N; backslash, tab, newline and CR escaped). */
export function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`non-finite number ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return escapeCopy(arrayLiteral(value));
  return escapeCopy(String(value));
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => (typeof v === 'number' ? String(v) : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`));
  return `{${items.join(',')}}`;
}

function escapeCopy(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

async function copyRows(client: PoolClient, table: string, rows: readonly Row[]): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const columns = Object.keys(first);
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', () => resolve());
    stream.on('error', reject);
  });
  let buf = '';
  for (const row of rows) {
    buf += columns.map((c) => copyField(row[c])).join('\t') + '\n';
    if (buf.length > 1 << 20) {
      if (!stream.write(buf)) await new Promise((r) => stream.once('drain', r));
      buf = '';
    }
  }
  stream.end(buf);
  await done;
}

export interface LoadOptions extends GeneratorOptions {
  chunkSize?: number;
  logger?: Logger;
}

export interface LoadResult {
  members: number;
  events: number;
  durationMs: number;
}

const CATALOG_ORDER: (keyof Catalog)[] = [
  'payers',
  'sponsors',
  'populations',
  'insurance_plans',
  'benefit_predicates',
  'benefit_contracts',
  'sponsor_feature_options',
  'feature_flags',
  'feature_flag_targets',
  'event_types',
];
const CHUNK_ORDER: (keyof MemberChunk)[] = [
  'families',
  'members',
  'coverages',
  'member_engagement',
  'member_care',
  'member_health',
  'member_life_events',
  'member_events',
  'member_activity_profile',
];

/**
 * Generates and bulk-loads a population in one transaction (all or nothing: an interrupted load leaves
 * the directory empty, so "load when empty" stays correct). The directory must be empty.
 */
export async function loadPopulation(pool: Pool, opts: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const generator = new PopulationGenerator(opts);
  const client = await pool.connect();
  let members = 0;
  let events = 0;
  try {
    await client.query('BEGIN');
    // Serialise concurrent loaders of the same schema; the loser sees a non-empty directory.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('rte-directory-load:' || current_schema()))");
    const existing = await client.query('SELECT 1 FROM members LIMIT 1');
    if (existing.rowCount) throw new Error('member directory is not empty; refusing to load a synthetic population');
    for (const table of CATALOG_ORDER) await copyRows(client, table, generator.catalog[table]);
    // Overlap generation (CPU here) with COPY ingestion (CPU in the server): generate chunk n+1 while
    // chunk n streams; one COPY at a time on the connection.
    let pending: Promise<void> = Promise.resolve();
    for (const chunk of generator.chunks(opts.chunkSize ?? 5000)) {
      await pending;
      pending = (async () => {
        for (const table of CHUNK_ORDER) await copyRows(client, table, chunk[table]);
      })();
      pending.catch(() => undefined); // surfaced by the next await
      members += chunk.members.length;
      events += chunk.member_events.length;
      if (opts.logger && members % 100_000 < chunk.members.length) opts.logger.info({ members, events }, 'population load progress');
      await new Promise((r) => setImmediate(r)); // let the COPY stream start before generating the next chunk
    }
    await pending;
    await client.query(
      'INSERT INTO directory_population (id, seed, population, reference_time, generator_version) VALUES (1, $1, $2, $3, $4)',
      [opts.seed, opts.population, opts.referenceTime.toISOString(), GENERATOR_VERSION],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  await pool.query('ANALYZE');
  return { members, events, durationMs: Date.now() - started };
}

export interface PopulationInfo {
  seed: number;
  population: number;
  referenceTime: Date;
  generatorVersion: string;
}

/** The loaded synthetic population's parameters, or null for an empty or real directory. */
export async function readPopulationInfo(pool: Pool): Promise<PopulationInfo | null> {
  const r = await pool.query<{ seed: string; population: number; reference_time: Date; generator_version: string }>(
    'SELECT seed, population, reference_time, generator_version FROM directory_population WHERE id = 1',
  );
  const row = r.rows[0];
  if (!row) return null;
  return { seed: Number(row.seed), population: row.population, referenceTime: row.reference_time, generatorVersion: row.generator_version };
}

export async function isDirectoryEmpty(pool: Pool): Promise<boolean> {
  const r = await pool.query('SELECT 1 FROM members LIMIT 1');
  return r.rowCount === 0;
}

/**
 * The directory's evaluation clock (docs/member-query-semantics.md, "Evaluation time"): a synthetic population is
 * anchored at its reference time, so relative filters ("within the last 7 days", ages, renewals) are evaluated at
 * that instant and results do not drift with the wall clock; a real directory (no population row) uses the wall clock.
 */
export async function directoryClock(pool: Pool): Promise<() => Date> {
  const info = await readPopulationInfo(pool).catch(() => null);
  if (!info) return () => new Date();
  const pinned = info.referenceTime.getTime();
  return () => new Date(pinned);
}
