import { batchEventId, batchEventIdV2 } from './events';

describe('batch event ids', () => {
  test('v1 collides across batch ids that differ only in punctuation (why v2 exists)', () => {
    expect(batchEventId('batch/a-b/c', 1)).toBe(batchEventId('batch/a/b-c', 1));
  });

  test('v2 is injective over batch ids and URL-safe without dots', () => {
    const ids = ['batch/a-b/c', 'batch/a/b-c', 'batch/a_b/c', 'batch/a.b/c', 'batch/a:b/c', 'batch/a@b/c', 'batch/a_2fb/c', `batch/${'x'.repeat(128)}/${'y'.repeat(128)}`, `batch/${'x'.repeat(128)}/${'y'.repeat(127)}z`];
    const out = ids.map((id) => batchEventIdV2(id, 7));
    expect(new Set(out).size).toBe(ids.length);
    for (const e of out) expect(e).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(batchEventIdV2('batch/a/b', 1)).not.toBe(batchEventIdV2('batch/a/b', 2));
  });
});
