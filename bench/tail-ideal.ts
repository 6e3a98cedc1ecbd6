import { createRng } from '../stedi-sim/rng';

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
  /** greedyMakespan: the non-clairvoyant ideal in the run's own order. */
  greedyMs: number;
}

/**
 * Calls split into the originals and the hedges (STEDI_HEDGE, issue 14): a call that took its slot while an earlier
 * call of the same member was still running at Stedi is a hedge (a retry starts only after its failed call answered).
 * The ideal is computed from the originals only, so hedging cannot inflate its own yardstick.
 */
export function splitHedges(calls: readonly RecordedCall[]): { originals: RecordedCall[]; hedges: RecordedCall[] } {
  const originals: RecordedCall[] = [];
  const hedges: RecordedCall[] = [];
  const runningUntil = new Map<string, number>();
  for (const c of [...calls].sort((a, b) => a.startedAtMs - b.startedAtMs)) {
    const until = runningUntil.get(c.member);
    if (until !== undefined && c.startedAtMs < until) hedges.push(c);
    else {
      originals.push(c);
      runningUntil.set(c.member, c.endedAtMs);
    }
  }
  return { originals, hedges };
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

/**
 * The non-clairvoyant ideal: the same calls dispatched in the order the run gave them their first slot, each to the
 * first free slot, with zero overhead (no Temporal, slot-pool or HTTP time), a retry taking the first free slot as
 * soon as its failed call answered (no backoff), and a call's latency unknown until it answers. What a perfect
 * platform would reach with this order and these latencies; wall ÷ this is the platform's own tail.
 */
export function greedyMakespan(calls: readonly RecordedCall[], slots: number): number {
  const order = [...memberChains(calls).values()];
  const free = new Array<number>(slots).fill(0);
  const retries: { readyMs: number; rest: number[] }[] = [];
  let next = 0;
  let makespan = 0;
  const run = (at: number, chain: number[], k: number) => {
    const end = at + chain[0]!;
    free[k] = end;
    makespan = Math.max(makespan, end);
    if (chain.length > 1) retries.push({ readyMs: end, rest: chain.slice(1) });
  };
  while (next < order.length || retries.length > 0) {
    let k = 0;
    for (let i = 1; i < slots; i++) if (free[i]! < free[k]!) k = i;
    const t = free[k]!;
    retries.sort((a, b) => a.readyMs - b.readyMs);
    if (retries.length > 0 && (retries[0]!.readyMs <= t || next >= order.length)) {
      const r = retries.shift()!;
      run(Math.max(t, r.readyMs), r.rest, k);
    } else run(t, order[next++]!, k);
  }
  return makespan;
}

/**
 * What a latency-oblivious scheduler reaches on average with THESE latencies: the greedy schedule (retries first, no
 * overhead) over `samples` random member orders (seeded), mean and 90th percentile of the makespan.
 */
export function randomOrderGreedy(calls: readonly RecordedCall[], slots: number, samples = 200, seed = 1): { meanMs: number; p90Ms: number } {
  const chains = [...memberChains(calls).values()];
  const rnd = createRng(seed);
  const out: number[] = [];
  for (let n = 0; n < samples; n++) {
    const order = [...chains];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    // Chains back into calls, one start time per position, so greedyMakespan keeps this order.
    out.push(greedyMakespan(order.flatMap((chain, i) => chain.map((latencyMs, c) => ({ member: String(i), latencyMs, startedAtMs: i * 1e6 + c, endedAtMs: 0, status: 200 }))), slots));
  }
  out.sort((x, y) => x - y);
  return { meanMs: out.reduce((x, y) => x + y, 0) / Math.max(1, out.length), p90Ms: out[Math.floor(out.length * 0.9)] ?? 0 };
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
    greedyMs: greedyMakespan(calls, slots),
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
