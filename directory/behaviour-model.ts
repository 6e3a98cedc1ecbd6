/**
 * The latent behaviour model members are drawn from: usage archetypes, the habitual daily-use segment, pre-appointment
 * visits, hour-of-day peaks and the event types sessions are made of (directory/generator.ts draws from it).
 */
import { ev } from './catalog';

// ---------------------------------------------------------------------------------------------------
// Members

export interface Person {
  age: number;
  sex: 'M' | 'F' | 'U';
  relationship: string | null; // null for the subscriber
}

export const ARCHETYPES = [
  ['power', 0.08, 0.35],
  ['weekly', 0.22, 0.1],
  ['monthly', 0.3, 0.03],
  ['rare', 0.2, 0.01],
  ['dormant', 0.2, 0],
] as const;

/**
 * Habitual daily users. Health-plan apps have a small segment that opens the app on most days: chronic
 * condition management (glucose / blood-pressure logging, care-team messages), pharmacy refills, and
 * caregivers. P(member is habitual) adds up the terms below (dormant members never are); a habitual
 * member is active on an average day with probability U(dailyMin, dailyMax), scaled by the member's
 * weekday shape through the daily hazard, at the member's usual hours, with a second session on
 * `secondSession` of those days. About 2-3 % of the population.
 */
export const HABIT = {
  base: 0.004,
  oneCondition: 0.015,
  twoPlusConditions: 0.07,
  threePlusPrescriptions: 0.04,
  caregiver: 0.03,
  dailyMin: 0.8,
  dailyMax: 0.97,
  secondSession: 0.2,
} as const;

/**
 * P(member opens the app before a booked, not cancelled visit), by archetype (habitual members:
 * `habitual`); the visit happens uniformly between 18 h and 30 min before the appointment.
 */
export const APPOINTMENT_VISIT = {
  byArchetype: { power: 0.9, weekly: 0.8, monthly: 0.7, new: 0.75, rare: 0.5, dormant: 0.15 } as Record<string, number>,
  habitual: 0.92,
  earliestBeforeMs: 18 * 3_600_000,
  latestBeforeMs: 30 * 60_000,
} as const;

export const PEAKS = [
  ['early', 7, 0.3],
  ['lunch', 12, 0.2],
  ['evening', 20, 0.35],
  ['night', 23, 0.15],
] as const;

export const E = {
  ACCOUNT_CREATED: ev('ACCOUNT_CREATED'),
  ACCOUNT_UPDATED: ev('ACCOUNT_UPDATED'),
  APPOINTMENT_BOOKED: ev('APPOINTMENT_BOOKED'),
  APPOINTMENT_CANCELLED: ev('APPOINTMENT_CANCELLED'),
  APPOINTMENT_COMPLETED: ev('APPOINTMENT_COMPLETED'),
  APP_SESSION_STARTED: ev('APP_SESSION_STARTED'),
  CARE_GAP_CLOSED: ev('CARE_GAP_CLOSED'),
  CARE_GAP_OPENED: ev('CARE_GAP_OPENED'),
  CLAIM_PROCESSED: ev('CLAIM_PROCESSED'),
  COVERAGE_CHANGED: ev('COVERAGE_CHANGED'),
  ELIGIBILITY_CHECKED: ev('ELIGIBILITY_CHECKED'),
  ELIGIBILITY_CHECK_FAILED: ev('ELIGIBILITY_CHECK_FAILED'),
  EMAIL_SENT: ev('EMAIL_SENT'),
  ENROLLMENT_COMPLETED: ev('ENROLLMENT_COMPLETED'),
  FEATURE_USED: ev('FEATURE_USED'),
  HOMEPAGE_VIEWED: ev('HOMEPAGE_VIEWED'),
  LAB_RESULT_RECEIVED: ev('LAB_RESULT_RECEIVED'),
  MESSAGE_RECEIVED: ev('MESSAGE_RECEIVED'),
  MESSAGE_SENT: ev('MESSAGE_SENT'),
  NOTIFICATION_OPENED: ev('NOTIFICATION_OPENED'),
  PAYMENT_COMPLETED: ev('PAYMENT_COMPLETED'),
  PRESCRIPTION_FILLED: ev('PRESCRIPTION_FILLED'),
  PROGRAM_ENROLLED: ev('PROGRAM_ENROLLED'),
  PROVIDER_SEARCHED: ev('PROVIDER_SEARCHED'),
  PUSH_SENT: ev('PUSH_SENT'),
  RECOMMENDATION_SHOWN: ev('RECOMMENDATION_SHOWN'),
  SEARCH_PERFORMED: ev('SEARCH_PERFORMED'),
  SERVICE_DELIVERY_COMPLETED: ev('SERVICE_DELIVERY_COMPLETED'),
  SESSION_REFRESH: ev('SESSION_REFRESH'),
  SIGNIN: ev('SIGNIN'),
  SIGNOUT: ev('SIGNOUT'),
} as const;

export const SESSION_EVENT_TYPES: ReadonlySet<number> = new Set([E.SIGNIN, E.SESSION_REFRESH, E.APP_SESSION_STARTED, E.HOMEPAGE_VIEWED, E.FEATURE_USED]);

export interface EventRow {
  t: number;
  type: number;
  feature: string | null;
}
