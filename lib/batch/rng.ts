/**
 * Seeded, dependency-free hashing for jitter. Same (seed, index) → same value on every run, every worker and in
 * workflow replay, so schedules are reproducible and testable. Bundle-safe: no imports.
 */

/** 32-bit FNV-1a of a string. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A uniform float in [0, 1) derived from the seed and an index (murmur3 finalizer over FNV). */
export function unitFromSeed(seed: string, index: number): number {
  let h = fnv1a32(`${seed}#${index}`);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

/** An integer in [min, max] (inclusive) derived from the seed and index. */
export function intFromSeed(seed: string, index: number, min: number, max: number): number {
  if (max < min) throw new RangeError('max < min');
  return min + Math.floor(unitFromSeed(seed, index) * (max - min + 1));
}
