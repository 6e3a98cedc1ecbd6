/**
 * Scores the member-cron activity predictor against the synthetic population's ground truth.
 *
 *   npx tsx bench/member-cron-prediction.ts [--population 20000] [--seed 42]
 *
 * The population comes straight from the deterministic generator (same rows the directory loads), so no
 * database is needed. Ground truth per member: p_active_next_24h / p_active_next_7d of the latent
 * behaviour profile the member's events were drawn from. "Realised" outcomes are one seeded Bernoulli
 * draw per member from the 24 h truth. Prints: the high-confidence group (isHighConfidencePrediction:
 * confidence > 0.8 and P > 0.8) with its size, mean predicted P, expected and realised precision and
 * recall; a recency-only baseline picking the same number of members; calibration by decile of
 * predicted P; Brier scores.
 */
import { DEFAULT_REFERENCE_TIME, PopulationGenerator } from '../directory/generator';
import { EVENT_TYPE_BY_ID } from '../directory/catalog';
import { isHighConfidencePrediction } from '../lib/prediction/high-confidence';
import type { LifecycleEvent } from '../lib/prediction/types';
import { RuleBasedActivityPredictor, recencyOnlyProbability } from '../lib/prediction/rule-based';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const population = arg('population', 20_000);
const seed = arg('seed', 42);
const referenceTime = new Date(DEFAULT_REFERENCE_TIME);
const now = referenceTime.getTime();

function mulberry32(a: number): () => number {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Row {
  p: number;
  conf: number;
  base: number;
  truth24: number;
  truth7: number;
  active: boolean;
}

const predictor = new RuleBasedActivityPredictor();
const rand = mulberry32(seed ^ 0x5eed);
const rows: Row[] = [];
const started = Date.now();
const gen = new PopulationGenerator({ seed, population, referenceTime });
for (const chunk of gen.chunks(5000)) {
  const events = new Map<number, LifecycleEvent[]>();
  for (const e of chunk.member_events) {
    const key = e['member_key'] as number;
    const type = EVENT_TYPE_BY_ID.get(e['event_type_id'] as number)?.type ?? '';
    const list = events.get(key) ?? [];
    list.push({ type: type.slice(type.lastIndexOf('.') + 1), at: Date.parse(e['occurred_at'] as string), feature: (e['feature_name'] as string | null) ?? null });
    events.set(key, list);
  }
  const appt = new Map(chunk.member_engagement.map((r) => [r['member_key'] as number, r['next_appointment_at'] as string | null]));
  const truth = new Map(chunk.member_activity_profile.map((r) => [r['member_key'] as number, r]));
  for (const m of chunk.members) {
    const key = m['member_key'] as number;
    const input = {
      now,
      timeZone: m['time_zone'] as string,
      events: events.get(key) ?? [],
      nextAppointmentAt: appt.get(key) ? Date.parse(appt.get(key) as string) : null,
    };
    const pred = predictor.predict(input);
    const t = truth.get(key);
    const truth24 = Number(t?.['p_active_next_24h'] ?? 0);
    rows.push({
      p: pred.appUsageProbability,
      conf: pred.confidence,
      base: recencyOnlyProbability(input),
      truth24,
      truth7: Number(t?.['p_active_next_7d'] ?? 0),
      active: rand() < truth24,
    });
  }
}
const elapsed = (Date.now() - started) / 1000;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : NaN);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const totalTruth = sum(rows.map((r) => r.truth24));
const totalActive = rows.filter((r) => r.active).length;

function groupStats(g: Row[]) {
  return {
    n: g.length,
    expectedPrecision24: mean(g.map((r) => r.truth24)),
    realisedPrecision24: g.filter((r) => r.active).length / Math.max(1, g.length),
    expectedRecall24: sum(g.map((r) => r.truth24)) / totalTruth,
    realisedRecall24: g.filter((r) => r.active).length / Math.max(1, totalActive),
    precision7d: mean(g.map((r) => r.truth7)),
  };
}

const high = rows.filter((r) => isHighConfidencePrediction({ confidence: r.conf, appUsageProbability: r.p }));
const k = high.length;
const baselineTop = [...rows].sort((a, b) => b.base - a.base).slice(0, k);
const modelTop = [...rows].sort((a, b) => b.p - a.p).slice(0, k);
const m = groupStats(high);
const mt = groupStats(modelTop);
const b = groupStats(baselineTop);

console.log(`member-cron prediction bench: population ${population}, seed ${seed}, reference ${referenceTime.toISOString()}, model ${predictor.modelVersion}`);
console.log(`  predicted ${rows.length} members in ${elapsed.toFixed(1)} s (${Math.round(rows.length / elapsed)}/s incl. generation)`);
console.log(`  base rate: mean true P(active 24h) ${mean(rows.map((r) => r.truth24)).toFixed(3)}, realised active ${pct(totalActive / rows.length)}`);
console.log('');
console.log('  group                                  n   precision24 (exp / realised)   recall24 (exp / realised)   precision7d');
const line = (name: string, s: ReturnType<typeof groupStats>) =>
  console.log(
    `  ${name.padEnd(34)} ${String(s.n).padStart(6)}   ${pct(s.expectedPrecision24).padStart(7)} / ${pct(s.realisedPrecision24).padStart(6)}            ${pct(s.expectedRecall24).padStart(6)} / ${pct(s.realisedRecall24).padStart(6)}          ${pct(s.precision7d)}`,
  );
line('high confidence (conf>0.8, P>0.8)', m);
line('model top-k by P (same k)', mt);
line('recency-only baseline top-k', b);
console.log(`  high-confidence group: ${pct(k / rows.length)} of the population, mean predicted P ${mean(high.map((r) => r.p)).toFixed(3)} vs mean true P24 ${m.expectedPrecision24.toFixed(3)}`);
console.log(`  lift over recency baseline (expected precision, same k): x${(m.expectedPrecision24 / b.expectedPrecision24).toFixed(2)}`);
for (const frac of [0.05, 0.2]) {
  const kk = Math.round(rows.length * frac);
  const mp = mean([...rows].sort((a, c) => c.p - a.p).slice(0, kk).map((r) => r.truth24));
  const bp = mean([...rows].sort((a, c) => c.base - a.base).slice(0, kk).map((r) => r.truth24));
  console.log(`  top ${pct(frac)} (k=${kk}): model precision24 ${pct(mp)}, baseline ${pct(bp)}, lift x${(mp / bp).toFixed(2)}`);
}
console.log('');
console.log('  calibration (predicted P decile → mean predicted vs mean true P24)');
let ece = 0;
for (let d = 0; d < 10; d++) {
  const lo = d / 10;
  const hi = (d + 1) / 10;
  const bin = rows.filter((r) => r.p >= lo && (d === 9 ? r.p <= hi : r.p < hi));
  if (bin.length === 0) continue;
  const mp = mean(bin.map((r) => r.p));
  const mt24 = mean(bin.map((r) => r.truth24));
  ece += (bin.length / rows.length) * Math.abs(mp - mt24);
  console.log(`    [${lo.toFixed(1)}, ${hi.toFixed(1)})  n=${String(bin.length).padStart(6)}  predicted ${mp.toFixed(3)}  true ${mt24.toFixed(3)}`);
}
const brier = (f: (r: Row) => number) => mean(rows.map((r) => (f(r) - (r.active ? 1 : 0)) ** 2));
console.log(`  expected calibration error (vs true P24): ${ece.toFixed(4)}`);
console.log(`  Brier score (realised outcomes): model ${brier((r) => r.p).toFixed(4)}, recency baseline ${brier((r) => r.base).toFixed(4)}, truth ${brier((r) => r.truth24).toFixed(4)}`);
