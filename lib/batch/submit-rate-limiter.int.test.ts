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
});
