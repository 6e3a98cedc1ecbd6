import { createInMemorySubmitRateLimiter } from './submit-rate-limiter';

describe('submit rate limit (in-memory twin of the Redis limiter)', () => {
  test('is a sliding window: 10 just before an hour boundary leave no room just after it', async () => {
    const l = createInMemorySubmitRateLimiter({ limit: 10, windowMs: 3_600_000 });
    const boundary = 1_800_000_000_000 - (1_800_000_000_000 % 3_600_000);
    for (let i = 0; i < 10; i++) expect((await l.take('svc', boundary - 60_000 + i)).allowed).toBe(true);
    const after = await l.take('svc', boundary + 60_000);
    expect(after.allowed).toBe(false);
    expect(after.resetAtMs).toBe(boundary - 60_000 + 3_600_000);
    // One slot frees when the oldest submission leaves the window; a refusal did not use one.
    expect((await l.take('svc', boundary - 60_000 + 3_600_000)).allowed).toBe(true);
    expect((await l.take('svc', boundary - 60_000 + 3_600_000)).allowed).toBe(false);
  });

  test('release takes back a counted submission (once); a refused decision has nothing to release', async () => {
    const l = createInMemorySubmitRateLimiter({ limit: 2, windowMs: 60_000 });
    const a = await l.take('svc', 1_000);
    await l.take('svc', 1_001);
    const refused = await l.take('svc', 1_002);
    expect(refused.allowed).toBe(false);
    await l.release('svc', refused);
    expect((await l.take('svc', 1_003)).allowed).toBe(false);
    await l.release('svc', a);
    await l.release('svc', a);
    expect((await l.take('svc', 1_004)).allowed).toBe(true);
    expect((await l.take('svc', 1_005)).allowed).toBe(false);
  });

  test('a token already counted in the window is admitted again without spending a unit (concurrent idempotent repeats)', async () => {
    const l = createInMemorySubmitRateLimiter({ limit: 2, windowMs: 60_000 });
    const takes = await Promise.all([1, 2, 3, 4, 5].map((i) => l.take('svc', 1_000 + i, 'job-a')));
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, true, true]);
    expect(takes.map((t) => t.count)).toEqual([1, 1, 1, 1, 1]);
    expect((await l.take('svc', 2_000, 'job-b')).count).toBe(2);
    // At the limit, a counted token is still admitted; a new one is refused; after the window it counts again.
    expect((await l.take('svc', 3_000, 'job-a')).allowed).toBe(true);
    expect((await l.take('svc', 3_000, 'job-c')).allowed).toBe(false);
    expect((await l.take('svc', 3_000)).allowed).toBe(false);
    expect(await l.take('svc', 62_000, 'job-a')).toMatchObject({ allowed: true, count: 1 });
    // A re-admission counted nothing: it carries no token, and releasing it gives nothing back.
    const again = await l.take('svc', 62_001, 'job-a');
    expect(again.token).toBeUndefined();
    await l.release('svc', again);
    expect((await l.take('svc', 62_002, 'job-a')).count).toBe(1);
  });
});
