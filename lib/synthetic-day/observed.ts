/**
 * What the platform can observe about a member at the reference time: the directory row's zone and
 * rte_enabled flag, the lifecycle events before the reference time and the next booked appointment. This is
 * all a warming policy (and the predictor behind it) gets; the latent truth stays in day.ts.
 */
import type { LifecycleEvent } from '../prediction/types';

export interface ObservedMember {
  /** 0-based index in the simulation (member_key - 1). */
  index: number;
  timeZone: string;
  rteEnabled: boolean;
  /** Lifecycle events before the reference time (short type names, as the predictor sees them). */
  events: readonly LifecycleEvent[];
  nextAppointmentAt: number | null;
}

/** The cache entry a member has at the reference time (check_eligibility), from the observed history. */
export interface StartEntry {
  outcome: 'none' | 'success' | 'error';
  fetchedAt: number;
}

/**
 * Starting cache state from the history, under the same read model as the day (one eligibility read when a
 * session opens, RTE-enabled members only): the last of APP_SESSION_STARTED (the read its session made),
 * ELIGIBILITY_CHECKED (success) and ELIGIBILITY_CHECK_FAILED (a cached payer error). Entries older than the
 * cache's 7-day retention are gone.
 */
export function startEntryFromHistory(events: readonly LifecycleEvent[], referenceTime: number, rteEnabled: boolean, retentionMs = 7 * 86_400_000): StartEntry {
  if (!rteEnabled) return { outcome: 'none', fetchedAt: 0 };
  let at = -Infinity;
  let outcome: StartEntry['outcome'] = 'none';
  for (const e of events) {
    if (e.at >= referenceTime || e.at < at) continue;
    if (e.type === 'APP_SESSION_STARTED' || e.type === 'ELIGIBILITY_CHECKED') {
      at = e.at;
      outcome = 'success';
    } else if (e.type === 'ELIGIBILITY_CHECK_FAILED') {
      at = e.at;
      outcome = 'error';
    }
  }
  if (outcome === 'none' || at < referenceTime - retentionMs) return { outcome: 'none', fetchedAt: 0 };
  return { outcome, fetchedAt: at };
}
