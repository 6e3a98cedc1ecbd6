import { createHash } from 'node:crypto';

/** Seeded PRNG (mulberry32): same seed, same sequence - so a simulator run is reproducible. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform [0,1) from a string, stable across runs and machines. */
export function hashUnit(key: string, salt = ''): number {
  return createHash('sha256').update(salt).update('\u0000').update(key).digest().readUInt32BE(0) / 4294967296;
}

/** An integer in [min, max] from a string. */
export function hashInt(key: string, salt: string, min: number, max: number): number {
  return min + Math.floor(hashUnit(key, salt) * (max - min + 1));
}

export interface LatencyModel {
  /** Mean of the distribution (before the time-scale factor). */
  meanMs: number;
  /** Lognormal shape parameter; 0 gives a constant latency. */
  sigma: number;
  minMs: number;
  maxMs: number;
}

/** Stedi real-time latency: 13.5 s mean, right-skewed (P95 ~ 2x mean with sigma 0.5). */
export const DEFAULT_LATENCY: LatencyModel = { meanMs: 13_500, sigma: 0.5, minMs: 300, maxMs: 120_000 };

/** One lognormal draw whose mean is `meanMs` (mu = ln(mean) - sigma^2 / 2), clamped to [minMs, maxMs]. */
export function sampleLatencyMs(rng: () => number, model: LatencyModel): number {
  if (model.sigma <= 0) return Math.min(model.maxMs, Math.max(model.minMs, model.meanMs));
  const u1 = Math.max(rng(), Number.EPSILON);
  const u2 = rng();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  const mu = Math.log(model.meanMs) - (model.sigma * model.sigma) / 2;
  const v = Math.exp(mu + model.sigma * z);
  return Math.min(model.maxMs, Math.max(model.minMs, v));
}
