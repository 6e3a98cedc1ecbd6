import { Pool, type PoolConfig } from 'pg';

/** Identifier quoting for the schema name (schema names come from config/tests, never from requests). */
export function quoteIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name '${name}'`);
  return `"${name}"`;
}

export interface DirectoryPoolOptions {
  connectionString: string;
  /** Schema holding the directory tables (search_path); default: the server's default (public). */
  schema?: string;
  max?: number;
}

/** A pg pool whose sessions resolve directory tables in `schema` (tests and benches use private schemas). */
export function createDirectoryPool(opts: DirectoryPoolOptions): Pool {
  const config: PoolConfig = { connectionString: opts.connectionString, max: opts.max ?? 4 };
  if (opts.schema) {
    quoteIdent(opts.schema);
    config.options = `-c search_path=${opts.schema},public`;
  }
  return new Pool(config);
}
