import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IDS_NOT_CHECKED, parseScheduleCliArgs, runScheduleCommand, ScheduleCliUsageError, type ScheduleCli } from './schedule-cli';
import { memberCronScheduleCli } from './schedules';
import { warmingScheduleCli } from './warming-schedules';

describe('parseScheduleCliArgs (cli/schedules.ts, cli/warming-schedules.ts)', () => {
  const DEFAULT = '/etc/default.yaml';

  it('applies the default file with no flags', () => {
    expect(parseScheduleCliArgs(['apply'], DEFAULT)).toEqual({ command: 'apply', file: DEFAULT, dryRun: false, prefix: undefined });
  });

  it('reads --file (resolved), --dry-run and --prefix', () => {
    expect(parseScheduleCliArgs(['validate', '--file', 'x.yaml', '--dry-run', '--prefix', 'test-1/'], DEFAULT)).toEqual({
      command: 'validate',
      file: path.resolve('x.yaml'),
      dryRun: true,
      prefix: 'test-1/',
    });
  });

  it.each([[[]], [['remove']], [['apply', '--force']], [['apply', '--file']], [['apply', '--prefix']]])('refuses %j', (argv) => {
    expect(() => parseScheduleCliArgs(argv, DEFAULT)).toThrow(ScheduleCliUsageError);
  });
});

describe('schedules validate (review13 #2, #4, #9): exit code and message', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'schedule-cli-'));
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const run = async <D>(cli: ScheduleCli<D>, argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runScheduleCommand(cli, argv, { log: (l) => out.push(l), error: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it.each([
    ['a query the directory compiler refuses', 'filters:\n      - member_query: { minAppUsageProbability: 7 }', ':5:', 'schedules[0].filters[0].member_query.min_app_usage_probability: must be between 0 and 1'],
    ['a filter overriding another', 'filters:\n      - sponsor_ids: [S1]\n      - member_query: { sponsorIds: [S2] }', ':6:', 'which filters[0].sponsor_ids already sets'],
    ['"> 0"', 'filters:\n      - app_usage_probability: "> 0"', ':5:', 'would mean no probability filter at all'],
    ['catchup_window "0"', 'policy: { catchup_window: "0" }', ':4:', 'schedules[0].policy.catchup_window: must be at least 10s'],
  ])('refuses %s with exit 2, file:line and the field, changing nothing', async (_title, tail, at, message) => {
    const p = file(`bad-${_title.replace(/\W+/g, '-')}.yaml`, `schedules:\n  - name: a\n    cron: "@daily"\n    ${tail}\n`);
    const r = await run(memberCronScheduleCli, ['validate', '--file', p]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${p}${at}`);
    expect(r.err).toContain(message);
    expect(r.err).toContain('no schedule was changed');
  });

  it.each([
    ['member-cron', () => run(memberCronScheduleCli, ['validate']), '3 schedule(s) valid'],
    ['warming', () => run(warmingScheduleCli, ['validate']), '3 warming schedule(s) valid'],
  ] as const)('accepts the shipped %s file and says that ids were not checked', async (_name, validate, valid) => {
    const r = await validate();
    expect(r.code).toBe(0);
    expect(r.out).toContain(valid);
    expect(r.out).toContain(IDS_NOT_CHECKED);
  });
});
