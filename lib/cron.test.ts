import { CronError, cronMatches, cronToScheduleSpec, nextCronTimes, parseCron, shortestCronGapMs, toCalendars } from './cron';

const iso = (d: Date): string => d.toISOString();

describe('parseCron: next firing times (UTC)', () => {
  const cases: [expr: string, after: string, expected: string[]][] = [
    ['@daily', '2024-11-15T10:30:00Z', ['2024-11-16T00:00:00.000Z', '2024-11-17T00:00:00.000Z']],
    ['@hourly', '2024-11-15T10:30:00Z', ['2024-11-15T11:00:00.000Z', '2024-11-15T12:00:00.000Z']],
    // 2024-11-15 is a Friday; @weekly is Sunday midnight.
    ['@weekly', '2024-11-15T10:30:00Z', ['2024-11-17T00:00:00.000Z', '2024-11-24T00:00:00.000Z']],
    ['@monthly', '2024-11-15T10:30:00Z', ['2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z']],
    ['0 2 * * *', '2024-11-15T02:00:00Z', ['2024-11-16T02:00:00.000Z']],
    ['0 2 * * 0', '2024-11-15T00:00:00Z', ['2024-11-17T02:00:00.000Z', '2024-11-24T02:00:00.000Z']],
    ['0 2 * * 7', '2024-11-15T00:00:00Z', ['2024-11-17T02:00:00.000Z']],
    ['0 2 * * SUN', '2024-11-15T00:00:00Z', ['2024-11-17T02:00:00.000Z']],
    ['*/15 9-10 * * MON-FRI', '2024-11-15T10:40:00Z', ['2024-11-15T10:45:00.000Z', '2024-11-18T09:00:00.000Z']],
    ['30 6 1,15 * *', '2024-11-15T07:00:00Z', ['2024-12-01T06:30:00.000Z', '2024-12-15T06:30:00.000Z']],
    ['0 0 29 2 *', '2024-03-01T00:00:00Z', ['2028-02-29T00:00:00.000Z']],
    ['0 12 * JAN,jul *', '2024-11-15T00:00:00Z', ['2025-01-01T12:00:00.000Z']],
    // Classic cron ORs day-of-month and day-of-week when both are restricted: the 1st, or any Monday.
    ['0 0 1 * MON', '2024-11-25T12:00:00Z', ['2024-12-01T00:00:00.000Z', '2024-12-02T00:00:00.000Z', '2024-12-09T00:00:00.000Z']],
    ['5/20 * * * *', '2024-11-15T10:00:00Z', ['2024-11-15T10:05:00.000Z', '2024-11-15T10:25:00.000Z', '2024-11-15T10:45:00.000Z']],
  ];
  it.each(cases)('%s after %s', (expr, after, expected) => {
    expect(nextCronTimes(parseCron(expr), new Date(after), expected.length).map(iso)).toEqual(expected);
  });
});

describe('parseCron: rejects malformed expressions naming the field', () => {
  const cases: [expr: string, field: string, messagePart: string][] = [
    ['', 'expression', 'is empty'],
    ['@fortnightly', 'expression', 'unknown shortcut'],
    ['0 2 * *', 'expression', 'expected 5 fields'],
    ['0 0 2 * * *', 'expression', 'seconds and years are not supported'],
    ['60 * * * *', 'minute', 'out of range 0-59'],
    ['0 24 * * *', 'hour', 'out of range 0-23'],
    ['0 0 0 * *', 'day-of-month', 'out of range 1-31'],
    ['0 0 * 13 *', 'month', 'out of range 1-12'],
    ['0 0 * * 8', 'day-of-week', 'out of range 0-7'],
    ['0 0 * * FUNDAY', 'day-of-week', "'FUNDAY' is not a valid value"],
    ['*/0 * * * *', 'minute', 'step'],
    ['0 5-2 * * *', 'hour', 'runs backwards'],
    ['0 0 1,,2 * *', 'day-of-month', 'empty list element'],
    ['0 0 31 2 *', 'day-of-month', 'would never run'],
    ['0 0 * * 1-', 'day-of-week', 'malformed'],
  ];
  it.each(cases)('%j → %s', (expr, field, messagePart) => {
    let caught: unknown;
    try {
      parseCron(expr);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CronError);
    expect((caught as CronError).field).toBe(field);
    expect((caught as CronError).message).toContain(messagePart);
  });
});

describe('cronToScheduleSpec', () => {
  it('compiles @daily to one UTC calendar at 00:00:00 every day', () => {
    expect(cronToScheduleSpec('@daily')).toEqual({
      timezone: 'UTC',
      calendars: [
        {
          second: 0,
          minute: [{ start: 0, end: 0, step: 1 }],
          hour: [{ start: 0, end: 0, step: 1 }],
          month: '*',
          dayOfMonth: '*',
          dayOfWeek: '*',
          comment: '@daily',
        },
      ],
    });
  });

  it('compiles Sunday 02:00 with named weekdays and sets jitter when asked', () => {
    const spec = cronToScheduleSpec('0 2 * * 0', { jitterMs: 60_000 });
    expect(spec.jitter).toBe(60_000);
    expect(spec.calendars).toHaveLength(1);
    expect(spec.calendars?.[0]?.dayOfWeek).toEqual([{ start: 'SUNDAY', end: 'SUNDAY', step: 1 }]);
    expect(spec.calendars?.[0]?.hour).toEqual([{ start: 2, end: 2, step: 1 }]);
  });

  it('turns a restricted day-of-month AND day-of-week into two calendars (classic OR semantics)', () => {
    const cals = toCalendars(parseCron('0 0 1 * MON'));
    expect(cals).toHaveLength(2);
    expect(cals[0]?.dayOfMonth).toEqual([{ start: 1, end: 1, step: 1 }]);
    expect(cals[0]?.dayOfWeek).toBe('*');
    expect(cals[1]?.dayOfMonth).toBe('*');
    expect(cals[1]?.dayOfWeek).toEqual([{ start: 'MONDAY', end: 'MONDAY', step: 1 }]);
  });

  it('compresses consecutive values into ranges', () => {
    const [cal] = toCalendars(parseCron('0,1,2,3,30 9-17 * * 1-5'));
    expect(cal?.minute).toEqual([
      { start: 0, end: 3, step: 1 },
      { start: 30, end: 30, step: 1 },
    ]);
    expect(cal?.dayOfWeek).toEqual([{ start: 'MONDAY', end: 'FRIDAY', step: 1 }]);
  });

  it('matches only the firing minute', () => {
    const p = parseCron('0 2 * * 0');
    expect(cronMatches(p, new Date('2024-11-17T02:00:00Z'))).toBe(true);
    expect(cronMatches(p, new Date('2024-11-17T02:01:00Z'))).toBe(false);
    expect(cronMatches(p, new Date('2024-11-18T02:00:00Z'))).toBe(false);
  });
});

describe('shortestCronGapMs: the least time between two firings (Temporal caps jitter at the time to the next one)', () => {
  const MIN = 60_000;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;
  it.each([
    ['* * * * *', MIN],
    ['*/5 * * * *', 5 * MIN],
    ['@hourly', HOUR],
    ['0 9,17 * * *', 8 * HOUR],
    ['@daily', DAY],
    ['0 2 * * 0', 7 * DAY],
    ['0 0 1,2 * *', DAY],
    ['@monthly', 28 * DAY],
    ['0 0 31 * *', 31 * DAY],
    ['0 0 29 2 *', (366 + 365 + 365 + 365) * DAY],
    ['0 0 1 * MON', DAY],
    ['0 23 * * 1-5', DAY],
  ])('%s → %d ms', (expression, gap) => {
    expect(shortestCronGapMs(parseCron(expression))).toBe(gap);
  });
});
