import fc from 'fast-check';
import { Bitmap } from './bitmap';

describe('Bitmap', () => {
  test('add/has/count and idempotent add', () => {
    const b = Bitmap.empty(20);
    expect(b.add(3)).toBe(true);
    expect(b.add(3)).toBe(false);
    b.add(19);
    expect(b.has(3) && b.has(19) && !b.has(4)).toBe(true);
    expect(b.count()).toBe(2);
    expect([...b.indexes()]).toEqual([3, 19]);
    expect(() => b.add(20)).toThrow(RangeError);
  });

  test('10,000 members fit in ~1.7 KB of base64', () => {
    const b = Bitmap.fromIndexes(10_000, Array.from({ length: 10_000 }, (_, i) => i));
    expect(b.encode().length).toBeLessThanOrEqual(1668);
    expect(Bitmap.decode(10_000, b.encode()).count()).toBe(10_000);
  });

  test('encode/decode round-trips any set', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.nat(), { maxLength: 100 }), (size, raw) => {
        const idx = raw.map((r) => r % size);
        const b = Bitmap.fromIndexes(size, idx);
        const back = Bitmap.decode(size, b.encode());
        expect([...back.indexes()]).toEqual([...new Set(idx)].sort((x, y) => x - y));
      }),
    );
  });
});
