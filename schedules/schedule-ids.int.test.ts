import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runScheduleCommand } from '../cli/schedule-cli';
import { memberCronScheduleCli } from '../cli/schedules';
import { warmingScheduleCli } from '../cli/warming-schedules';
import { PgMemberDirectory } from '../directory/pg-member-directory';
import { createTestDirectory, TEST_REFERENCE_TIME, type TestDirectory } from '../directory/test-support';
import { connectTemporal, uniqueName, type TemporalTestContext } from '../test/helpers/temporal';
import { checkScheduleFile, ScheduleFileError } from './load';
import { SPEC_HASH_MEMO_KEY } from './apply';

/**
 * review13 #2: `schedules apply` runs the directory's id checks (what SubmitBatch and ScheduleWarming run) against
 * the real PostgreSQL directory, and a refused file changes no schedule.
 */
jest.setTimeout(180_000);

let db: TestDirectory;
let temporal: TemporalTestContext;
let sponsor: string;
const savedSchema = process.env['DATABASE_SCHEMA'];
const dir = mkdtempSync(path.join(tmpdir(), 'schedule-ids-'));

beforeAll(async () => {
  db = await createTestDirectory({ seed: 1, population: 200 });
  sponsor = (await db.pool.query<{ sponsor_id: string }>('SELECT sponsor_id FROM sponsors ORDER BY sponsor_id LIMIT 1')).rows[0]!.sponsor_id;
  temporal = await connectTemporal();
  // The CLI reads its directory from the usual environment (DATABASE_URL + DATABASE_SCHEMA).
  process.env['DATABASE_SCHEMA'] = db.schema;
}, 300_000);

afterAll(async () => {
  if (savedSchema === undefined) delete process.env['DATABASE_SCHEMA'];
  else process.env['DATABASE_SCHEMA'] = savedSchema;
  await temporal?.close();
  await db?.drop();
});

const withFilters = (...filters: string[]): string => `schedules:\n  - name: a\n    cron: "@daily"\n    filters:\n${filters.map((f) => `      - ${f}\n`).join('')}`;

async function issuesOf(text: string): Promise<{ field: string; line: number; message: string }[]> {
  const directory = new PgMemberDirectory(db.pool, { now: () => TEST_REFERENCE_TIME });
  const err = await checkScheduleFile(text, 'f.yaml', (q) => directory.checkQuery(q)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ScheduleFileError)) throw new Error(`expected a refusal, got ${String(err)}`);
  return err.issues.map(({ field, line, message }) => ({ field, line, message }));
}

describe('checkScheduleFile against the PostgreSQL directory', () => {
  it('refuses a typo\'d sponsor id, naming the filter, the index and the line', async () => {
    expect(await issuesOf(withFilters('has_rte_enabled: true', `sponsor_ids: [${sponsor}, ACME_CROP]`))).toEqual([
      { field: 'schedules[0].filters[1].sponsor_ids[1]', line: 6, message: 'unknown sponsor id "ACME_CROP"' },
    ]);
  });

  it('refuses a state that is not a US state code and an unknown feature-flag key, inside member_query', async () => {
    expect(await issuesOf(withFilters('member_query: { demographicsFilter: { states: [CA, XX] } }'))).toEqual([
      { field: 'schedules[0].filters[0].member_query.demographics_filter.states[1]', line: 5, message: expect.stringContaining('"XX" is not a US state code') as unknown },
    ]);
    expect(await issuesOf(withFilters('member_query: { requiredFeatureFlags: { no_such_flag: true } }'))).toEqual([
      { field: 'schedules[0].filters[0].member_query.required_feature_flags["no_such_flag"]', line: 5, message: expect.stringContaining('unknown feature flag') as unknown },
    ]);
  });

  it('accepts ids the directory knows', async () => {
    const directory = new PgMemberDirectory(db.pool, { now: () => TEST_REFERENCE_TIME });
    const defs = await checkScheduleFile(withFilters(`sponsor_ids: [${sponsor}]`, 'member_query: { demographicsFilter: { states: [CA] } }'), 'f.yaml', (q) => directory.checkQuery(q));
    expect(defs[0]?.memberQuery).toEqual({ sponsorIds: [sponsor], demographicsFilter: { states: ['CA'] } });
  });
});

describe('schedules apply (the CLI) refuses unknown ids and changes no schedule', () => {
  const write = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const run = async <D>(cli: Parameters<typeof runScheduleCommand<D>>[0], argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runScheduleCommand(cli, argv, { log: (l) => out.push(l), error: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('member-cron: a file with a typo\'d sponsor exits 2 naming the field; the applied schedule keeps its spec', async () => {
    const prefix = `${uniqueName('sched-ids')}/`;
    const good = write('good.yaml', withFilters(`sponsor_ids: [${sponsor}]`));
    const created = await run(memberCronScheduleCli, ['apply', '--file', good, '--prefix', prefix]);
    expect(created).toMatchObject({ code: 0 });
    expect(created.out).toContain(`${prefix}a`);
    const handle = temporal.client.schedule.getHandle(`${prefix}a`);
    try {
      const hashOf = async () => ((await handle.describe()).action as { memo?: Record<string, unknown> }).memo?.[SPEC_HASH_MEMO_KEY];
      const before = await hashOf();
      const bad = write('bad.yaml', withFilters(`sponsor_ids: [${sponsor}, ACME_CROP]`));
      const refused = await run(memberCronScheduleCli, ['apply', '--file', bad, '--prefix', prefix]);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain(`${bad}:5:`);
      expect(refused.err).toContain('schedules[0].filters[0].sponsor_ids[1]: unknown sponsor id "ACME_CROP"');
      expect(refused.err).toContain('no schedule was changed');
      expect(await hashOf()).toBe(before);
    } finally {
      await handle.delete();
    }
  });

  it('warming: a file with an unknown population id exits 2 naming the entry\'s field; nothing is created', async () => {
    const prefix = `${uniqueName('sched-ids-w')}/`;
    const bad = write('bad-warming.yaml', 'schedules:\n  - schedule_name: a\n    cron: "0 4 * * *"\n    member_query:\n      population_ids: [NO_SUCH_POPULATION]\n    enabled: true\n');
    const refused = await run(warmingScheduleCli, ['apply', '--file', bad, '--prefix', prefix]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${bad}:5:`);
    expect(refused.err).toContain('schedules[0].member_query.population_ids[0]: unknown population id "NO_SUCH_POPULATION"');
    await expect(temporal.client.schedule.getHandle(`${prefix}a`).describe()).rejects.toThrow(/not found/i);
  });
});
