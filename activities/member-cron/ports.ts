import type { LifecycleEvent } from '../../lib/prediction/types';

/** What an event's MemberContext needs about a member, beyond the directory's MemberSummary. */
export interface MemberSnapshot {
  memberId: string;
  sponsorId: string;
  populationIds: string[];
  rteEnabled: boolean;
  lastEligibilityCheckAt: Date | null;
  timeZone: string;
  nextAppointmentAt: Date | null;
}

export interface MemberContextSource {
  /** Bulk lookup; ids not found are absent from the map. */
  getMemberSnapshots(memberIds: readonly string[]): Promise<Map<string, MemberSnapshot>>;
}

/** Recent lifecycle events per member (prediction input). */
export interface MemberActivitySource {
  /** Events in [since, until) per member id (members without events may be absent). */
  getRecentEvents(memberIds: readonly string[], since: Date, until: Date): Promise<Map<string, LifecycleEvent[]>>;
}

export type ClaimOutcome = 'claimed' | 'done' | 'busy';

/**
 * Per-event emission markers (Redis SET NX with TTL): a rerun of the same schedule tick skips members
 * already emitted. `claim` takes a short lease so two concurrent runs cannot both publish one event;
 * `markDone` turns the leases into long-lived "emitted" markers after the broker acknowledged.
 */
export interface EmissionLedger {
  claim(eventIds: readonly string[], token: string): Promise<ClaimOutcome[]>;
  markDone(eventIds: readonly string[]): Promise<void>;
  /** Gives back leases (only those still held with `token`) so a retry can claim them again. */
  release(eventIds: readonly string[], token: string): Promise<void>;
}
