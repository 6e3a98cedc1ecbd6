import type { CalendarSpec, DayOfWeek, Month, Range, ScheduleSpec } from '@temporalio/client';

/**
 * Cron expressions for member-cron schedules: the `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`
 * shortcuts and classic five-field expressions (minute hour day-of-month month day-of-week), always UTC.
 *
 * We compile to Temporal's structured `calendars` rather than passing the string through as
 * `cronExpressions`: validation happens here with errors that name the field, the result is what
 * `describe()` reports back, and we control one semantic difference explicitly. Classic cron ORs
 * day-of-month and day-of-week when both are restricted ("0 0 1 * MON" = the 1st *or* any Monday); a
 * Temporal CalendarSpec ANDs every field. So that case compiles to two calendars whose union is the
 * classic meaning.
 */

export const MONTH_NAMES: readonly Month[] = [
  'JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER',
];
export const DAY_NAMES: readonly DayOfWeek[] = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

export const CRON_SHORTCUTS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

export class CronError extends Error {
  constructor(
    readonly expression: string,
    /** Which part was wrong: 'expression', 'minute', 'hour', 'day-of-month', 'month' or 'day-of-week'. */
    readonly field: string,
    readonly detail: string,
  ) {
    super(`invalid cron expression '${expression}': ${field === 'expression' ? '' : `${field}: `}${detail}`);
    this.name = 'CronError';
  }
}

interface FieldDef {
  name: 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';
  min: number;
  max: number;
  names?: readonly string[];
  /** First numeric value of `names[0]` (JAN = 1, SUN = 0). */
  nameBase?: number;
}

const FIELDS: readonly FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'], nameBase: 1 },
  // 7 is accepted as a second spelling of Sunday (as in Vixie cron) and folded to 0.
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], nameBase: 0 },
];

/** A parsed expression: the set of matching values per field (sorted, deduplicated). */
export interface ParsedCron {
  /** The expression as written (trimmed). */
  expression: string;
  /** The five-field form (shortcuts expanded). */
  fiveField: string;
  minutes: number[];
  hours: number[];
  daysOfMonth: number[];
  months: number[];
  /** 0 = Sunday. */
  daysOfWeek: number[];
  /** The field was written as `*` (or `*` with step 1): unrestricted, which matters for the DOM/DOW rule. */
  domRestricted: boolean;
  dowRestricted: boolean;
}

function parseValue(raw: string, def: FieldDef, expression: string): number {
  const upper = raw.toUpperCase();
  if (def.names) {
    const idx = def.names.indexOf(upper);
    if (idx >= 0) return idx + (def.nameBase ?? 0);
  }
  if (!/^\d+$/.test(raw)) {
    const hint = def.names ? ` (numbers ${def.min}-${def.max} or names ${def.names.join(',')})` : ` (numbers ${def.min}-${def.max})`;
    throw new CronError(expression, def.name, `'${raw}' is not a valid value${hint}`);
  }
  const n = Number(raw);
  if (n < def.min || n > def.max) throw new CronError(expression, def.name, `${n} is out of range ${def.min}-${def.max}`);
  return n;
}

function parseField(text: string, def: FieldDef, expression: string): { values: number[]; restricted: boolean } {
  const values = new Set<number>();
  let restricted = true;
  for (const part of text.split(',')) {
    if (part === '') throw new CronError(expression, def.name, 'empty list element');
    const [rangePart, stepPart, extra] = part.split('/');
    if (extra !== undefined || rangePart === undefined || rangePart === '') {
      throw new CronError(expression, def.name, `'${part}' is malformed`);
    }
    let step = 1;
    if (stepPart !== undefined) {
      if (!/^\d+$/.test(stepPart) || Number(stepPart) === 0) throw new CronError(expression, def.name, `step '${stepPart}' must be a positive integer`);
      step = Number(stepPart);
    }
    let lo: number;
    let hi: number;
    if (rangePart === '*') {
      lo = def.min;
      hi = def.name === 'day-of-week' ? 6 : def.max;
      if (step === 1 && text.split(',').length === 1) restricted = false;
    } else if (rangePart.includes('-')) {
      const [a, b, more] = rangePart.split('-');
      if (more !== undefined || !a || !b) throw new CronError(expression, def.name, `range '${rangePart}' is malformed`);
      lo = parseValue(a, def, expression);
      hi = parseValue(b, def, expression);
      if (lo > hi) throw new CronError(expression, def.name, `range '${rangePart}' runs backwards`);
    } else {
      lo = parseValue(rangePart, def, expression);
      // "5/15" means "from 5 to the end in steps of 15".
      hi = stepPart !== undefined ? (def.name === 'day-of-week' ? 6 : def.max) : lo;
    }
    for (let v = lo; v <= hi; v += step) values.add(def.name === 'day-of-week' && v === 7 ? 0 : v);
  }
  return { values: [...values].sort((a, b) => a - b), restricted };
}

/** Parses a shortcut or five-field UTC cron expression; throws `CronError` naming the bad field. */
export function parseCron(input: string): ParsedCron {
  const expression = input.trim();
  if (expression === '') throw new CronError(input, 'expression', 'is empty');
  let fiveField = expression;
  if (expression.startsWith('@')) {
    const expanded = CRON_SHORTCUTS[expression.toLowerCase()];
    if (!expanded) {
      throw new CronError(expression, 'expression', `unknown shortcut (use one of ${Object.keys(CRON_SHORTCUTS).join(', ')})`);
    }
    fiveField = expanded;
  }
  const parts = fiveField.split(/\s+/);
  if (parts.length !== 5) {
    throw new CronError(
      expression,
      'expression',
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}` +
        (parts.length === 6 ? '; seconds and years are not supported' : ''),
    );
  }
  const [minute, hour, dom, month, dow] = FIELDS.map((def, i) => parseField(parts[i] ?? '', def, expression)) as [
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
    ReturnType<typeof parseField>,
  ];
  // A day of month that no selected month has (e.g. "0 0 31 2 *") would never fire.
  if (dom.restricted && !dow.restricted) {
    const maxDays = Math.max(...month.values.map((m) => [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 31));
    if (dom.values.every((d) => d > maxDays)) {
      throw new CronError(expression, 'day-of-month', `no selected month has day ${dom.values.join(',')}; the schedule would never run`);
    }
  }
  return {
    expression,
    fiveField,
    minutes: minute.values,
    hours: hour.values,
    daysOfMonth: dom.values,
    months: month.values,
    daysOfWeek: dow.values,
    domRestricted: dom.restricted,
    dowRestricted: dow.restricted,
  };
}

/** Compresses sorted values into Temporal ranges (runs of consecutive values become one range). */
function toRanges<T>(values: readonly number[], map: (n: number) => T): Range<T>[] {
  const out: Range<T>[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] ?? NaN) === (values[j] ?? NaN) + 1) j++;
    out.push({ start: map(values[i] ?? 0), end: map(values[j] ?? 0), step: 1 });
    i = j + 1;
  }
  return out;
}

const identity = (n: number): number => n;
const monthName = (n: number): Month => MONTH_NAMES[n - 1] ?? 'JANUARY';
const dayName = (n: number): DayOfWeek => DAY_NAMES[n] ?? 'SUNDAY';

/** Temporal calendars equivalent to the parsed expression (one, or two for the classic DOM-or-DOW rule). */
export function toCalendars(parsed: ParsedCron): CalendarSpec[] {
  const base: CalendarSpec = {
    second: 0,
    minute: toRanges(parsed.minutes, identity),
    hour: toRanges(parsed.hours, identity),
    month: parsed.months.length === 12 ? '*' : toRanges(parsed.months, monthName),
    comment: parsed.expression,
  };
  const dom = toRanges(parsed.daysOfMonth, identity);
  const dow = toRanges(parsed.daysOfWeek, dayName);
  if (parsed.domRestricted && parsed.dowRestricted) {
    return [
      { ...base, dayOfMonth: dom, dayOfWeek: '*' },
      { ...base, dayOfMonth: '*', dayOfWeek: dow },
    ];
  }
  return [{ ...base, dayOfMonth: parsed.domRestricted ? dom : '*', dayOfWeek: parsed.dowRestricted ? dow : '*' }];
}

export interface ScheduleSpecOptions {
  /** Random delay added to each action time, spreading load when many schedules share a minute. */
  jitterMs?: number;
}

/** A Temporal `ScheduleSpec` for the expression, always in UTC. */
export function cronToScheduleSpec(expression: string, opts: ScheduleSpecOptions = {}): ScheduleSpec {
  const spec: ScheduleSpec = { calendars: toCalendars(parseCron(expression)), timezone: 'UTC' };
  if (opts.jitterMs !== undefined && opts.jitterMs > 0) spec.jitter = opts.jitterMs;
  return spec;
}

/** True if the UTC minute containing `at` is a firing time of the expression (classic cron semantics). */
export function cronMatches(parsed: ParsedCron, at: Date): boolean {
  if (!parsed.minutes.includes(at.getUTCMinutes())) return false;
  if (!parsed.hours.includes(at.getUTCHours())) return false;
  return dayMatches(parsed, at);
}

/** True if the UTC day containing `at` is a firing day (month, and the classic DOM-or-DOW rule). */
function dayMatches(parsed: ParsedCron, at: Date): boolean {
  if (!parsed.months.includes(at.getUTCMonth() + 1)) return false;
  const domOk = parsed.daysOfMonth.includes(at.getUTCDate());
  const dowOk = parsed.daysOfWeek.includes(at.getUTCDay());
  if (parsed.domRestricted && parsed.dowRestricted) return domOk || dowOk;
  return domOk && dowOk;
}

/** The next `count` firing times strictly after `after` (minute resolution), for docs, dry runs and tests. */
export function nextCronTimes(parsed: ParsedCron, after: Date, count = 1): Date[] {
  const out: Date[] = [];
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  // Five years of minutes bounds the search; parseCron already rejects expressions that never fire.
  const limit = t + 5 * 366 * 86_400_000;
  while (out.length < count && t < limit) {
    const d = new Date(t);
    if (cronMatches(parsed, d)) {
      out.push(d);
      t += 60_000;
    } else if (!parsed.hours.includes(d.getUTCHours()) || !parsed.months.includes(d.getUTCMonth() + 1)) {
      t = Math.floor(t / 3_600_000) * 3_600_000 + 3_600_000; // skip to next hour
    } else {
      t += 60_000;
    }
  }
  return out;
}

/**
 * The shortest time between two consecutive firings, in ms. Temporal limits each action's jitter to the time until
 * the next nominal action, so a schedule file's jitter above this value is not what runs. Hours and minutes do
 * not depend on the day, so the firings are (firing days) x (times of day): the shortest gap is either two times
 * on one day or the last time of a firing day to the first time of the next one. Eight years of days (from a
 * leap year) cover every day-of-month, day-of-week and February-29 combination.
 */
export function shortestCronGapMs(parsed: ParsedCron): number {
  const times = parsed.hours.flatMap((h) => parsed.minutes.map((m) => h * 60 + m));
  const first = times[0] ?? 0;
  const last = times.at(-1) ?? 0;
  let best = Number.POSITIVE_INFINITY;
  for (let k = 1; k < times.length; k++) best = Math.min(best, times[k]! - times[k - 1]!);
  const start = Date.UTC(2028, 0, 1);
  let previous: number | undefined;
  for (let day = 0; day < 8 * 366; day++) {
    if (!dayMatches(parsed, new Date(start + day * 86_400_000))) continue;
    if (previous !== undefined) best = Math.min(best, (day - previous) * 1440 + first - last);
    previous = day;
  }
  return best * 60_000;
}
