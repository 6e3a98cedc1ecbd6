import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FieldError } from '../lib/errors';
import { checkScheduleFile, DEFAULT_POLICY, parseScheduleFile, ScheduleFileError, type ScheduleFileIssue } from './load';

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

const withFilters = (...filters: string[]): string => `schedules:\n  - name: a\n    cron: "@daily"\n    filters:\n${filters.map((f) => `      - ${f}\n`).join('')}`;

describe('parseScheduleFile: member queries the directory compiler refuses are refused at parse time (review13 #2)', () => {
  const rejected: [title: string, text: string, field: string, line: number, message: string][] = [
    [
      'probability above 1 through member_query',
      withFilters('member_query: { minAppUsageProbability: 7 }'),
      'schedules[0].filters[0].member_query.min_app_usage_probability',
      5,
      'must be between 0 and 1',
    ],
    [
      'after-date later than before-date (on the filter line that set them)',
      withFilters('has_rte_enabled: true', 'member_query: { eligibilityCheckedAfter: "2030-01-01T00:00:00Z", eligibilityCheckedBefore: "2020-01-01T00:00:00Z" }'),
      'schedules[0].filters[1].member_query.eligibility_checked_after',
      6,
      'must be earlier than eligibility_checked_before',
    ],
    [
      'snake_case spelling is reported the same way',
      withFilters('member_query:\n          min_app_usage_probability: 1.5'),
      'schedules[0].filters[0].member_query.min_app_usage_probability',
      6,
      'must be between 0 and 1',
    ],
    [
      'a scheduling window (member cron runs at its cron time, a window would be ignored)',
      withFilters('member_query: { schedulingWindow: SCHEDULING_WINDOW_LOW_UTILIZATION }'),
      'schedules[0].filters[0].member_query.scheduling_window',
      5,
      'not supported by member-cron schedules',
    ],
  ];
  it.each(rejected)('rejects: %s', (_title, text, field, line, message) => {
    const issues = issuesOf(text);
    expect(issues).toEqual([expect.objectContaining({ field, line, message: expect.stringContaining(message) as unknown })]);
  });

  it('still accepts queries the compiler accepts (feature-flag keys are checked by apply, not here)', () => {
    const [def] = parseScheduleFile(withFilters('member_query: { requiredFeatureFlags: { rte_v2: true }, demographicsFilter: { states: [CA] } }'));
    expect(def?.memberQuery).toEqual({ requiredFeatureFlags: { rte_v2: true }, demographicsFilter: { states: ['CA'] } });
  });
});

describe('parseScheduleFile: one filter never silently overrides another (review13 #4)', () => {
  it.each([
    [
      'a probability bound then member_query with another bound',
      withFilters('app_usage_probability: "> 0.9"', 'member_query: { minAppUsageProbability: 0.1 }'),
      'member_query.minAppUsageProbability sets member_query.min_app_usage_probability, which filters[0].app_usage_probability already sets',
    ],
    [
      'sponsor_ids then member_query sponsorIds',
      withFilters('sponsor_ids: [S1]', 'member_query: { sponsorIds: [S2] }'),
      'member_query.sponsorIds sets member_query.sponsor_ids, which filters[0].sponsor_ids already sets',
    ],
    [
      'member_query first (snake_case), then the shortcut',
      withFilters('member_query: { population_ids: [P1] }', 'population_ids: [P2]'),
      'population_ids sets member_query.population_ids, which filters[0].member_query already sets',
    ],
  ])('refuses %s, naming both filters', (_title, text, message) => {
    const issues = issuesOf(text);
    expect(issues).toEqual([expect.objectContaining({ field: expect.stringMatching(/^schedules\[0\]\.filters\[1\]\./) as unknown, line: 6, message: expect.stringContaining(message) as unknown })]);
  });

  it('accepts filters that set different fields', () => {
    const [def] = parseScheduleFile(withFilters('sponsor_ids: [S1]', 'member_query: { populationIds: [P1], accountStatuses: [ACTIVE] }'));
    expect(def?.memberQuery).toEqual({ sponsorIds: ['S1'], populationIds: ['P1'], accountStatuses: ['ACTIVE'] });
  });

  it.each(['"> 0"', '">= 0"', '"> 0.0"'])('refuses app_usage_probability %s, which MemberQuery would read as "no filter"', (bound) => {
    const issues = issuesOf(withFilters(`app_usage_probability: ${bound}`));
    expect(issues).toEqual([
      expect.objectContaining({ field: 'schedules[0].filters[0].app_usage_probability', line: 5, message: expect.stringContaining('omit the filter to include every member, or write a positive bound such as "> 0.01"') as unknown }),
    ]);
  });

  it('still accepts a positive bound', () => {
    expect(parseScheduleFile(withFilters('app_usage_probability: "> 0.01"'))[0]?.memberQuery).toEqual({ minAppUsageProbability: 0.01 });
  });
});

describe('parseScheduleFile: policy durations mean what Temporal runs (review13 #9)', () => {
  const sched = (cron: string, policy: string, defaults = ''): string => `${defaults}schedules:\n  - name: a\n    cron: "${cron}"\n${policy === '' ? '' : `    policy: { ${policy} }\n`}`;
  it.each([
    ['catchup_window "0"', sched('@daily', 'catchup_window: "0"'), 'schedules[0].policy.catchup_window', 4, 'must be at least 10s'],
    ['catchup_window 9s', sched('@daily', 'catchup_window: 9s'), 'schedules[0].policy.catchup_window', 4, 'treats a shorter one (including "0") as 10s'],
    ['catchup_window "0" in defaults', sched('@daily', '', 'defaults:\n  catchup_window: "0"\n'), 'defaults.catchup_window', 2, 'must be at least 10s'],
    ['jitter 2d on @hourly', sched('@hourly', 'jitter: 2d'), 'schedules[0].policy.jitter', 4, 'policy.jitter 2d is longer than the shortest gap between two runs of "@hourly" (1h)'],
    ['defaults.jitter 2h on @hourly', sched('@hourly', '', 'defaults:\n  jitter: 2h\n'), 'schedules[0].policy', 4, 'defaults.jitter 2h is longer'],
    ['the default 5m jitter on an every-minute cron', sched('* * * * *', ''), 'schedules[0].policy', 2, 'the default jitter 5m is longer than the shortest gap between two runs of "* * * * *" (1m)'],
  ])('refuses %s', (_title, text, field, line, message) => {
    const issues = issuesOf(text);
    expect(issues).toEqual([expect.objectContaining({ field, line, message: expect.stringContaining(message) as unknown })]);
  });

  it.each([
    ['catchup_window 10s', sched('@daily', 'catchup_window: 10s'), { catchupWindowMs: 10_000 }],
    ['jitter equal to the interval', sched('*/5 * * * *', 'jitter: 5m'), { jitterMs: 300_000 }],
    ['jitter "0"', sched('* * * * *', 'jitter: "0"'), { jitterMs: 0 }],
  ])('accepts %s', (_title, text, policy) => {
    expect(parseScheduleFile(text)[0]?.policy).toEqual({ ...DEFAULT_POLICY, ...policy });
  });
});

describe('checkScheduleFile: the directory id check, placed on the filter that set the field (review13 #2)', () => {
  const refuse = (path: string, message: string) => async () => {
    throw new FieldError(path, message);
  };
  it.each([
    ['a shortcut filter', withFilters('has_rte_enabled: true', 'sponsor_ids: [S1, ACME_CROP]'), 'member_query.sponsor_ids[1]', 'schedules[0].filters[1].sponsor_ids[1]', 6],
    ['member_query', withFilters('member_query: { demographicsFilter: { states: [XX] } }'), 'member_query.demographics_filter.states[0]', 'schedules[0].filters[0].member_query.demographics_filter.states[0]', 5],
  ])('refuses an unknown id from %s naming the field and index', async (_title, text, path, field, line) => {
    const err = await checkScheduleFile(text, 'f.yaml', refuse(path, 'unknown sponsor id "ACME_CROP"')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScheduleFileError);
    expect((err as ScheduleFileError).issues).toEqual([expect.objectContaining({ field, line, message: 'unknown sponsor id "ACME_CROP"' })]);
    expect((err as ScheduleFileError).message).toContain(`f.yaml:${line}:`);
  });

  it('does not ask the directory about a file that is already malformed', async () => {
    const check = jest.fn(async () => undefined);
    await expect(checkScheduleFile(withFilters('app_usage_probability: "> 0"'), 'f.yaml', check)).rejects.toBeInstanceOf(ScheduleFileError);
    expect(check).not.toHaveBeenCalled();
  });

  it('passes every schedule through the check and returns the definitions when it accepts', async () => {
    const check = jest.fn(async () => undefined);
    const text = readFileSync(path.join(__dirname, 'member-cron-schedules.yaml'), 'utf8');
    expect((await checkScheduleFile(text, 'f.yaml', check)).map((d) => d.name)).toEqual(['daily-rte-warmup', 'weekly-bulk-refresh', 'monthly-full-sync']);
    expect(check).toHaveBeenCalledTimes(3);
  });
});
