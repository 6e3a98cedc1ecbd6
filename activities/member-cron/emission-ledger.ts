import { createHash } from 'node:crypto';
import { isClusterClient, type RedisClient } from '../../lib/redis-client';
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

const LUA_CLAIM_SHA = createHash('sha1').update(LUA_CLAIM).digest('hex');
const LUA_RELEASE_SHA = createHash('sha1').update(LUA_RELEASE).digest('hex');

/**
 * Redis emission markers, one key per event id, `<prefix><event id>`, without a hash tag: each marker is decided on
 * its own (the scripts loop over their keys with no condition across keys), so a page's claim is exactly the claims
 * of its events one by one. On a single Redis a page is one script call. On a Redis Cluster (docs/scaling.md) the
 * keys of a page hash to different slots (CROSSSLOT in one call), so each event's marker is claimed, released and
 * marked by its own call, all sent at once; the key layout is the same in both, so markers written before a move to
 * a cluster, or by an older version, are still seen by every claim.
 */
export class RedisEmissionLedger implements EmissionLedger {
  private readonly prefix: string;
  private readonly doneTtl: number;
  private readonly leaseMs: number;

  constructor(
    private readonly redis: RedisClient,
    opts: RedisEmissionLedgerOptions = {},
  ) {
    this.prefix = opts.keyPrefix ?? 'rte:member-cron:emitted:';
    this.doneTtl = opts.doneTtlSeconds ?? 8 * 24 * 3600;
    this.leaseMs = opts.leaseMs ?? 120_000;
  }

  private keys(ids: readonly string[]): string[] {
    return ids.map((id) => this.prefix + id);
  }

  /** One script call on a single Redis; on a cluster one call per key (a page's keys span slots). */
  private async script(lua: string, sha: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown[]> {
    const run = async (ks: readonly string[]): Promise<unknown> => {
      try {
        return await this.redis.evalsha(sha, ks.length, ...ks, ...args);
      } catch (err) {
        if (!(err instanceof Error && err.message.includes('NOSCRIPT'))) throw err;
        return this.redis.eval(lua, ks.length, ...ks, ...args);
      }
    };
    if (!isClusterClient(this.redis)) return [await run(keys)];
    return Promise.all(keys.map((k) => run([k])));
  }

  /** SET of every key: one pipeline on a single Redis; on a cluster one command per key (a pipeline must stay on one node). */
  private async setAll(keys: readonly string[], value: string): Promise<void> {
    if (isClusterClient(this.redis)) {
      await Promise.all(keys.map((k) => this.redis.set(k, value, 'EX', this.doneTtl)));
      return;
    }
    const p = this.redis.pipeline();
    for (const k of keys) p.set(k, value, 'EX', this.doneTtl);
    const res = await p.exec();
    const failed = res?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async claim(eventIds: readonly string[], token: string): Promise<ClaimOutcome[]> {
    if (eventIds.length === 0) return [];
    const r = (await this.script(LUA_CLAIM, LUA_CLAIM_SHA, this.keys(eventIds), [token, this.leaseMs])).flat() as number[];
    return r.map((x) => (x === 1 ? 'claimed' : x === 2 ? 'done' : x === 4 ? 'emitted-by-token' : x === 5 ? 'dead-lettered-by-token' : 'busy'));
  }

  async markDone(eventIds: readonly string[], token: string): Promise<void> {
    if (eventIds.length === 0) return;
    await this.setAll(this.keys(eventIds), doneBy(token));
  }

  async markDeadLettered(eventIds: readonly string[], token: string): Promise<void> {
    if (eventIds.length === 0) return;
    await this.setAll(this.keys(eventIds), deadBy(token));
  }

  async release(eventIds: readonly string[], token: string): Promise<void> {
    if (eventIds.length === 0) return;
    await this.script(LUA_RELEASE, LUA_RELEASE_SHA, this.keys(eventIds), [token]);
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
