/**
 * The ideal makespan of a finite real-time batch (issue 14, "Finite-batch tail"): the same Stedi calls, with the
 * latencies the simulator actually applied to them (GET /__sim/calls), scheduled offline on `slots` slots.
 *
 * A member's calls form a chain: a retry cannot start before the call that failed has answered. The offline
 * schedule knows every latency in advance, needs no backoff between a failure and its retry and no dispatch or
 * Temporal overhead, and never preempts a call. Two figures:
 *   - lowerBound = max(Σ latency ÷ slots, longest chain): no schedule of these calls on `slots` slots can be
 *     shorter;
 *   - lpt = the makespan of an LPT list schedule of the chains (longest chain first, each chain back to back on the
 *     least-loaded slot): a schedule that exists, so the optimum lies in [lowerBound, lpt].
 * The bench uses `lpt` as THE ideal (wall ÷ ideal): it is a real schedule of the same calls, and it is
 * tight here (many short chains on 15 slots: lpt ÷ lowerBound is printed and is close to 1). Dividing by the lower
 * bound instead would charge the online scheduler for a gap no schedule can close.
 */

export interface RecordedCall {
  /** Same value for every call of one member. */
  member: string;
  latencyMs: number;
  startedAtMs: number;
  endedAtMs: number;
  status: number;
}

export interface IdealMakespan {
  calls: number;
  members: number;
  /** Members with more than one call (retried). */
  retriedMembers: number;
  sumLatencyMs: number;
  meanLatencyMs: number;
  longestChainMs: number;
  /** Σ latency ÷ slots: the recorded-latency floor. */
  recordedFloorMs: number;
  lowerBoundMs: number;
  lptMs: number;
}

/** Chains of calls per member, each as the sum of its latencies. */
export function memberChains(calls: readonly RecordedCall[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const c of [...calls].sort((a, b) => a.startedAtMs - b.startedAtMs)) {
    const chain = out.get(c.member) ?? [];
    chain.push(c.latencyMs);
    out.set(c.member, chain);
  }
  return out;
}

/** LPT list schedule of independent jobs on `slots` identical slots; returns the makespan. */
export function lptMakespan(jobs: readonly number[], slots: number): number {
  if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError('slots must be a positive integer');
  const load = new Array<number>(Math.min(slots, Math.max(1, jobs.length))).fill(0);
  for (const j of [...jobs].sort((a, b) => b - a)) {
    let k = 0;
    for (let i = 1; i < load.length; i++) if (load[i]! < load[k]!) k = i;
    load[k]! += j;
  }
  return Math.max(0, ...load);
}

export function idealMakespan(calls: readonly RecordedCall[], slots: number): IdealMakespan {
  const chains = [...memberChains(calls).values()].map((c) => c.reduce((a, b) => a + b, 0));
  const sum = chains.reduce((a, b) => a + b, 0);
  const longest = Math.max(0, ...chains);
  const recordedFloorMs = sum / slots;
  return {
    calls: calls.length,
    members: chains.length,
    retriedMembers: [...memberChains(calls).values()].filter((c) => c.length > 1).length,
    sumLatencyMs: sum,
    meanLatencyMs: calls.length > 0 ? sum / calls.length : 0,
    longestChainMs: longest,
    recordedFloorMs,
    lowerBoundMs: Math.max(recordedFloorMs, longest),
    lptMs: lptMakespan(chains, slots),
  };
}

export interface TailBreakdown {
  /** Batch start → the first call took a slot. */
  startupMs: number;
  /** The last call answered → the batch finished. */
  finishMs: number;
  /** First call start → last call end. */
  callSpanMs: number;
  /** Slot-time left idle while calls were still waiting to start (before the last call started), slot·ms. */
  idleBeforeLastStartSlotMs: number;
  /** Slot-time idle after the last call started (the last wave draining), slot·ms. */
  idleLastWaveSlotMs: number;
  /** Last call start → last call end (the last wave's length). */
  lastWaveMs: number;
  /** Per retried member: its failed call's answer → its retry taking a slot (median and max), ms. */
  retryGapMedianMs: number;
  retryGapMaxMs: number;
  /** When the last retry took its slot, ms after the first call started (0 when nothing was retried). */
  lastRetryStartMs: number;
}

/** Where a run's wall time went, from the call log (times are the simulator's wall clock). */
export function tailBreakdown(calls: readonly RecordedCall[], slots: number, batchStartMs: number, batchEndMs: number): TailBreakdown {
  const sorted = [...calls].sort((a, b) => a.startedAtMs - b.startedAtMs);
  const first = sorted[0]?.startedAtMs ?? batchStartMs;
  const lastStart = sorted.at(-1)?.startedAtMs ?? first;
  const lastEnd = Math.max(first, ...sorted.map((c) => c.endedAtMs));
  const busyBetween = (from: number, to: number) => sorted.reduce((s, c) => s + Math.max(0, Math.min(c.endedAtMs, to) - Math.max(c.startedAtMs, from)), 0);
  const gaps: number[] = [];
  let lastRetryStart = 0;
  for (const chain of groupBy(sorted)) {
    for (let i = 1; i < chain.length; i++) {
      gaps.push(chain[i]!.startedAtMs - chain[i - 1]!.endedAtMs);
      lastRetryStart = Math.max(lastRetryStart, chain[i]!.startedAtMs - first);
    }
  }
  gaps.sort((a, b) => a - b);
  return {
    startupMs: first - batchStartMs,
    finishMs: batchEndMs - lastEnd,
    callSpanMs: lastEnd - first,
    idleBeforeLastStartSlotMs: slots * (lastStart - first) - busyBetween(first, lastStart),
    idleLastWaveSlotMs: slots * (lastEnd - lastStart) - busyBetween(lastStart, lastEnd),
    lastWaveMs: lastEnd - lastStart,
    retryGapMedianMs: gaps.length > 0 ? gaps[Math.floor(gaps.length / 2)]! : 0,
    retryGapMaxMs: gaps.at(-1) ?? 0,
    lastRetryStartMs: lastRetryStart,
  };
}

function groupBy(sorted: readonly RecordedCall[]): RecordedCall[][] {
  const m = new Map<string, RecordedCall[]>();
  for (const c of sorted) {
    const l = m.get(c.member) ?? [];
    l.push(c);
    m.set(c.member, l);
  }
  return [...m.values()];
}
