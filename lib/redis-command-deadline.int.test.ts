import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { startOwnRedis, type OwnRedis } from '../test/helpers/own-redis';
import { isInfrastructureError } from './infra-retry';
import { enforceCommandDeadline } from './redis-command-deadline';

/**
 * The API's 2 s Redis command deadline without a timer per command (issue 14), on this suite's OWN redis-server (a
 * paused or killed Redis must never be the shared stack's). The deadline here is 300 ms so the cases run quickly.
 */
let own: OwnRedis;
const clients: Redis[] = [];

function client(): Redis {
  const r = new Redis(own.url, { maxRetriesPerRequest: 2, connectTimeout: 2_000, enableAutoPipelining: false });
  r.on('error', () => undefined);
  clients.push(r);
  return r;
}

beforeAll(async () => {
  own = await startOwnRedis();
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await own?.stop();
});

describe('enforceCommandDeadline', () => {
  it('answers normally while Redis answers, including commands that take longer than a sweep', async () => {
    const redis = client();
    enforceCommandDeadline(redis, 300, 20);
    await redis.set('k', 'v');
    const answers = await Promise.all(Array.from({ length: 50 }, () => redis.get('k')));
    expect(answers.every((a) => a === 'v')).toBe(true);
    // A reply that takes several sweeps but less than the deadline (BLPOP's own 150 ms timeout) is still answered.
    await expect(redis.blpop('no-such-list', 0.15)).resolves.toBeNull();
  });

  it('a hung Redis: the commands waiting for it fail with the timeout error (an infrastructure error) long before it answers again', async () => {
    const redis = client();
    enforceCommandDeadline(redis, 300, 20);
    await redis.ping();
    const admin = client();
    // Redis holds every client's commands for 3 s: a hung server from the client's side.
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    const pausedAt = Date.now();
    const results = await Promise.allSettled([redis.get('k'), redis.get('k'), redis.set('k2', 'v')]);
    // Failed by the deadline while Redis was still not answering, not by the end of the pause.
    expect(Date.now() - pausedAt).toBeLessThan(3_000);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason as Error;
      expect(err.message).toBe('Command timed out');
      expect(isInfrastructureError(err)).toBe(true);
    }
    // The connection is still usable once Redis answers again.
    await sleep(Math.max(0, pausedAt + 3_200 - Date.now()));
    await expect(redis.ping()).resolves.toBe('PONG');
  });

  it('refuses a client that already has ioredis’s commandTimeout', () => {
    const redis = new Redis(own.url, { lazyConnect: true, commandTimeout: 2_000 });
    clients.push(redis);
    expect(() => enforceCommandDeadline(redis, 300)).toThrow('commandTimeout');
  });
});
