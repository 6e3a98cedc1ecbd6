import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from '../lib/logger';
import { quoteIdent } from './pool';

export const MIGRATIONS_DIR = join(__dirname, 'migrations');

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

/** Migration files are `NNN_name.sql`, applied in version order, each in its own transaction. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      return {
        version: file.slice(0, 3),
        name: file.slice(4, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

export interface MigrateOptions {
  /** Schema to migrate (created if missing). Default: the session's current schema. */
  schema?: string;
  migrations?: Migration[];
  logger?: Logger;
}

export interface MigrateResult {
  schema: string;
  applied: string[];
  alreadyApplied: string[];
}

/**
 * Idempotent migration runner. A session-level advisory lock keyed by schema serialises concurrent
 * runners (two `stack up`s, parallel test workers): the second waits, then finds everything applied.
 * An applied migration whose file changed is an error, not silently skipped.
 */
export async function migrate(pool: Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = opts.migrations ?? loadMigrations();
  const client = await pool.connect();
  try {
    let schema: string;
    if (opts.schema) {
      quoteIdent(opts.schema);
      schema = opts.schema;
    } else {
      const r = await client.query<{ s: string }>('SELECT current_schema() AS s');
      schema = r.rows[0]?.s ?? 'public';
    }
    // Lock before CREATE SCHEMA: "IF NOT EXISTS" is not race-free between sessions.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`rte-directory-migrations:${schema}`]);
    try {
      if (opts.schema) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
        await client.query(`SET search_path TO ${quoteIdent(opts.schema)}, public`);
      }
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Map(
        (await client.query<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations')).rows.map(
          (r) => [r.version, r.checksum],
        ),
      );
      const applied: string[] = [];
      const alreadyApplied: string[] = [];
      for (const m of migrations) {
        const previous = done.get(m.version);
        if (previous !== undefined) {
          if (previous !== m.checksum) {
            throw new Error(`migration ${m.version}_${m.name} was changed after it was applied (checksum mismatch)`);
          }
          alreadyApplied.push(m.version);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            m.checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        opts.logger?.info({ schema, version: m.version, name: m.name }, 'migration applied');
        applied.push(m.version);
      }
      return { schema, applied, alreadyApplied };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`rte-directory-migrations:${schema}`]);
      if (opts.schema) await client.query('RESET search_path');
    }
  } finally {
    client.release();
  }
}
