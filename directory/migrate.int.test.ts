import { randomBytes } from 'node:crypto';
import { loadMigrations, migrate } from './migrate';
import { createDirectoryPool } from './pool';
import { TEST_DATABASE_URL } from './test-support';

jest.setTimeout(60_000);

describe('directory migrations', () => {
  const schema = `dir_mig_${randomBytes(5).toString('hex')}`;
  const pool = createDirectoryPool({ connectionString: TEST_DATABASE_URL, schema, max: 4 });

  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  test('two concurrent runners apply each migration exactly once', async () => {
    const [a, b] = await Promise.all([migrate(pool, { schema }), migrate(pool, { schema })]);
    const versions = loadMigrations().map((m) => m.version);
    expect([...a.applied, ...b.applied].sort()).toEqual(versions);
    expect([...a.alreadyApplied, ...b.alreadyApplied].sort()).toEqual(versions);
    const tables = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('members', 'member_events', 'member_activity_profile')",
      [schema],
    );
    expect(tables.rows[0]?.n).toBe(3);
  });

  test('a re-run is a no-op and an edited applied migration is refused', async () => {
    expect((await migrate(pool, { schema })).applied).toEqual([]);
    const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(pool, { schema, migrations: edited })).rejects.toThrow(/changed after it was applied/);
  });
});
