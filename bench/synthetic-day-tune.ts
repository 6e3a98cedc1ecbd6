/**
 * Tuning sweep of the synthetic day (issue 11): loads one seeded day once and runs many parametrised variants of
 * the warming policy on the fast fidelity. Exploration only: the shipped policy is what bench/synthetic-day.ts runs.
 *
 *   npx tsx bench/synthetic-day-tune.ts [--members 100000] [--seed 42]
 */
import { DEFAULT_REFERENCE_TIME } from '../directory/generator';
import { ceilingOrders, intelligentRoute, PredictionTable } from '../lib/synthetic-day/policies';
import { buildWorld, defaultDaySeed, loadDay } from '../lib/synthetic-day/population';
import { DEFAULT_SIM_OPTIONS, simulateArm, type ArmCounts, type SimOptions, type SimWorld, type WarmOrder } from '../lib/synthetic-day/sim';

const H = 3_600_000;
function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const members = arg('members', 100_000);
const seed = arg('seed', 42);
const daySeed = defaultDaySeed(seed);
const now = new Date(DEFAULT_REFERENCE_TIME).getTime();
const t = new PredictionTable(members, now);
const day = loadDay({ seed, members, referenceTime: new Date(DEFAULT_REFERENCE_TIME), daySeed, onObserved: (m) => t.observe(m) });
const world = buildWorld(day, { extraReadsPerSession: 0, seed: daySeed });
const opts: SimOptions = { ...DEFAULT_SIM_OPTIONS, seed: daySeed, router: intelligentRoute, mode: 'DEFAULT' };
const reactive = simulateArm(world, [], opts);
const isRush = (w: SimWorld) => (m: number, at: number): boolean => {
  const h = Math.floor(((((at + w.offsetMs[m]!) % 86_400_000) + 86_400_000) % 86_400_000) / H);
  return h >= 6 && h < 9;
};

interface Variant {
  name: string;
  skipBelow: number;
  urgentAbove: number;
  leads: { URGENT: [number, number]; PRELOAD: [number, number] };
  fresh: 'now' | 'wstart' | 'wend' | 'group' | 'groupUse' | 'groupUseAsap';
  /** cap of the judging time after the order's time (h) */
  cap?: number;
  budget?: number;
  urgentBatch?: boolean;
  /** rank budget by P x P(not fresh at use) */
  rankStale?: boolean;
  /** PRELOAD members whose window starts within this many hours are routed URGENT */
  promoteH?: number;
}
const nan = (x: number) => (Number.isNaN(x) ? null : x);

function orders(v: Variant): WarmOrder[] {
  const idx: number[] = [];
  for (let i = 0; i < members; i++) if (t.eligible[i] === 1) idx.push(i);
  let chosen: number[];
  if (v.budget !== undefined) {
    const score = (i: number) => {
      if (!v.rankStale) return t.p[i]!;
      const ws = nan(t.windowEnd[i]!) ?? now + 24 * H;
      const fresh = world.startOutcome[i] === 1 && world.startFetchedAt[i]! + 22 * H > ws;
      return fresh ? t.p[i]! * 0.01 : t.p[i]!;
    };
    idx.sort((a, b) => score(b) - score(a) || a - b);
    chosen = idx.slice(0, v.budget);
  } else chosen = idx.filter((i) => t.p[i]! >= Math.fround(v.skipBelow));
  const groups = new Map<string, number>();
  const rows = chosen.map((i) => {
    let pr: 'URGENT' | 'PRELOAD' = t.p[i]! > Math.fround(v.urgentAbove) ? 'URGENT' : 'PRELOAD';
    if (v.promoteH !== undefined && (nan(t.windowStart[i]!) ?? now) < now + v.promoteH * H) pr = 'URGENT';
    const [minL, maxL] = v.leads[pr];
    const ws = nan(t.windowStart[i]!) ?? now;
    const we = nan(t.windowEnd[i]!) ?? now + 24 * H;
    const width = Math.max(1, Math.floor(((maxL - minL) * H) / 2));
    const ideal = ws - maxL * H;
    const asap = ideal <= now;
    const bucket = Math.floor((asap ? now : ideal) / width) * width;
    const at = asap ? now : bucket + width;
    const useB = v.fresh === 'groupUse' || (v.fresh === 'groupUseAsap' && asap) ? Math.floor(we / H) : 0;
    const key = `${pr}|${asap}|${bucket}|${useB}`;
    groups.set(key, Math.max(groups.get(key) ?? 0, we));
    return { i, pr, at, ws, we, key };
  });
  return rows.map((r) => {
    let ca: number;
    switch (v.fresh) {
      case 'now': ca = r.at; break;
      case 'wstart': ca = r.ws; break;
      case 'wend': ca = r.we; break;
      default: ca = groups.get(r.key)!;
    }
    if (v.cap !== undefined) ca = Math.min(ca, r.at + v.cap * H);
    return { member: r.i, at: r.at, priority: v.urgentBatch ? 'PRELOAD' : r.pr, strategy: 'INTELLIGENT', classifyAt: ca } as WarmOrder;
  });
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rtRush = (c: ArmCounts) => c.realtimeCallsRush.interactive + c.realtimeCallsRush.warm + c.realtimeCallsRush.swr;
const calls = (c: ArmCounts) => c.realtimeCalls.interactive + c.realtimeCalls.warm + c.realtimeCalls.swr + c.batchItems;
const R = reactive.counts;
console.log(`reactive ${pct(R.hits / R.reads)} rush ${rtRush(R)} calls ${calls(R)}`);
const base: Variant = { name: 'shipped', skipBelow: 0.7, urgentAbove: 0.9, leads: { URGENT: [2, 4], PRELOAD: [12, 24] }, fresh: 'groupUseAsap' };
const variants: Variant[] = JSON.parse(process.env.VARIANTS ?? '[]').map((x: Partial<Variant>) => ({ ...base, ...x }));
if (variants.length === 0) variants.push(base);
for (const v of variants) {
  const o = orders(v);
  const a = simulateArm(world, o, opts).counts;
  const c = simulateArm(world, ceilingOrders(reactive.trace, a.warmsExecuted, isRush(world)), opts).counts;
  const cap = (a.hits - R.hits) / Math.max(1, c.hits - R.hits);
  console.log(
    [v.name.padEnd(40), `orders ${o.length}`, `hit ${pct(a.hits / a.reads)}`, `waited ${pct(a.sessionsWaited / a.sessions)}`, `exec ${a.warmsExecuted}`, `wasted ${a.warmsWasted}`, `ceil ${pct(c.hits / c.reads)}`, `cap ${cap.toFixed(2)}`, `rush ${rtRush(a)}`, `calls ${calls(a)}`, `$/d ${(calls(a) * 0.1).toFixed(0)}`, `d$/d ${((calls(a) - calls(R)) * 0.1).toFixed(0)}`].join('  '),
  );
}

if (process.env.DIAG) {
  // Calibration of the predictor on this day: per P bin, members, share with a read, share whose first read would miss (reactive).
  const readers = new Uint8Array(members);
  for (let r = 0; r < world.readAt.length; r++) readers[world.sessionMember[world.readSession[r]!]!] = 1;
  const bins = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01];
  for (let b = 0; b < bins.length - 1; b++) {
    let n = 0, sumP = 0, read = 0, miss = 0;
    for (let i = 0; i < members; i++) {
      if (t.eligible[i] !== 1 || t.p[i]! < bins[b]! || t.p[i]! >= bins[b + 1]!) continue;
      n++; sumP += t.p[i]!; read += readers[i]!; if (reactive.trace.firstNonHitWaits[i]! > 0) miss++;
    }
    console.log(`P [${bins[b]}, ${bins[b + 1]}): ${n} members, mean P ${(sumP / Math.max(1, n)).toFixed(3)}, read ${(read / Math.max(1, n)).toFixed(3)}, waited reactive ${(miss / Math.max(1, n)).toFixed(3)}`);
  }
}
