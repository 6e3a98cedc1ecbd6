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
  /** Bound on getting a connection (ms); pg's default waits forever. The API sets one (issue 12: outages answered fast). */
  connectionTimeoutMillis?: number;
  /** Sessions refuse writes (default_transaction_read_only): the DATABASE_READ_URL pool, so a write sent there fails loudly. */
  readOnly?: boolean;
}

/** A pg pool whose sessions resolve directory tables in `schema` (tests and benches use private schemas). */
export function createDirectoryPool(opts: DirectoryPoolOptions): Pool {
  // JIT off: directory queries are page-sized; PostgreSQL's JIT spends 0.3-1 s compiling plans that then run
  // in tens of milliseconds (measured on the 1M-member bench, docs/member-query-semantics.md).
  const options = ['-c jit=off'];
  if (opts.readOnly) options.push('-c default_transaction_read_only=on');
  if (opts.schema) {
    quoteIdent(opts.schema);
    options.push(`-c search_path=${opts.schema},public`);
  }
  const config: PoolConfig = {
    connectionString: opts.connectionString,
    max: opts.max ?? 4,
    options: options.join(' '),
    ...(opts.connectionTimeoutMillis !== undefined ? { connectionTimeoutMillis: opts.connectionTimeoutMillis } : {}),
  };
  const pool = new Pool(config);
  // An idle pooled client whose server went away (PostgreSQL killed or restarted) emits 'error' on the pool; without
  // a listener Node treats it as unhandled and the process dies (seen in the fault suite, issue 12). The pool drops
  // that client by itself; the next query connects anew (and fails as an infrastructure error while PG is down).
  pool.on('error', () => undefined);
  return pool;
}

/**
 * A process's pools (issue 14, docs/scaling.md): `pg` on DATABASE_URL for everything, and `readPg` for the member
 * directory's and member-cron sources' read-only queries: a read-only pool on DATABASE_READ_URL (a streaming replica)
 * when that is set apart from DATABASE_URL, otherwise `pg` itself.
 */
export function createDirectoryPools(
  config: { databaseUrl: string; databaseReadUrl: string; databaseSchema: string | undefined },
  opts: Omit<DirectoryPoolOptions, 'connectionString' | 'schema' | 'readOnly'> = {},
): { pg: Pool; readPg: Pool; close(): Promise<void> } {
  const base = { ...opts, ...(config.databaseSchema !== undefined ? { schema: config.databaseSchema } : {}) };
  const pg = createDirectoryPool({ ...base, connectionString: config.databaseUrl });
  const readPg = config.databaseReadUrl === config.databaseUrl ? pg : createDirectoryPool({ ...base, connectionString: config.databaseReadUrl, readOnly: true });
  return { pg, readPg, close: async () => void (await Promise.all([pg.end(), ...(readPg !== pg ? [readPg.end()] : [])])) };
}
