import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config';
import { createRedisSubmitRateLimiter } from './submit-rate-limiter';

describe('Redis submit rate limiter', () => {
  const config = loadConfig(process.env);
  const redis = new Redis(config.redisUrl);
  const prefix = `test:${randomUUID().slice(0, 8)}:`;
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test('sliding window across an hour boundary; refusals spend nothing; services are separate', async () => {
    const l = createRedisSubmitRateLimiter(redis, { limit: 10, windowMs: 3_600_000 }, prefix);
    const boundary = 1_800_000_000_000 - (1_800_000_000_000 % 3_600_000);
    for (let i = 0; i < 10; i++) expect((await l.take('svc', boundary - 60_000 + i)).allowed).toBe(true);
    for (let i = 0; i < 3; i++) {
      const d = await l.take('svc', boundary + 60_000);
      expect(d).toMatchObject({ allowed: false, count: 10, resetAtMs: boundary - 60_000 + 3_600_000 });
    }
    expect((await l.take('other', boundary + 60_000)).allowed).toBe(true);
    expect((await l.take('svc', boundary - 60_000 + 3_600_000)).allowed).toBe(true);
    expect((await l.take('svc', boundary - 60_000 + 3_600_000)).allowed).toBe(false);
  });

  test('release takes back a counted submission (once); a refused decision has nothing to release', async () => {
    const l = createRedisSubmitRateLimiter(redis, { limit: 2, windowMs: 60_000 }, prefix);
    const now = Date.now();
    const a = await l.take('rel', now);
    await l.take('rel', now + 1);
    const refused = await l.take('rel', now + 2);
    expect(refused.allowed).toBe(false);
    await l.release('rel', refused);
    expect((await l.take('rel', now + 3)).allowed).toBe(false);
    await l.release('rel', a);
    await l.release('rel', a);
    expect((await l.take('rel', now + 4)).allowed).toBe(true);
    expect((await l.take('rel', now + 5)).allowed).toBe(false);
  });

  test('concurrent takes of one token spend one unit, even at the limit; other tokens and untokened takes count', async () => {
    const l = createRedisSubmitRateLimiter(redis, { limit: 2, windowMs: 60_000 }, prefix);
    const at = Date.now();
    const takes = await Promise.all(Array.from({ length: 8 }, () => l.take('tok', at, 'job-a')));
    expect(takes.every((t) => t.allowed && t.count === 1)).toBe(true);
    expect(await redis.zcard(`${prefix}batch-submit-rate:{tok}`)).toBe(1);
    expect(await l.take('tok', at + 1, 'job-b')).toMatchObject({ allowed: true, count: 2 });
    expect((await l.take('tok', at + 2, 'job-a')).allowed).toBe(true);
    expect((await l.take('tok', at + 2, 'job-c')).allowed).toBe(false);
    expect((await l.take('tok', at + 2)).allowed).toBe(false);
    expect(await redis.zcard(`${prefix}batch-submit-rate:{tok}`)).toBe(2);
    // A re-admission counted nothing: it carries no token, and releasing it gives nothing back.
    const again = await l.take('tok', at + 3, 'job-a');
    expect(again.token).toBeUndefined();
    await l.release('tok', again);
    expect(await redis.zcard(`${prefix}batch-submit-rate:{tok}`)).toBe(2);
  });
});

