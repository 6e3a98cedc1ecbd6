import type { RedisClient } from '../../lib/redis-client';

/**
 * Global emission rate limit shared by every worker process: a token bucket in Redis. Refill uses the
 * Redis server clock (TIME), so workers with skewed clocks still share one rate.
 */
export interface EmissionRateLimiter {
  /** Resolves once `n` tokens were taken (waits as long as needed). */
  acquire(n: number): Promise<void>;
}

export interface TokenBucketOptions {
  /** Tokens per second (events/s). */
  ratePerSecond: number;
  /** Bucket size; default rate/10 (a 100 ms burst), so short runs do not overshoot the rate. */
  burst?: number;
  /** Redis key (use a hash tag for cluster setups). */
  key?: string;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * KEYS[1] bucket hash {tokens, ts}; ARGV: rate/s, burst, requested.
 * Returns 0 when granted, else the milliseconds to wait before enough tokens exist.
 */
const LUA_TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000); ts = now end
local ttl = math.ceil(burst / rate * 1000) + 1000
if tokens >= want then
  redis.call('HSET', KEYS[1], 'tokens', tokens - want, 'ts', ts)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 0
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', ts)
redis.call('PEXPIRE', KEYS[1], ttl)
return math.max(1, math.ceil((want - tokens) * 1000 / rate))
`;

export class RedisTokenBucket implements EmissionRateLimiter {
  private readonly burst: number;
  private readonly key: string;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: TokenBucketOptions,
  ) {
    if (!(opts.ratePerSecond > 0)) throw new Error('ratePerSecond must be positive');
    this.burst = Math.max(1, Math.floor(opts.burst ?? opts.ratePerSecond / 10));
    this.key = opts.key ?? 'rte:{member-cron-emit}:bucket';
    this.sleep = opts.sleep ?? defaultSleep;
  }

  async acquire(n: number): Promise<void> {
    let remaining = n;
    while (remaining > 0) {
      // Never ask for more than the bucket holds, or the request could never be granted.
      const take = Math.min(remaining, this.burst);
      const wait = Number(await this.redis.eval(LUA_TAKE, 1, this.key, this.opts.ratePerSecond, this.burst, take));
      if (wait === 0) remaining -= take;
      else await this.sleep(wait);
    }
  }
}

/** No limit (tests, and benches measuring raw throughput). */
export const unlimitedRateLimiter: EmissionRateLimiter = { acquire: async () => undefined };
