/**
 * Constants that define what MemberQuery filters mean (see docs/member-query-semantics.md). Shared by
 * the SQL compiler and the reference evaluator so both implement the same documented semantics.
 */
import { EVENT_TYPE_BY_NAME } from '../catalog';

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

/** Inclusive age bounds in whole years; MEDICARE_AGE has no upper bound. */
export const AGE_GROUPS: Record<string, readonly [number, number | null]> = {
  PEDIATRIC: [0, 17],
  YOUNG_ADULT: [18, 34],
  MIDDLE_AGE: [35, 54],
  SENIOR: [55, 64],
  MEDICARE_AGE: [65, null],
};

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;
export const MAX_LIST_LENGTH = 10_000;

/** has_recent_claims without claims_after looks back this far. */
export const RECENT_CLAIMS_LOOKBACK_MS = 90 * DAY_MS;
/** A session counts as active for this long after APP_SESSION_STARTED. */
export const SESSION_ACTIVE_MS = 30 * 60_000;
/** has_recent_life_event / life_event_types look back this far (the special-enrollment window). */
export const RECENT_LIFE_EVENT_MS = 60 * DAY_MS;
/** Trend comparison window when the filter has no lower time bound. */
export const DEFAULT_TREND_WINDOW_MS = 14 * DAY_MS;
/** Regular pattern: active in each of the last N weeks and on at least M distinct UTC days. */
export const REGULAR_PATTERN_WEEKS = 4;
export const REGULAR_PATTERN_MIN_DAYS = 8;

function ids(...shortNames: string[]): number[] {
  return shortNames.map((s) => {
    const def = [...EVENT_TYPE_BY_NAME.values()].find((e) => e.type.endsWith(`.${s}`));
    if (!def) throw new Error(`unknown event type ${s}`);
    return def.id;
  });
}

/** RecentEventFilter boolean flags → the event types whose presence in the time window they test. */
export const EVENT_FLAG_TYPES = {
  hasSignedInRecently: ids('SIGNIN'),
  hasEnrolledRecently: ids('ENROLLMENT_COMPLETED'),
  hasCoverageChange: ids('COVERAGE_CHANGED'),
  hasAppSession: ids('APP_SESSION_STARTED'),
  hasViewedHomepage: ids('HOMEPAGE_VIEWED'),
  hasSentMessage: ids('MESSAGE_SENT'),
  hasReceivedMessage: ids('MESSAGE_RECEIVED'),
  hasOpenedNotification: ids('NOTIFICATION_OPENED'),
  hasBookedAppointment: ids('APPOINTMENT_BOOKED'),
  hasCancelledAppointment: ids('APPOINTMENT_CANCELLED'),
  hasSearchedProvider: ids('PROVIDER_SEARCHED'),
  hasProgramEnrollment: ids('PROGRAM_ENROLLED'),
  hasServiceDelivery: ids('SERVICE_DELIVERY_COMPLETED'),
  hasCareGapActivity: ids('CARE_GAP_OPENED', 'CARE_GAP_CLOSED'),
  hasLabResult: ids('LAB_RESULT_RECEIVED'),
  hasPrescriptionFilled: ids('PRESCRIPTION_FILLED'),
  hasClaimProcessed: ids('CLAIM_PROCESSED'),
  hasEligibilityCheck: ids('ELIGIBILITY_CHECKED', 'ELIGIBILITY_CHECK_FAILED'),
  hadEligibilityError: ids('ELIGIBILITY_CHECK_FAILED'),
} as const;
export type EventFlagName = keyof typeof EVENT_FLAG_TYPES;
export const EVENT_FLAG_NAMES = Object.keys(EVENT_FLAG_TYPES) as EventFlagName[];

export const FEATURE_USED_TYPE_ID = ids('FEATURE_USED')[0] as number;
export const APP_SESSION_TYPE_ID = ids('APP_SESSION_STARTED')[0] as number;

/** Integer YYYYMMDD of a UTC instant or a 'YYYY-MM-DD' date. */
export function ymd(value: Date | string): number {
  const s = typeof value === 'string' ? value : value.toISOString().slice(0, 10);
  return Number(s.slice(0, 4)) * 10000 + Number(s.slice(5, 7)) * 100 + Number(s.slice(8, 10));
}

export function utcDateString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Whole years between a date of birth and a day, by the YYYYMMDD difference (Feb 29 birthdays age on Mar 1). */
export function ageOn(dateOfBirth: string, on: Date): number {
  return Math.floor((ymd(on) - ymd(dateOfBirth)) / 10000);
}

/**
 * Latest date of birth with age >= `years` on `on`, as 'YYYY-MM-DD' (a day that does not exist, such as
 * Feb 29 in a common year, rolls back to the last real day before it).
 */
export function latestBirthDateForAge(on: Date, years: number): string {
  const n = ymd(on) - years * 10000;
  let y = Math.floor(n / 10000);
  let mo = Math.floor((n % 10000) / 100);
  let d = n % 100;
  if (y < 1) {
    y = 1;
    mo = 1;
    d = 1;
  }
  for (;;) {
    const t = Date.UTC(y, mo - 1, d);
    const back = new Date(t);
    if (back.getUTCDate() === d && back.getUTCMonth() === mo - 1) break;
    d--;
  }
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}
