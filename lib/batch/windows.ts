import { intFromSeed } from './rng';
import type { WindowName } from './types';

/**
 * Scheduling windows (design doc, "Load Spreading and Scheduling Windows"), computed in each member's IANA time
 * zone with `Intl.DateTimeFormat` (so DST is handled by the platform's tz data), with even spreading across the
 * window plus seeded ±5 min jitter. Pure: `now` and the seed are parameters. Bundle-safe (Intl only).
 *
 * | window          | local hours           | starts at (when outside the window)  | spread            |
 * |-----------------|-----------------------|--------------------------------------|-------------------|
 * | BUSINESS_HOURS  | 9–17, Mon–Fri         | 09:00 next business day              | 60 min            |
 * | MORNING         | 6–10                  | 06:00 (today if before 6, else tmrw) | 60 min (6–7 AM)   |
 * | EVENING         | 17–22                 | 17:00 (today if before 17, else tmrw)| 60 min            |
 * | LOW_UTILIZATION | 1–5                   | 02:00 (deepest off-peak)             | 120 min (2–4 AM)  |
 *
 * Inside the window a batch starts now and spreads over min(spread, time left in the window) (the doc spreads a
 * batch already inside business hours over the next 2 hours; we use that spread for BUSINESS_HOURS). Where the
 * doc always defers MORNING/EVENING/LOW_UTILIZATION to "tomorrow", we use the next occurrence, and start now
 * when already inside it: same load profile, no needless 24 h delay.
 *
 * ANY follows the doc's load rule: load < 0.3 → now; < 0.7 → now + 30–60 min; else the LOW_UTILIZATION window.
 * OPTIMAL_MEMBER_ENGAGEMENT: predicted engagement time − (60..120) min when the prediction's confidence is ≥ 0.7;
 * otherwise the doc's fallback: active care journey → MORNING, upcoming appointment → appointment − 2 h, else
 * LOW_UTILIZATION.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const JITTER_MS = 5 * MINUTE_MS;
export const DEFAULT_TIME_ZONE = 'America/New_York';
export const OPTIMAL_MIN_CONFIDENCE = 0.7;
/** Batches above this are spread over several windows (doc: "> 50k members"). */
export const MULTI_WINDOW_THRESHOLD = 50_000;
export const MULTI_WINDOW_CHUNK = 10_000;
export const MULTI_WINDOW_ROTATION: readonly WindowName[] = ['LOW_UTILIZATION', 'MORNING', 'EVENING'];

interface HourWindow {
  startHour: number;
  endHour: number;
  anchorHour: number;
  spreadMs: number;
  weekdaysOnly: boolean;
}

export const HOUR_WINDOWS: Readonly<Record<'BUSINESS_HOURS' | 'MORNING' | 'EVENING' | 'LOW_UTILIZATION', HourWindow>> = {
  BUSINESS_HOURS: { startHour: 9, endHour: 17, anchorHour: 9, spreadMs: 60 * MINUTE_MS, weekdaysOnly: true },
  MORNING: { startHour: 6, endHour: 10, anchorHour: 6, spreadMs: 60 * MINUTE_MS, weekdaysOnly: false },
  EVENING: { startHour: 17, endHour: 22, anchorHour: 17, spreadMs: 60 * MINUTE_MS, weekdaysOnly: false },
  LOW_UTILIZATION: { startHour: 1, endHour: 5, anchorHour: 2, spreadMs: 120 * MINUTE_MS, weekdaysOnly: false },
};
/** Spread used when a BUSINESS_HOURS batch is already inside business hours (doc: "next 2 hours"). */
const BUSINESS_INSIDE_SPREAD_MS = 120 * MINUTE_MS;

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string | undefined | null): timeZone is string {
  if (!timeZone) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock parts of `ms` in `timeZone`. */
export function localParts(ms: number, timeZone: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    year: Number(parts['year']),
    month: Number(parts['month']),
    day: Number(parts['day']),
    hour: Number(parts['hour']) % 24,
    minute: Number(parts['minute']),
    weekday: WEEKDAYS[parts['weekday'] ?? ''] ?? 0,
  };
}

function offsetMs(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  return asUtc - Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/**
 * The instant when the wall clock in `timeZone` shows y-m-d h:min. For a wall time skipped by a DST jump the
 * result is the instant after the jump; for a repeated wall time, the first occurrence.
 */
export function zonedTimeToUtc(timeZone: string, year: number, month: number, day: number, hour: number, minute = 0): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wall - offsetMs(wall, timeZone);
  // Two refinements settle any offset change between the guess and the answer.
  for (let i = 0; i < 2; i++) guess = wall - offsetMs(guess, timeZone);
  const earlier = wall - offsetMs(guess - HOUR_MS, timeZone);
  if (earlier < guess && localParts(earlier, timeZone).hour === hour) return earlier;
  return guess;
}

function addDays(p: { year: number; month: number; day: number }, n: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + n));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function weekdayOf(p: { year: number; month: number; day: number }): number {
  return new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay();
}

export interface WindowSlot {
  /** When spreading starts (epoch ms). */
  startMs: number;
  /** Length of the interval members are spread over. */
  spreadMs: number;
}

/** Start and spread of an hour-based window for a member in `timeZone`, as seen at `nowMs`. */
export function hourWindowSlot(window: keyof typeof HOUR_WINDOWS, nowMs: number, timeZone: string): WindowSlot {
  const w = HOUR_WINDOWS[window];
  const local = localParts(nowMs, timeZone);
  const businessDay = (wd: number) => !w.weekdaysOnly || (wd >= 1 && wd <= 5);
  if (local.hour >= w.startHour && local.hour < w.endHour && businessDay(local.weekday)) {
    const end = zonedTimeToUtc(timeZone, local.year, local.month, local.day, w.endHour);
    const spread = window === 'BUSINESS_HOURS' ? BUSINESS_INSIDE_SPREAD_MS : w.spreadMs;
    return { startMs: nowMs, spreadMs: Math.max(0, Math.min(spread, end - nowMs - JITTER_MS)) };
  }
  let day = { year: local.year, month: local.month, day: local.day };
  if (local.hour >= w.anchorHour) day = addDays(day, 1);
  while (!businessDay(weekdayOf(day))) day = addDays(day, 1);
  return { startMs: zonedTimeToUtc(timeZone, day.year, day.month, day.day, w.anchorHour), spreadMs: w.spreadMs };
}

/** Per-member engagement prediction (from the member directory's activity data). */
export interface EngagementHint {
  predictedAtMs?: number;
  confidence?: number;
  inActiveCareJourney?: boolean;
  upcomingAppointmentAtMs?: number;
}

export interface ScheduleInput {
  window: WindowName;
  nowMs: number;
  timeZone?: string | null;
  /** Seed for jitter, e.g. the batch id. */
  seed: string;
  /** Member's position in the group being spread (0-based) and the group's size. */
  position: number;
  groupSize: number;
  /** Real-time slot utilisation 0..1, for ANY. */
  load?: number;
  engagement?: EngagementHint;
}

export interface ScheduleResult {
  atMs: number;
  /** The window that actually decided (OPTIMAL_MEMBER_ENGAGEMENT fallbacks and ANY under load report theirs). */
  effectiveWindow: WindowName;
}

function spreadWithin(slot: WindowSlot, input: ScheduleInput): number {
  const size = Math.max(1, input.groupSize);
  const offset = Math.floor((Math.min(input.position, size - 1) * slot.spreadMs) / size);
  const jitter = intFromSeed(input.seed, input.position, -JITTER_MS, JITTER_MS);
  const latest = slot.startMs + slot.spreadMs;
  return Math.min(latest, Math.max(slot.startMs, slot.startMs + offset + jitter));
}

/**
 * ANY's load rule in bands: 0 = start now (load < 0.3), 1 = 30–60 min later (< 0.7), 2 = the LOW_UTILIZATION window.
 * A batch deferred by load re-checks it and re-plans when the band drops (workflows/batch-run.ts).
 */
export function anyWindowLoadBand(load: number): 0 | 1 | 2 {
  return load < 0.3 ? 0 : load < 0.7 ? 1 : 2;
}

/** When one member of a batch should be checked. Never earlier than `nowMs`. */
export function scheduleMember(input: ScheduleInput): ScheduleResult {
  const tz = isValidTimeZone(input.timeZone) ? input.timeZone : DEFAULT_TIME_ZONE;
  const now = input.nowMs;
  const clamp = (ms: number) => Math.max(now, Math.round(ms));
  switch (input.window) {
    case 'ANY': {
      const band = anyWindowLoadBand(input.load ?? 0);
      if (band === 0) return { atMs: now, effectiveWindow: 'ANY' };
      if (band === 1) {
        // One delay per batch (seeded by the batch, not the member): the batch moves as a whole.
        const delayMin = intFromSeed(input.seed, -1, 30, 60);
        return { atMs: now + delayMin * MINUTE_MS, effectiveWindow: 'ANY' };
      }
      return { atMs: clamp(spreadWithin(hourWindowSlot('LOW_UTILIZATION', now, tz), input)), effectiveWindow: 'LOW_UTILIZATION' };
    }
    case 'BUSINESS_HOURS':
    case 'MORNING':
    case 'EVENING':
    case 'LOW_UTILIZATION':
      return { atMs: clamp(spreadWithin(hourWindowSlot(input.window, now, tz), input)), effectiveWindow: input.window };
    case 'OPTIMAL_MEMBER_ENGAGEMENT': {
      const e = input.engagement;
      if (e?.predictedAtMs !== undefined && (e.confidence ?? 0) >= OPTIMAL_MIN_CONFIDENCE) {
        const leadMin = intFromSeed(input.seed, input.position, 60, 120);
        return { atMs: clamp(e.predictedAtMs - leadMin * MINUTE_MS), effectiveWindow: 'OPTIMAL_MEMBER_ENGAGEMENT' };
      }
      if (e?.inActiveCareJourney) return scheduleMember({ ...input, window: 'MORNING', engagement: undefined });
      if (e?.upcomingAppointmentAtMs !== undefined) {
        return { atMs: clamp(e.upcomingAppointmentAtMs - 2 * HOUR_MS), effectiveWindow: 'OPTIMAL_MEMBER_ENGAGEMENT' };
      }
      return scheduleMember({ ...input, window: 'LOW_UTILIZATION', engagement: undefined });
    }
    default: {
      const never: never = input.window;
      throw new RangeError(`unknown scheduling window ${String(never)}`);
    }
  }
}

/**
 * When a planned page of members is due (planMembers): a real-time page when its first member is, a batch-API chunk
 * (one Stedi submission) when its median member is. `times` are the members' scheduleMember times, at least one.
 */
export function pageDueMs(times: readonly number[], mode: 'realtime' | 'batch'): number {
  const sorted = [...times].sort((a, b) => a - b);
  return mode === 'realtime' ? sorted[0]! : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * Window for the member at `memberIndex` of a batch of `total`: batches over 50,000 members whose client left the
 * window to the service (ANY) rotate 10,000-member chunks through LOW_UTILIZATION, MORNING, EVENING (doc,
 * "Multi-Window Distribution"); an explicit window is always honoured. Returns the window and the member's
 * position/size inside its spreading group.
 */
export function windowForMember(requested: WindowName, total: number, memberIndex: number): { window: WindowName; position: number; groupSize: number } {
  if (requested !== 'ANY' || total <= MULTI_WINDOW_THRESHOLD) return { window: requested, position: memberIndex, groupSize: total };
  const chunk = Math.floor(memberIndex / MULTI_WINDOW_CHUNK);
  const chunkStart = chunk * MULTI_WINDOW_CHUNK;
  return {
    window: MULTI_WINDOW_ROTATION[chunk % MULTI_WINDOW_ROTATION.length]!,
    position: memberIndex - chunkStart,
    groupSize: Math.min(MULTI_WINDOW_CHUNK, total - chunkStart),
  };
}
