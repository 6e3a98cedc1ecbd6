import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { loadPopulation } from './loader';
import { migrate } from './migrate';
import { predictPopulation } from './member-predictions';
import { RuleBasedActivityPredictor } from '../lib/prediction/rule-based';
import { createDirectoryPool } from './pool';

export const TEST_DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://rte:rte@127.0.0.1:5432/rte';
export const TEST_REFERENCE_TIME = new Date('2024-11-15T00:00:00.000Z');

export interface TestDirectory {
  pool: Pool;
  schema: string;
  drop(): Promise<void>;
}

/**
 * A fresh private schema (search_path), migrated and loaded with a small seeded population, plus (unless
 * `predictions: false`) the bootstrap prediction pass at TEST_REFERENCE_TIME, as the up path does.
 */
export async function createTestDirectory(opts: { seed: number; population: number; predictions?: boolean; connectionString?: string }): Promise<TestDirectory> {
  const schema = `dir_test_${randomBytes(5).toString('hex')}`;
  const pool = createDirectoryPool({ connectionString: opts.connectionString ?? TEST_DATABASE_URL, schema, max: 4 });
  await migrate(pool, { schema });
  if (opts.population > 0) await loadPopulation(pool, { seed: opts.seed, population: opts.population, referenceTime: TEST_REFERENCE_TIME });
  if (opts.population > 0 && opts.predictions !== false) await predictPopulation(pool, new RuleBasedActivityPredictor(), { now: TEST_REFERENCE_TIME });
  return {
    pool,
    schema,
    drop: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
