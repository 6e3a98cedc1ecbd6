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
});
