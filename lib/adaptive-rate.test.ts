import { adaptiveBatchCapTable, adaptiveBatchLimit, adaptiveBatchRatePerSecond } from './adaptive-rate';

describe('adaptiveBatchLimit (15 slots, 3 reserved for interactive)', () => {
  it.each([
    { interactiveInUse: 0, tier: 'low', maxBatchInFlight: 12 },
    { interactiveInUse: 4, tier: 'low', maxBatchInFlight: 12 },
    { interactiveInUse: 5, tier: 'medium', maxBatchInFlight: 4 },
    { interactiveInUse: 9, tier: 'medium', maxBatchInFlight: 4 },
    { interactiveInUse: 10, tier: 'high', maxBatchInFlight: 0 },
    { interactiveInUse: 15, tier: 'high', maxBatchInFlight: 0 },
  ])('interactive=$interactiveInUse → $tier, batch ≤ $maxBatchInFlight', ({ interactiveInUse, tier, maxBatchInFlight }) => {
    expect(adaptiveBatchLimit({ limit: 15, reservedInteractive: 3, interactiveInUse })).toEqual({ tier, maxBatchInFlight });
  });

  it('scales the tiers with the pool size', () => {
    expect(adaptiveBatchCapTable(6, 1)).toEqual([5, 5, 2, 2, 0, 0, 0]);
  });

  it('never lets batch take the reserved slots', () => {
    for (let reserved = 0; reserved <= 15; reserved++) {
      for (const cap of adaptiveBatchCapTable(15, reserved)) expect(cap).toBeLessThanOrEqual(15 - reserved);
    }
  });

  it('rejects impossible configurations', () => {
    expect(() => adaptiveBatchLimit({ limit: 15, reservedInteractive: 16, interactiveInUse: 0 })).toThrow(RangeError);
    expect(() => adaptiveBatchLimit({ limit: 15, reservedInteractive: 3, interactiveInUse: 0 }, { mediumLoadFraction: 0.8, highLoadFraction: 0.5, mediumBatchShare: 0.4 })).toThrow(RangeError);
  });
});

describe('adaptiveBatchRatePerSecond (the design doc rule)', () => {
  it.each([
    [0, 5],
    [4, 5],
    [5, 2],
    [9, 2],
    [10, 0],
    [15, 0],
  ])('%i slots used → %i req/s', (used, rate) => {
    expect(adaptiveBatchRatePerSecond(used)).toBe(rate);
  });
});
