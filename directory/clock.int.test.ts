import { directoryClock } from './loader';
import { createTestDirectory, TEST_REFERENCE_TIME } from './test-support';

describe('directory evaluation clock', () => {
  test('a synthetic population pins "now" to its reference time; an empty (real) directory uses the wall clock', async () => {
    const synthetic = await createTestDirectory({ seed: 3, population: 5 });
    const empty = await createTestDirectory({ seed: 3, population: 0 });
    try {
      const clock = await directoryClock(synthetic.pool);
      expect(clock().toISOString()).toBe(TEST_REFERENCE_TIME.toISOString());
      await new Promise((r) => setTimeout(r, 5));
      expect(clock().toISOString()).toBe(TEST_REFERENCE_TIME.toISOString());
      const wall = (await directoryClock(empty.pool))().getTime();
      expect(Math.abs(wall - Date.now())).toBeLessThan(5_000);
    } finally {
      await synthetic.drop();
      await empty.drop();
    }
  });
});
