import { decideStrategy, type StrategyInput } from './strategy';

const base: StrategyInput = { requested: 'OPTIMAL', size: 500, priority: 'NORMAL', freeSlots: 15, hour: 12 };

describe('decideStrategy (design doc decision matrix)', () => {
  test.each([
    // size, priority, freeSlots, expected path, rule
    [1, 'LOW', 15, 'REALTIME', 'small'],
    [99, 'LOW', 0, 'REALTIME', 'small'],
    [99, 'HIGH', 0, 'REALTIME', 'small'],
    [100, 'HIGH', 15, 'REALTIME', 'high-idle'],
    [1000, 'HIGH', 5, 'REALTIME', 'high-idle'],
    [1000, 'HIGH', 4, 'BATCH_API', 'high-busy'],
    [500, 'NORMAL', 15, 'BATCH_API', 'normal'],
    [500, 'LOW', 15, 'BATCH_API', 'low-priority'],
    [1001, 'HIGH', 15, 'BATCH_API', 'large'],
    [100_000, 'NORMAL', 15, 'BATCH_API', 'large'],
  ] as const)('size %d priority %s free slots %d → %s (%s)', (size, priority, freeSlots, path, rule) => {
    expect(decideStrategy({ ...base, size, priority, freeSlots })).toEqual({ path, rule });
  });

  test('time of day does not change the path (doc: "Any" in every row)', () => {
    for (const hour of [0, 3, 9, 18, 23]) expect(decideStrategy({ ...base, hour }).path).toBe('BATCH_API');
  });

  test.each([
    ['BATCH_ONLY', 5, 'BATCH_API'],
    ['REALTIME_ONLY', 50_000, 'REALTIME'],
  ] as const)('%s is forced regardless of size %d', (requested, size, path) => {
    expect(decideStrategy({ ...base, requested, size })).toEqual({ path, rule: 'forced' });
  });

  test('rejects nonsense', () => {
    expect(() => decideStrategy({ ...base, size: -1 })).toThrow(RangeError);
    expect(() => decideStrategy({ ...base, requested: 'FASTEST' as never })).toThrow(/unknown strategy/);
  });
});
