/**
 * Migrates the member directory and, when it is empty, loads the default synthetic population; when nobody has
 * been predicted yet, runs the bootstrap prediction pass (member_predictions).
 *   DATABASE_URL                postgres connection (required)
 *   DIRECTORY_SCHEMA            schema to use (default: the connection's default, normally public)
 *   DIRECTORY_SEED              generator seed (default 42)
 *   DIRECTORY_POPULATION        members to generate (default 100000; 0 = migrate only)
 *   DIRECTORY_REFERENCE_TIME    ISO instant the population is "as of" (default 2024-11-15T00:00:00Z)
 * Logs JSON lines; exits non-zero on failure.
 */
import { createLogger } from '../lib/logger';
import { DEFAULT_REFERENCE_TIME } from '../directory/generator';
import { isDirectoryEmpty, loadPopulation, readPopulationInfo } from '../directory/loader';
import { migrate } from '../directory/migrate';
import { countMemberPredictions, predictPopulation } from '../directory/member-predictions';
import { RuleBasedActivityPredictor } from '../lib/prediction/rule-based';
import { createDirectoryPool } from '../directory/pool';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

async function main(): Promise<void> {
  const logger = createLogger('directory-migrate');
  const connectionString = process.env['DATABASE_URL'];
  if (!connectionString) throw new Error('DATABASE_URL is required');
  const schema = process.env['DIRECTORY_SCHEMA'] || undefined;
  const seed = intEnv('DIRECTORY_SEED', 42);
  const population = intEnv('DIRECTORY_POPULATION', 100_000);
  const referenceTime = new Date(process.env['DIRECTORY_REFERENCE_TIME'] || DEFAULT_REFERENCE_TIME);
  if (Number.isNaN(referenceTime.getTime())) throw new Error('DIRECTORY_REFERENCE_TIME must be an ISO timestamp');

  const pool = createDirectoryPool({ connectionString, schema, max: 2 });
  try {
    const result = await migrate(pool, { schema, logger });
    logger.info({ schema: result.schema, applied: result.applied, alreadyApplied: result.alreadyApplied.length }, 'directory migrations done');
    if (population === 0) return;
    if (!(await isDirectoryEmpty(pool))) {
      logger.info({ population: await readPopulationInfo(pool) }, 'member directory already populated; not loading');
    } else {
      logger.info({ seed, population, referenceTime: referenceTime.toISOString() }, 'loading synthetic population');
      const loaded = await loadPopulation(pool, { seed, population, referenceTime, logger });
      logger.info(loaded, 'synthetic population loaded');
    }
    // Bootstrap prediction pass (issue 9): MemberQuery's probability filter reads member_predictions, which
    // member-cron runs keep current; a directory nobody has predicted yet gets one pass over the whole population
    // "as of" its reference time, so the daily-rte-warmup schedule (app_usage_probability > 0.5) selects members
    // on a fresh stack. Skipped once any prediction exists.
    if ((await countMemberPredictions(pool)) === 0) {
      const asOf = (await readPopulationInfo(pool))?.referenceTime ?? referenceTime;
      const started = Date.now();
      const { predicted } = await predictPopulation(pool, new RuleBasedActivityPredictor(), { now: asOf, logger });
      logger.info({ predicted, asOf: asOf.toISOString(), seconds: Math.round((Date.now() - started) / 100) / 10 }, 'bootstrap predictions written');
    }
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  createLogger('directory-migrate').error({ err }, 'directory migration failed');
  process.exit(1);
});
