import type { ChunkMemberOutcome } from '../activities/eligibility/realtime-chunk';

/**
 * Chunks pay off only when members are quick (issue 14: the orchestration ceiling at low Stedi latency). A chunk keeps
 * its lanes until its slowest member answers but starts members only in its first seconds, so at real latency its
 * lanes idle behind the slowest member (the "chunk convoy": a 150-member batch took 1.66–1.78 × its ideal chunked
 * against 1.10 one activity per member). When a chunk's members took this long or more (median), the rest of the
 * batch run goes one activity per member, where 3.5 history events per 13.5 s call cost nothing that matters.
 */
export const CHUNK_SLOW_MEMBER_MS = 1_000;

/** The median time a chunk's members took (cancelled ones excluded); undefined when none ran. */
export function medianMemberMs(outcomes: readonly ChunkMemberOutcome[]): number | undefined {
  const ms = outcomes
    .filter((o) => o.r !== 'cancelled')
    .map((o) => o.ms)
    .sort((a, b) => a - b);
  return ms.length === 0 ? undefined : ms[Math.floor((ms.length - 1) / 2)];
}

/** Whether a chunk's members were slow enough that chunks would idle their lanes behind the slowest. */
export function chunkMembersSlow(outcomes: readonly ChunkMemberOutcome[]): boolean {
  const m = medianMemberMs(outcomes);
  return m !== undefined && m >= CHUNK_SLOW_MEMBER_MS;
}
