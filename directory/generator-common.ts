/** The synthetic population's shared pieces: versions, row shapes, UTC time helpers, member ids (directory/generator.ts). */
import type { PayerDef, StateDef } from './catalog';
import type { Rng } from './prng';

export const GENERATOR_VERSION = 'directory-gen/2';
export const DEFAULT_REFERENCE_TIME = '2024-11-15T00:00:00.000Z';
export const HISTORY_DAYS = 90;

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export interface GeneratorOptions {
  seed: number;
  population: number;
  /** The instant the population is "as of"; all event times are before it. */
  referenceTime: Date;
}

export type Row = Record<string, unknown>;

export interface Catalog {
  payers: Row[];
  sponsors: Row[];
  populations: Row[];
  insurance_plans: Row[];
  benefit_predicates: Row[];
  benefit_contracts: Row[];
  sponsor_feature_options: Row[];
  feature_flags: Row[];
  feature_flag_targets: Row[];
  event_types: Row[];
}

export interface MemberChunk {
  families: Row[];
  members: Row[];
  coverages: Row[];
  member_engagement: Row[];
  member_care: Row[];
  member_health: Row[];
  member_life_events: Row[];
  member_events: Row[];
  member_activity_profile: Row[];
}

export type SponsorType = 'EMPLOYER' | 'MEDICARE_PLAN' | 'MEDICAID_PLAN' | 'MARKETPLACE';

export interface PlanInfo {
  planId: string;
  payer: PayerDef;
  planType: string;
  individualDeductible: number;
  hasPrescription: boolean;
  groupNumber: string;
  row: Row;
}

export interface SponsorInfo {
  id: string;
  type: SponsorType;
  weight: number;
  hqState: StateDef;
  vpcStates: string[];
  fileBased: boolean;
  plans: PlanInfo[];
  populations: { all: string; vpc: string; bh: string };
}

// ---------------------------------------------------------------------------------------------------
// Time helpers (all UTC; local time only through Intl with an explicit zone, so the host TZ is irrelevant)

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const dayPrefix = new Map<number, string>();
function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Same output as Date#toISOString for years 1000-9999, without its cost (called per event). */
export function iso(ms: number): string {
  const day = Math.floor(ms / DAY);
  let prefix = dayPrefix.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY).toISOString().slice(0, 11);
    dayPrefix.set(day, prefix);
  }
  let r = ms - day * DAY;
  const h = Math.floor(r / HOUR);
  r -= h * HOUR;
  const m = Math.floor(r / 60000);
  r -= m * 60000;
  const sec = Math.floor(r / 1000);
  const milli = r - sec * 1000;
  return `${prefix}${two(h)}:${two(m)}:${two(sec)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

const offsetCache = new Map<string, number>();
const dtfCache = new Map<string, Intl.DateTimeFormat>();

/** Minutes the zone is ahead of UTC on the UTC day containing `ms` (evaluated at 12:00 UTC). */
export function zoneOffsetMinutes(timeZone: string, ms: number): number {
  const day = Math.floor(ms / DAY);
  const key = `${timeZone}|${day}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  let dtf = dtfCache.get(timeZone);
  if (!dtf) {
    dtf = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    dtfCache.set(timeZone, dtf);
  }
  const probe = day * DAY + 12 * HOUR;
  const parts = Object.fromEntries(dtf.formatToParts(new Date(probe)).map((p) => [p.type, p.value]));
  const local = Date.UTC(Number(parts['year']), Number(parts['month']) - 1, Number(parts['day']), Number(parts['hour']), Number(parts['minute']));
  const offset = Math.round((local - probe) / 60000);
  offsetCache.set(key, offset);
  return offset;
}

export function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

export function digits(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(rng.int(0, 9));
  return s;
}

export function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export function memberIdOf(key: number): string {
  return `m_${pad(key, 7)}`;
}
