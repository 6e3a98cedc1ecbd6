import path from 'node:path';
import { parseScheduleCliArgs, ScheduleCliUsageError } from './schedule-cli';

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
