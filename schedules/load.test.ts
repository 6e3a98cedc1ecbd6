import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_POLICY, parseScheduleFile, ScheduleFileError, type ScheduleFileIssue } from './load';

function issuesOf(text: string): ScheduleFileIssue[] {
  try {
    parseScheduleFile(text, 'test.yaml');
  } catch (e) {
    if (e instanceof ScheduleFileError) return [...e.issues];
    throw e;
  }
  throw new Error('expected the file to be rejected');
}

describe('parseScheduleFile', () => {
  it('loads the shipped file: the design doc’s three schedules with their filters as a MemberQuery', () => {
    const text = readFileSync(path.join(__dirname, 'member-cron-schedules.yaml'), 'utf8');
    const defs = parseScheduleFile(text);
    expect(defs.map((d) => [d.scheduleId, d.cron, d.enabled])).toEqual([
      ['member-cron/daily-rte-warmup', '@daily', true],
      ['member-cron/weekly-bulk-refresh', '0 2 * * 0', true],
      ['member-cron/monthly-full-sync', '@monthly', true],
    ]);
    expect(defs[0]?.memberQuery).toEqual({ hasRteEnabled: true, minAppUsageProbability: 0.5 });
    expect(defs[1]?.memberQuery).toEqual({ hasRteEnabled: true });
    expect(defs[2]?.memberQuery).toEqual({});
    expect(defs[0]?.policy).toEqual(DEFAULT_POLICY);
  });

  it('applies file defaults and per-schedule policy overrides', () => {
    const defs = parseScheduleFile(`
defaults:
  jitter: 1m
schedules:
  - name: a
    cron: "0 * * * *"
    policy: { overlap: SKIP, catchup_window: 30m, page_size: 100 }
  - name: b
    cron: "@daily"
`);
    expect(defs[0]?.policy).toEqual({ ...DEFAULT_POLICY, overlap: 'SKIP', catchupWindowMs: 1_800_000, jitterMs: 60_000, pageSize: 100 });
    expect(defs[1]?.policy.jitterMs).toBe(60_000);
    expect(defs[1]?.policy.overlap).toBe('BUFFER_ONE');
  });

  it('accepts any MemberQuery filter through member_query (proto3 JSON)', () => {
    const defs = parseScheduleFile(`
schedules:
  - name: vip
    cron: "@weekly"
    filters:
      - member_query: { accountStatuses: [ACTIVE], excludeMockAccounts: true }
`);
    expect(defs[0]?.memberQuery).toEqual({ accountStatuses: ["ACTIVE"], excludeMockAccounts: true });
  });

  const rejected: [title: string, text: string, field: string, line: number, message: string][] = [
    [
      'bad cron names the cron field and line',
      'schedules:\n  - name: daily\n    cron: "0 25 * * *"\n',
      'schedules[0].cron',
      3,
      'hour: 25 is out of range 0-23',
    ],
    ['missing cron', 'schedules:\n  - name: daily\n    enabled: true\n', 'schedules[0].cron', 2, 'is required'],
    [
      'unknown field (typo)',
      'schedules:\n  - name: daily\n    cron: "@daily"\n    enabeld: true\n',
      'schedules[0].enabeld',
      4,
      'is not a known field',
    ],
    [
      'wrong type',
      'schedules:\n  - name: daily\n    cron: "@daily"\n    enabled: "yes"\n',
      'schedules[0].enabled',
      4,
      'must be boolean',
    ],
    [
      'bad probability bound',
      'schedules:\n  - name: daily\n    cron: "@daily"\n    filters:\n      - app_usage_probability: "< 0.5"\n',
      'schedules[0].filters[0].app_usage_probability',
      5,
      'lower bound',
    ],
    [
      'invalid schedule name',
      'schedules:\n  - name: Daily_Warmup\n    cron: "@daily"\n',
      'schedules[0].name',
      2,
      'must match pattern',
    ],
    [
      'duplicate names',
      'schedules:\n  - name: a\n    cron: "@daily"\n  - name: a\n    cron: "@weekly"\n',
      'schedules[1].name',
      4,
      'duplicate schedule name',
    ],
    [
      'unknown MemberQuery field',
      'schedules:\n  - name: a\n    cron: "@daily"\n    filters:\n      - member_query: { notAField: 1 }\n',
      'schedules[0].filters[0].member_query',
      5,
      'not a valid rte.v1.MemberQuery',
    ],
    [
      'unknown overlap policy',
      'schedules:\n  - name: a\n    cron: "@daily"\n    policy:\n      overlap: SOMETIMES\n',
      'schedules[0].policy.overlap',
      5,
      'must be one of SKIP',
    ],
    ['broken YAML', 'schedules:\n  - name: a\n   cron: [\n', '(yaml)', 3, ''],
  ];
  it.each(rejected)('rejects: %s', (_title, text, field, line, message) => {
    const issues = issuesOf(text);
    const match = issues.find((i) => i.field === field);
    expect(match).toBeDefined();
    expect(match?.line).toBe(line);
    expect(match?.message).toContain(message);
  });

  it('reports every problem at once, with file:line in the message', () => {
    let err: unknown;
    try {
      parseScheduleFile('schedules:\n  - name: a\n    cron: "61 * * * *"\n  - name: b\n    cron: "@sometimes"\n', 'x.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScheduleFileError);
    expect((err as ScheduleFileError).message).toContain('x.yaml:3:');
    expect((err as ScheduleFileError).message).toContain('x.yaml:5:');
  });
});
