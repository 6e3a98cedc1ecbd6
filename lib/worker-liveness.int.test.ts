import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { liveWorkerCount, startWorkerLiveness, workerLivenessKey } from './worker-liveness';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

describe('worker liveness (what /readyz counts)', () => {
  it('counts a beating worker, forgets a killed one within its TTL, and one that stopped at once', async () => {
    const redis = new Redis(REDIS_URL);
    const key = workerLivenessKey(`test:${randomBytes(6).toString('hex')}:`, 'tq');
    try {
      const killed = startWorkerLiveness(redis, { key, intervalMs: 100, ttlMs: 400 });
      const stopped = startWorkerLiveness(redis, { key, intervalMs: 100, ttlMs: 400 });
      await sleep(150);
      expect(await liveWorkerCount(redis, key)).toBe(2);
      await stopped.stop();
      expect(await liveWorkerCount(redis, key)).toBe(1);
      // kill -9: the process stops beating without cleaning up.
      let alive = true;
      const gone = startWorkerLiveness(redis, { key, intervalMs: 100, ttlMs: 400, isRunning: () => alive });
      await killed.stop();
      await sleep(150);
      expect(await liveWorkerCount(redis, key)).toBe(1);
      alive = false;
      const t0 = Date.now();
      while ((await liveWorkerCount(redis, key)) > 0) await sleep(20);
      expect(Date.now() - t0).toBeLessThan(1_000);
      await gone.stop();
    } finally {
      await redis.del(key);
      await redis.quit();
    }
  });
});
