import { createHash } from 'node:crypto';
import type { RedisClient } from '../../lib/redis-client';
import type { AccuracySnapshot, PredictionOutcomeStore, PredictionRun, RecordedPrediction, UsageObservation } from './ports';

export interface RedisPredictionOutcomeStoreOptions {
  /** Prefix of every key (the platform's REDIS_KEY_PREFIX); keys share the hash tag `{prediction-accuracy}`. */
  keyPrefix?: string;
  /**
   * How long a run's counters are kept after its horizon closed. Must cover the metric's lookback (the
   * API's PREDICTION_ACCURACY_LOOKBACK_HOURS); the composition roots derive both from one setting.
   */
  retentionAfterHorizonMs?: number;
  /** Extra life of a member's key after its latest horizon ended (clock skew between processes). */
  memberKeyMarginMs?: number;
}

/*
 * Keys (one hash tag, so each script touches one cluster slot):
 *   <p>{prediction-accuracy}:m:<member hash>  HASH  run key → "<predictedAt>|<horizonEnd>|<P>|<used 0/1>"
 *                                              PEXPIRE: latest horizon end + margin
 *   <p>{prediction-accuracy}:counts           HASH  "<run key>|predicted", "<run key>|used"
 *   <p>{prediction-accuracy}:runs             ZSET  run key scored by horizon end (the metric's index)
 * Volume: one small hash per high-confidence member with an open horizon, two counters per run. A single
 * tag means one slot; if that ever becomes hot, shard counters and index by a tag derived from the run.
 */

// KEYS[1] runs zset, KEYS[2] counts hash, KEYS[3..] member keys.
// ARGV[1] run key, [2] predictedAt, [3] horizonEnd, [4] member key ttl ms, [5] counts ttl ms,
// [6] prune runs whose horizon ended before this, [7..] probability per member key.
const LUA_RECORD = `
local added = 0
for i = 3, #KEYS do
  local v = ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4 + i] .. '|0'
  if redis.call('HSETNX', KEYS[i], ARGV[1], v) == 1 then added = added + 1 end
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
end
redis.call('HINCRBY', KEYS[2], ARGV[1] .. '|predicted', added)
redis.call('HINCRBY', KEYS[2], ARGV[1] .. '|used', 0)
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6])
for _, r in ipairs(old) do redis.call('HDEL', KEYS[2], r .. '|predicted', r .. '|used') end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return added
`;

// KEYS[1] member key, KEYS[2] counts hash; ARGV[1] now. Marks open predictions whose horizon contains
// now; drops predictions whose horizon has ended (they can no longer be used).
const LUA_OBSERVE = `
local now = tonumber(ARGV[1])
local f = redis.call('HGETALL', KEYS[1])
local marked = 0
for i = 1, #f, 2 do
  local run, v = f[i], f[i + 1]
  local at, hend, p, used = string.match(v, '^(%d+)|(%d+)|([^|]*)|(%d)$')
  if at == nil or now >= tonumber(hend) then
    redis.call('HDEL', KEYS[1], run)
  elseif now >= tonumber(at) and used == '0' then
    redis.call('HSET', KEYS[1], run, at .. '|' .. hend .. '|' .. p .. '|1')
    if redis.call('HEXISTS', KEYS[2], run .. '|predicted') == 1 then redis.call('HINCRBY', KEYS[2], run .. '|used', 1) end
    marked = marked + 1
  end
end
return marked
`;

/** Sent by hash (EVALSHA) on the request path: the script body is not re-sent and re-hashed per interactive read. */
const OBSERVE_SHA = createHash('sha1').update(LUA_OBSERVE).digest('hex');

// Issue 14: several observations in one call. KEYS[1] counts hash, KEYS[2..] member keys (one per observation, a
// member may repeat); ARGV[i] the time of KEYS[i + 1]'s observation. The same steps as LUA_OBSERVE, in order, so a
// member observed twice is marked once; returns the marked count per observation.
const LUA_OBSERVE_MANY = `
local out = {}
for k = 2, #KEYS do
  local now = tonumber(ARGV[k - 1])
  local f = redis.call('HGETALL', KEYS[k])
  local marked = 0
  for i = 1, #f, 2 do
    local run, v = f[i], f[i + 1]
    local at, hend, p, used = string.match(v, '^(%d+)|(%d+)|([^|]*)|(%d)$')
    if at == nil or now >= tonumber(hend) then
      redis.call('HDEL', KEYS[k], run)
    elseif now >= tonumber(at) and used == '0' then
      redis.call('HSET', KEYS[k], run, at .. '|' .. hend .. '|' .. p .. '|1')
      if redis.call('HEXISTS', KEYS[1], run .. '|predicted') == 1 then redis.call('HINCRBY', KEYS[1], run .. '|used', 1) end
      marked = marked + 1
    end
  end
  out[k - 1] = marked
end
return out
`;
const OBSERVE_MANY_SHA = createHash('sha1').update(LUA_OBSERVE_MANY).digest('hex');

// KEYS[1] runs zset, KEYS[2] counts hash; ARGV[1] from (inclusive), ARGV[2] now (inclusive).
const LUA_ACCURACY = `
local runs = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
local predicted, used = 0, 0
for _, r in ipairs(runs) do
  predicted = predicted + tonumber(redis.call('HGET', KEYS[2], r .. '|predicted') or '0')
  used = used + tonumber(redis.call('HGET', KEYS[2], r .. '|used') or '0')
end
return { predicted, used, #runs }
`;

/** Redis adapter of PredictionOutcomeStore: every operation is one script call (one round trip). */
export class RedisPredictionOutcomeStore implements PredictionOutcomeStore {
  private readonly base: string;
  private readonly retentionMs: number;
  private readonly marginMs: number;

  constructor(
    private readonly redis: RedisClient,
    opts: RedisPredictionOutcomeStoreOptions = {},
  ) {
    this.base = `${opts.keyPrefix ?? 'rte:'}{prediction-accuracy}:`;
    this.retentionMs = opts.retentionAfterHorizonMs ?? 8 * 24 * 3_600_000;
    this.marginMs = opts.memberKeyMarginMs ?? 3_600_000;
  }

  private memberKey(memberHash: string): string {
    return `${this.base}m:${memberHash}`;
  }

  async recordPredictions(run: PredictionRun, predictions: readonly RecordedPrediction[], now: number): Promise<number> {
    if (predictions.length === 0 || run.horizonEnd <= now) return 0;
    const memberTtl = run.horizonEnd - now + this.marginMs;
    const countsTtl = run.horizonEnd - now + this.retentionMs;
    const res = await this.redis.eval(
      LUA_RECORD,
      2 + predictions.length,
      `${this.base}runs`,
      `${this.base}counts`,
      ...predictions.map((p) => this.memberKey(p.memberHash)),
      run.runKey,
      Math.floor(run.predictedAt),
      Math.floor(run.horizonEnd),
      Math.ceil(memberTtl),
      Math.ceil(countsTtl),
      Math.floor(now - this.retentionMs),
      ...predictions.map((p) => p.probability.toFixed(4)),
    );
    return Number(res);
  }

  async observeUsage(memberHash: string, at: number): Promise<number> {
    const args = [this.memberKey(memberHash), `${this.base}counts`, Math.floor(at)] as const;
    try {
      return Number(await this.redis.evalsha(OBSERVE_SHA, 2, ...args));
    } catch (err) {
      // First call on this Redis (or after SCRIPT FLUSH / a restart): EVAL loads the script.
      if (!(err instanceof Error && err.message.includes('NOSCRIPT'))) throw err;
      return Number(await this.redis.eval(LUA_OBSERVE, 2, ...args));
    }
  }

  /** Several observations in one round trip (one script call; every key shares the hash tag, so one cluster slot). */
  async observeUsageBatch(observations: readonly UsageObservation[]): Promise<number[]> {
    if (observations.length === 0) return [];
    const args: (string | number)[] = [`${this.base}counts`];
    for (const o of observations) args.push(this.memberKey(o.memberHash));
    for (const o of observations) args.push(Math.floor(o.at));
    let res: unknown;
    try {
      res = await this.redis.evalsha(OBSERVE_MANY_SHA, 1 + observations.length, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.includes('NOSCRIPT'))) throw err;
      res = await this.redis.eval(LUA_OBSERVE_MANY, 1 + observations.length, ...args);
    }
    return (res as unknown[]).map(Number);
  }

  async accuracy(now: number, lookbackMs: number): Promise<AccuracySnapshot> {
    const [predicted, used, runs] = (await this.redis.eval(LUA_ACCURACY, 2, `${this.base}runs`, `${this.base}counts`, Math.floor(now - lookbackMs), Math.floor(now))) as [
      number,
      number,
      number,
    ];
    return { predicted, used, runs };
  }
}
