import type { Redis } from 'ioredis';
import type { ClaimOutcome, EmissionLedger } from './ports';

export interface RedisEmissionLedgerOptions {
  keyPrefix?: string;
  /** How long "emitted" markers live; reruns of a tick older than this rely on consumer de-duplication. */
  doneTtlSeconds?: number;
  /** Lease of an in-progress claim; a crashed attempt's claims free up after this. */
  leaseMs?: number;
}

const DONE = 'done';
const doneBy = (token: string) => `${DONE}:${token}`;
const DEAD = 'dead';
const deadBy = (token: string) => `${DEAD}:${token}`;

// KEYS = marker keys; ARGV[1] token, ARGV[2] lease ms. Per key: 1 claimed, 2 done by another run,
// 3 busy, 4 done by this token (an earlier attempt of the same activity), 5 dead-lettered by this token.
// Markers are the lease token while publishing, 'done:<token>' (or the legacy plain 'done') once emitted
// and 'dead:<token>' once dead-lettered; another run may claim a dead-lettered event again.
const LUA_CLAIM = `
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('SET', k, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = 1
  else
    local v = redis.call('GET', k)
    if v == false then redis.call('SET', k, ARGV[1], 'PX', ARGV[2]); out[i] = 1
    elseif v == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]); out[i] = 1
    elseif v == 'done:' .. ARGV[1] then out[i] = 4
    elseif v == 'dead:' .. ARGV[1] then out[i] = 5
    elseif string.sub(v, 1, 5) == 'dead:' then redis.call('SET', k, ARGV[1], 'PX', ARGV[2]); out[i] = 1
    elseif v == 'done' or string.sub(v, 1, 5) == 'done:' then out[i] = 2
    else out[i] = 3 end
  end
end
return out
`;
const LUA_RELEASE = `
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k); n = n + 1 end
end
return n
`;

/**
 * Redis emission markers. Keys are per event id (no hash tag: each key is independent, and the scripts
 * are called with keys of one page; in Redis Cluster call them per slot or add a tag per schedule tick).
 */
export class RedisEmissionLedger implements EmissionLedger {
  private readonly prefix: string;
  private readonly doneTtl: number;
  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    opts: RedisEmissionLedgerOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? 'rte:member-cron:emitted:';
    this.doneTtl = opts.doneTtlSeconds ?? 8 * 24 * 3600;
    this.leaseMs = opts.leaseMs ?? 120_000;
  }

  private keys(ids: readonly string[]): string[] {
    return ids.map((id) => this.prefix + id);
  }

  async claim(eventIds: readonly string[], token: string): Promise<ClaimOutcome[]> {
    if (eventIds.length === 0) return [];
    const r = (await this.redis.eval(LUA_CLAIM, eventIds.length, ...this.keys(eventIds), token, this.leaseMs)) as number[];
    return r.map((x) => (x === 1 ? 'claimed' : x === 2 ? 'done' : x === 4 ? 'emitted-by-token' : x === 5 ? 'dead-lettered-by-token' : 'busy'));
  }

  async markDone(eventIds: readonly string[], token: string): Promise<void> {
    if (eventIds.length === 0) return;
    const p = this.redis.pipeline();
    for (const k of this.keys(eventIds)) p.set(k, doneBy(token), 'EX', this.doneTtl);
    const res = await p.exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async markDeadLettered(eventIds: readonly string[], token: string): Promise<void> {
    if (eventIds.length === 0) return;
    const p = this.redis.pipeline();
    for (const k of this.keys(eventIds)) p.set(k, deadBy(token), 'EX', this.doneTtl);
    const res = await p.exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async release(eventIds: readonly string[], token: string): Promise<void> {
    if (eventIds.length === 0) return;
    await this.redis.eval(LUA_RELEASE, eventIds.length, ...this.keys(eventIds), token);
  }
}

/** In-process ledger for unit tests. */
export class InMemoryEmissionLedger implements EmissionLedger {
  readonly markers = new Map<string, string>();
  async claim(eventIds: readonly string[], token: string): Promise<ClaimOutcome[]> {
    return eventIds.map((id) => {
      const v = this.markers.get(id);
      if (v === undefined || v === token || (v.startsWith(`${DEAD}:`) && v !== deadBy(token))) {
        this.markers.set(id, token);
        return 'claimed';
      }
      if (v === doneBy(token)) return 'emitted-by-token';
      if (v === deadBy(token)) return 'dead-lettered-by-token';
      return v === DONE || v.startsWith(`${DONE}:`) ? 'done' : 'busy';
    });
  }
  async markDone(eventIds: readonly string[], token: string): Promise<void> {
    for (const id of eventIds) this.markers.set(id, doneBy(token));
  }
  async markDeadLettered(eventIds: readonly string[], token: string): Promise<void> {
    for (const id of eventIds) this.markers.set(id, deadBy(token));
  }
  async release(eventIds: readonly string[], token: string): Promise<void> {
    for (const id of eventIds) if (this.markers.get(id) === token) this.markers.delete(id);
  }
}
