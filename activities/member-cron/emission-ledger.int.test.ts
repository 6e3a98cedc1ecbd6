/** RedisEmissionLedger's dead-letter markers against a real Redis (random key prefix per test). */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisEmissionLedger } from './emission-ledger';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
let redis: Redis;
let prefix: string;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
beforeEach(() => {
  prefix = `test:${randomBytes(6).toString('hex')}:emitted:`;
});
afterEach(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
});
afterAll(() => redis.disconnect());

describe('RedisEmissionLedger dead-letter markers (integration)', () => {
  it('a retry with the same token sees its own dead letters; another run may claim them; emitted stays emitted', async () => {
    const ledger = new RedisEmissionLedger(redis, { keyPrefix: prefix, doneTtlSeconds: 600 });
    expect(await ledger.claim(['e1', 'e2'], 'run-1/act')).toEqual(['claimed', 'claimed']);
    await ledger.markDone(['e1'], 'run-1/act');
    await ledger.markDeadLettered(['e2'], 'run-1/act');
    expect(await ledger.claim(['e1', 'e2'], 'run-1/act')).toEqual(['emitted-by-token', 'dead-lettered-by-token']);
    expect(await ledger.claim(['e1', 'e2'], 'run-2/act')).toEqual(['done', 'claimed']);
    // Once claimed by run 2 the event is leased: run 1 cannot take it back.
    expect(await ledger.claim(['e2'], 'run-1/act')).toEqual(['busy']);
    expect(await redis.ttl(`${prefix}e1`)).toBeGreaterThan(500);
  });
});
