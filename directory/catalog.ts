/**
 * Static domain catalogs shared by the generator, the query compiler and the reference evaluator:
 * lifecycle event types, payers, geography. Changing an event type id changes stored data: append only.
 */

export interface EventTypeDef {
  id: number;
  type: string;
  category: string; // RecentEventFilter.EventCategory name
  source: string;
}

export const EVENT_TYPES: readonly EventTypeDef[] = [
  { id: 1, type: 'domain.authentication.v1.SIGNIN', category: 'AUTHENTICATION', source: 'auth-service' },
  { id: 2, type: 'domain.authentication.v1.SIGNOUT', category: 'AUTHENTICATION', source: 'auth-service' },
  { id: 3, type: 'domain.authentication.v1.SESSION_REFRESH', category: 'AUTHENTICATION', source: 'auth-service' },
  { id: 4, type: 'domain.accounts.v1.ACCOUNT_CREATED', category: 'ACCOUNT_LIFECYCLE', source: 'accounts' },
  { id: 5, type: 'domain.accounts.v1.ACCOUNT_UPDATED', category: 'ACCOUNT_LIFECYCLE', source: 'accounts' },
  { id: 6, type: 'domain.enrollment.v1.ENROLLMENT_COMPLETED', category: 'ENROLLMENT', source: 'member-sponsorship' },
  { id: 7, type: 'domain.enrollment.v1.COVERAGE_CHANGED', category: 'ENROLLMENT', source: 'coverage-server' },
  { id: 8, type: 'domain.engagement.v1.APP_SESSION_STARTED', category: 'ENGAGEMENT', source: 'mx-backend' },
  { id: 9, type: 'domain.engagement.v1.HOMEPAGE_VIEWED', category: 'ENGAGEMENT', source: 'mx-backend' },
  { id: 10, type: 'domain.engagement.v1.FEATURE_USED', category: 'ENGAGEMENT', source: 'mx-backend' },
  { id: 11, type: 'domain.scheduling.v1.APPOINTMENT_BOOKED', category: 'APPOINTMENTS', source: 'scheduling' },
  { id: 12, type: 'domain.scheduling.v1.APPOINTMENT_CANCELLED', category: 'APPOINTMENTS', source: 'scheduling' },
  { id: 13, type: 'domain.scheduling.v1.APPOINTMENT_COMPLETED', category: 'APPOINTMENTS', source: 'scheduling' },
  { id: 14, type: 'domain.messaging.v1.MESSAGE_SENT', category: 'MESSAGING', source: 'messaging' },
  { id: 15, type: 'domain.messaging.v1.MESSAGE_RECEIVED', category: 'MESSAGING', source: 'messaging' },
  { id: 16, type: 'domain.care.v1.PROGRAM_ENROLLED', category: 'CARE_PROGRAMS', source: 'care-programs' },
  { id: 17, type: 'domain.care.v1.SERVICE_DELIVERY_COMPLETED', category: 'CARE_PROGRAMS', source: 'care-programs' },
  { id: 18, type: 'domain.caregaps.v1.CARE_GAP_OPENED', category: 'CARE_GAPS', source: 'care-gap' },
  { id: 19, type: 'domain.caregaps.v1.CARE_GAP_CLOSED', category: 'CARE_GAPS', source: 'care-gap' },
  { id: 20, type: 'domain.clinical.v1.LAB_RESULT_RECEIVED', category: 'CLINICAL', source: 'labs' },
  { id: 21, type: 'domain.clinical.v1.PRESCRIPTION_FILLED', category: 'CLINICAL', source: 'pharmacy' },
  { id: 22, type: 'domain.clinical.v1.CLAIM_PROCESSED', category: 'CLINICAL', source: 'claims' },
  { id: 23, type: 'domain.search.v1.PROVIDER_SEARCHED', category: 'SEARCH', source: 'provider-search' },
  { id: 24, type: 'domain.search.v1.SEARCH_PERFORMED', category: 'SEARCH', source: 'provider-search' },
  { id: 25, type: 'domain.recommendations.v1.RECOMMENDATION_SHOWN', category: 'RECOMMENDATIONS', source: 'recommendations' },
  { id: 26, type: 'domain.payments.v1.PAYMENT_COMPLETED', category: 'PAYMENTS', source: 'payments' },
  { id: 27, type: 'domain.rte.v1.ELIGIBILITY_CHECKED', category: 'RTE', source: 'realtime-eligibility' },
  { id: 28, type: 'domain.rte.v1.ELIGIBILITY_CHECK_FAILED', category: 'RTE', source: 'realtime-eligibility' },
  { id: 29, type: 'domain.communications.v1.PUSH_SENT', category: 'COMMUNICATIONS', source: 'notifications' },
  { id: 30, type: 'domain.communications.v1.EMAIL_SENT', category: 'COMMUNICATIONS', source: 'notifications' },
  { id: 31, type: 'domain.communications.v1.NOTIFICATION_OPENED', category: 'COMMUNICATIONS', source: 'notifications' },
];

export const EVENT_TYPE_BY_NAME: ReadonlyMap<string, EventTypeDef> = new Map(EVENT_TYPES.map((e) => [e.type, e]));
export const EVENT_TYPE_BY_ID: ReadonlyMap<number, EventTypeDef> = new Map(EVENT_TYPES.map((e) => [e.id, e]));

/** Event type id by short name (the part after the last dot), for the generator. */
export function ev(short: string): number {
  const def = EVENT_TYPES.find((e) => e.type.endsWith(`.${short}`));
  if (!def) throw new Error(`unknown event type ${short}`);
  return def.id;
}

export interface PayerDef {
  id: string; // Stedi tradingPartnerServiceId
  name: string;
  kind: 'COMMERCIAL' | 'MEDICARE' | 'MEDICAID';
  /** Two-letter states where the payer sells; empty = national. */
  states: readonly string[];
}

// Ids for Aetna, UnitedHealthcare, Cigna, Humana and CMS match the Stedi test fixtures in
// reference/stedi-api.md; the regional ones are the commonly published ids for those payers.
export const PAYERS: readonly PayerDef[] = [
  { id: '60054', name: 'Aetna', kind: 'COMMERCIAL', states: [] },
  { id: '87726', name: 'UnitedHealthcare', kind: 'COMMERCIAL', states: [] },
  { id: '62308', name: 'Cigna', kind: 'COMMERCIAL', states: [] },
  { id: '61101', name: 'Humana', kind: 'MEDICARE', states: [] },
  { id: 'CMS', name: 'Medicare', kind: 'MEDICARE', states: [] },
  { id: '94135', name: 'Kaiser Permanente', kind: 'COMMERCIAL', states: ['CA'] },
  { id: '94036', name: 'Blue Shield of California', kind: 'COMMERCIAL', states: ['CA'] },
  { id: '84980', name: 'Blue Cross Blue Shield of Texas', kind: 'COMMERCIAL', states: ['TX'] },
  { id: '00611', name: 'Blue Cross Blue Shield', kind: 'COMMERCIAL', states: [] },
  { id: '38333', name: 'Molina Healthcare', kind: 'MEDICAID', states: [] },
];

export interface StateDef {
  code: string;
  weight: number;
  timeZone: string;
  spanishShare: number;
  cities: readonly (readonly [city: string, zipPrefix: string])[];
}

export const STATES: readonly StateDef[] = [
  { code: 'CA', weight: 16, timeZone: 'America/Los_Angeles', spanishShare: 0.28, cities: [['San Francisco', '941'], ['Oakland', '946'], ['San Jose', '951'], ['Los Angeles', '900'], ['San Diego', '921'], ['Sacramento', '958']] },
  { code: 'TX', weight: 12, timeZone: 'America/Chicago', spanishShare: 0.28, cities: [['Houston', '770'], ['Dallas', '752'], ['Austin', '787'], ['San Antonio', '782']] },
  { code: 'NY', weight: 9, timeZone: 'America/New_York', spanishShare: 0.12, cities: [['New York', '100'], ['Brooklyn', '112'], ['Buffalo', '142']] },
  { code: 'FL', weight: 9, timeZone: 'America/New_York', spanishShare: 0.2, cities: [['Miami', '331'], ['Orlando', '328'], ['Tampa', '336']] },
  { code: 'AZ', weight: 4, timeZone: 'America/Phoenix', spanishShare: 0.22, cities: [['Phoenix', '850'], ['Tucson', '857']] },
  { code: 'IL', weight: 6, timeZone: 'America/Chicago', spanishShare: 0.1, cities: [['Chicago', '606'], ['Springfield', '627']] },
  { code: 'PA', weight: 6, timeZone: 'America/New_York', spanishShare: 0.05, cities: [['Philadelphia', '191'], ['Pittsburgh', '152']] },
  { code: 'WA', weight: 4, timeZone: 'America/Los_Angeles', spanishShare: 0.07, cities: [['Seattle', '981'], ['Spokane', '992']] },
  { code: 'CO', weight: 3, timeZone: 'America/Denver', spanishShare: 0.1, cities: [['Denver', '802'], ['Boulder', '803']] },
  { code: 'GA', weight: 5, timeZone: 'America/New_York', spanishShare: 0.06, cities: [['Atlanta', '303'], ['Savannah', '314']] },
  { code: 'NC', weight: 5, timeZone: 'America/New_York', spanishShare: 0.06, cities: [['Charlotte', '282'], ['Raleigh', '276']] },
  { code: 'OH', weight: 5, timeZone: 'America/New_York', spanishShare: 0.03, cities: [['Columbus', '432'], ['Cleveland', '441']] },
  { code: 'MA', weight: 4, timeZone: 'America/New_York', spanishShare: 0.07, cities: [['Boston', '021'], ['Worcester', '016']] },
  { code: 'MI', weight: 4, timeZone: 'America/Detroit', spanishShare: 0.03, cities: [['Detroit', '482'], ['Grand Rapids', '495']] },
  { code: 'NJ', weight: 3, timeZone: 'America/New_York', spanishShare: 0.15, cities: [['Newark', '071'], ['Jersey City', '073']] },
  { code: 'HI', weight: 1, timeZone: 'Pacific/Honolulu', spanishShare: 0.02, cities: [['Honolulu', '968']] },
  { code: 'AK', weight: 1, timeZone: 'America/Anchorage', spanishShare: 0.02, cities: [['Anchorage', '995']] },
];

export const FIRST_NAMES_F = ['Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen', 'Lisa', 'Nancy', 'Sofia', 'Maria', 'Ana', 'Camila', 'Emily', 'Olivia', 'Emma', 'Ava', 'Mei', 'Aiko', 'Priya', 'Fatima', 'Grace', 'Chloe', 'Zoe', 'Lucia', 'Hannah', 'Nora'] as const;
export const FIRST_NAMES_M = ['James', 'Robert', 'John', 'Michael', 'David', 'William', 'Richard', 'Joseph', 'Thomas', 'Charles', 'Daniel', 'Matthew', 'Jose', 'Luis', 'Carlos', 'Juan', 'Wei', 'Hiroshi', 'Arjun', 'Omar', 'Ethan', 'Noah', 'Liam', 'Mason', 'Lucas', 'Mateo', 'Samuel', 'Henry', 'Owen', 'Leo'] as const;
export const LAST_NAMES = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Chen', 'Wang', 'Kim', 'Patel', 'Singh', 'Tanaka', 'Cohen', "O'Brien", 'Murphy', 'Kelly'] as const;

export const FEATURES = ['messaging', 'appointments', 'benefits_lookup', 'provider_search', 'care_plan', 'pharmacy', 'id_card', 'cost_estimator'] as const;
export const CHRONIC_CONDITIONS = ['DIABETES', 'HYPERTENSION', 'ASTHMA', 'COPD', 'HEART_DISEASE', 'DEPRESSION', 'OBESITY'] as const;
export const CARE_GAP_TYPES = ['HEDIS_COLORECTAL_SCREENING', 'A1C_MANAGEMENT', 'PHQ9_FOLLOWUP', 'MEDICATION_ADHERENCE', 'POST_VISIT_FOLLOWUP', 'LAB_ORDER_PENDING', 'BREAST_CANCER_SCREENING'] as const;
export const SERVICE_DELIVERY_TYPES = ['EMO', 'VPC_VISIT', 'LABS', 'THERAPY_SESSION', 'HEALTH_COACHING'] as const;
export const LIFE_EVENT_TYPES = ['BIRTH', 'MARRIAGE', 'JOB_CHANGE', 'MOVE', 'DIVORCE', 'RETIREMENT'] as const;
export const DEVICE_TYPES = ['apple_watch', 'fitbit', 'continuous_glucose_monitor', 'blood_pressure_cuff', 'smart_scale'] as const;
export const PROVIDER_TYPES = ['PCP', 'SPECIALIST', 'BH_THERAPIST', 'URGENT_CARE'] as const;
