/**
 * The hedging policy on the latency model alone (issue 14, finite-batch tail): which threshold is worth its Stedi
 * calls? A Monte-Carlo of the bench's batch shape with no platform at all: 150 members, the first 20 (shuffled in)
 * on a payer whose first answer per member is a 503 (retry 2 s later), lognormal latencies (mean 13.5 s, σ 0.5,
 * clamped at the simulator's 60 s payer timeout), 15 slots, members dispatched in a random order (latencies unknown).
 * Hedging as STEDI_HEDGE does it: once no member waits to start (none left to dispatch, no retry pending) and more
 * than 2 slots are free, a call running past the threshold gets one fresh call (≤ 10 % of members); the member is
 * done at the first good answer. Prints, per threshold, the mean and p90 makespan, the makespan ÷ the LPT ideal of
 * the original calls (what bench/batch-tail.ts prints, here with zero platform overhead) and the share of batches
 * above 1.10, and the extra (billed) calls per batch.
 *
 * A second sweep goes beyond the shipped policy (budgets to 100 %, no kept slots, up to five duplicates per call) to
 * show whether any hedging, at any price in calls, makes ≤ 1.10 reliable for a latency-oblivious scheduler.
 *
 *   npx tsx bench/hedge-model.ts [--batches 400]
 */
import { createRng, DEFAULT_LATENCY, sampleLatencyMs } from '../stedi-sim/rng';
import { lptMakespan } from './tail-ideal';

const SLOTS = 15;
const KEPT = 2;
const STEP_MS = 100;
const model = { ...DEFAULT_LATENCY, minMs: 0, maxMs: 60_000 };

interface Member {
  failing: boolean;
  /** Σ latency of the member's original (non-hedge) calls: its chain in the ideal. */
  chainMs: number;
  answeredBadly: boolean;
  /** Duplicates started for this member. */
  hedged: number;
  finished: boolean;
}
interface Call {
  m: Member;
  start: number;
  end: number;
  hedge: boolean;
}

/** Beyond the shipped policy (the second sweep): a larger budget, no kept slots, several duplicates per call. */
interface Aggression {
  /** Hedges per batch, as a share of its members (shipped: 0.1). */
  budget: number;
  /** Free slots kept for interactive reads (shipped: 2). */
  kept: number;
  /** Duplicates per call; the k-th waits until the call has run (1 + k/2) × the threshold (shipped: 1). */
  perCall: number;
}
const SHIPPED: Aggression = { budget: 0.1, kept: KEPT, perCall: 1 };

function batch(seed: number, thresholdMs: number | undefined, members = 150, failing = 20, aggression: Aggression = SHIPPED): { makespanMs: number; idealMs: number; hedges: number; wins: number } {
  const rnd = createRng(seed);
  const lat = () => sampleLatencyMs(rnd, model);
  const order: Member[] = Array.from({ length: members }, (_, i) => ({ failing: i < failing, chainMs: 0, answeredBadly: false, hedged: 0, finished: false }));
  const original = (m: Member, t: number): Call => {
    const ms = lat();
    m.chainMs += ms;
    return { m, start: t, end: t + ms, hedge: false };
  };
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const budget = Math.floor(members * aggression.budget);
  let t = 0;
  let next = 0;
  let done = 0;
  let hedges = 0;
  let wins = 0;
  const running: Call[] = [];
  const retries: { m: Member; at: number }[] = [];
  while (done < members) {
    for (let k = running.length - 1; k >= 0; k--) {
      const c = running[k]!;
      if (c.end > t) continue;
      running.splice(k, 1);
      if (c.m.finished) continue;
      if (c.m.failing && !c.m.answeredBadly) {
        // The payer fails each member's first answer; a second call still running answers well.
        c.m.answeredBadly = true;
        if (!running.some((x) => x.m === c.m)) retries.push({ m: c.m, at: t + 2_000 });
        continue;
      }
      c.m.finished = true;
      done += 1;
      if (c.hedge) wins += 1;
    }
    retries.sort((a, b) => a.at - b.at);
    while (running.length < SLOTS && retries.length > 0 && retries[0]!.at <= t) running.push(original(retries.shift()!.m, t));
    while (running.length < SLOTS && next < order.length) running.push(original(order[next++]!, t));
    if (thresholdMs !== undefined && next >= order.length && retries.length === 0) {
      for (const c of [...running]) {
        if (SLOTS - running.length <= aggression.kept || hedges >= budget) break;
        if (c.hedge || c.m.hedged >= aggression.perCall || c.m.finished || t - c.start < thresholdMs * (1 + c.m.hedged / 2)) continue;
        c.m.hedged += 1;
        hedges += 1;
        running.push({ m: c.m, start: t, end: t + lat(), hedge: true });
      }
    }
    t += STEP_MS;
  }
  return { makespanMs: t, idealMs: lptMakespan(order.map((m) => m.chainMs), SLOTS), hedges, wins };
}

function quantileOfModel(q: number): number {
  const rnd = createRng(99);
  const xs = Array.from({ length: 100_000 }, () => sampleLatencyMs(rnd, model)).sort((a, b) => a - b);
  return xs[Math.floor(q * xs.length)]!;
}

const i = process.argv.indexOf('--batches');
const batches = i >= 0 ? Number(process.argv[i + 1]) : 400;
for (const q of [undefined, 0.5, 0.75, 0.9, 0.95]) {
  const threshold = q === undefined ? undefined : quantileOfModel(q);
  const runs = Array.from({ length: batches }, (_, s) => batch(s + 1, threshold));
  const spans = runs.map((r) => r.makespanMs).sort((a, b) => a - b);
  const mean = spans.reduce((a, b) => a + b, 0) / batches;
  console.log(
    JSON.stringify({
      hedge: q === undefined ? 'off' : `p${q * 100}`,
      thresholdSeconds: threshold === undefined ? null : +(threshold / 1000).toFixed(1),
      meanMakespanSeconds: +(mean / 1000).toFixed(1),
      p90MakespanSeconds: +(spans[Math.floor(batches * 0.9)]! / 1000).toFixed(1),
      // The bench's figure with zero platform overhead: makespan ÷ LPT ideal of the original calls.
      meanOverIdeal: +(runs.reduce((a, r) => a + r.makespanMs / r.idealMs, 0) / batches).toFixed(3),
      shareOver110: +(runs.filter((r) => r.makespanMs / r.idealMs > 1.1).length / batches).toFixed(2),
      extraCallsPerBatch: +(runs.reduce((a, r) => a + r.hedges, 0) / batches).toFixed(2),
      hedgeWinsPerBatch: +(runs.reduce((a, r) => a + r.wins, 0) / batches).toFixed(2),
    }),
  );
}

// Second sweep: could any hedging make ≤ 1.10 reliable if Stedi calls were free? Larger budgets, the last slots
// given up too, up to five duplicates per call. (Hedges still start only in the last wave: before it every slot has a
// member waiting for it.)
for (const [q, a] of [
  [0.5, { budget: 0.2, kept: 0, perCall: 1 }],
  [0.5, { budget: 0.3, kept: 0, perCall: 2 }],
  [0.3, { budget: 0.3, kept: 0, perCall: 3 }],
  [0.25, { budget: 1, kept: 0, perCall: 5 }],
] as const) {
  const threshold = quantileOfModel(q);
  const ratios = Array.from({ length: batches }, (_, s) => batch(s + 1, threshold, 150, 20, a));
  const over = ratios.map((r) => r.makespanMs / r.idealMs).sort((x, y) => x - y);
  console.log(
    JSON.stringify({
      hedge: `p${q * 100}`,
      ...a,
      meanOverIdeal: +(over.reduce((x, y) => x + y, 0) / batches).toFixed(3),
      p90OverIdeal: +over[Math.floor(batches * 0.9)]!.toFixed(3),
      shareOver110: +(over.filter((x) => x > 1.1).length / batches).toFixed(2),
      extraCallsPerBatch: +(ratios.reduce((x, r) => x + r.hedges, 0) / batches).toFixed(2),
    }),
  );
}
