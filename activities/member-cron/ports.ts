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

/**
 * `claimed`: lease taken (or still held) with this token; `emitted-by-token`: already emitted by an earlier
 * attempt holding the same token (the same shard activity before a retry); `dead-lettered-by-token`: sent
 * to the dead-letter topic by an earlier attempt with the same token; `done`: emitted by another run of
 * the tick; `busy`: leased by another run right now. An event another run dead-lettered is claimable.
 */
export type ClaimOutcome = 'claimed' | 'emitted-by-token' | 'dead-lettered-by-token' | 'done' | 'busy';

/**
 * Per-event emission markers (Redis SET NX with TTL): a rerun of the same schedule tick skips members
 * already emitted. `claim` takes a short lease so two concurrent runs cannot both publish one event;
 * `markDone` turns the leases into long-lived "emitted" markers after the broker acknowledged. The
 * marker remembers the token that emitted it, so a retry after a crash counts its own earlier emissions
 * as emitted, not as duplicates (heartbeat details are throttled by the SDK and may be stale).
 */
export interface EmissionLedger {
  claim(eventIds: readonly string[], token: string): Promise<ClaimOutcome[]>;
  markDone(eventIds: readonly string[], token: string): Promise<void>;
  /**
   * Marks events written to the dead-letter topic by `token`: a retry of the same activity counts them as
   * dead-lettered instead of sending (and counting) them again; another run of the tick may claim them.
   */
  markDeadLettered(eventIds: readonly string[], token: string): Promise<void>;
  /** Gives back leases (only those still held with `token`) so a retry can claim them again. */
  release(eventIds: readonly string[], token: string): Promise<void>;
}
