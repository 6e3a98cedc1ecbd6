import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { createGroupCommit } from '../../lib/group-commit';
import { silentLogger, type Logger } from '../../lib/logger';
import { memberOperationHash } from './cache-key';
import {
  DEFAULT_CACHE_TTL,
  DEFAULT_RETENTION_SECONDS,
  type CachePutInput,
  type CachePutResult,
  type CacheTtl,
  type EligibilityCache,
  type EligibilityCacheEntry,
  type MemberOperation,
  type PayerErrorRecord,
} from './types';

function isPayerErrorRecord(v: Partial<PayerErrorRecord> | null): v is PayerErrorRecord {
  return typeof v === 'object' && v !== null && typeof v.fetchedAt === 'number' && typeof v.expiresAt === 'number' && typeof v.summary === 'object' && v.summary !== null;
}

type RedisClient = Redis | Cluster;

export interface RedisEligibilityCacheOptions {
  readonly redis: RedisClient;
  /** HMAC secret for member ids (config CACHE_KEY_SECRET). Rotating it orphans existing entries. */
  readonly keySecret: string;
  /** Logical TTLs. Default 22 h success / 5 min error. */
  readonly ttl?: CacheTtl;
  /** Physical retention (Redis EXPIRE) so stale entries can still be served. Default 7 days. */
  readonly retentionSeconds?: number;
  /** Default 'rte:' → entries at `rte:elig:<hash>`, refresh claims at `rte:elig-refresh:<hash>`. */
  readonly keyPrefix?: string;
  readonly logger?: Logger;
  /** Keys per MGET in getMany (default 500); GraphQL's bulk read uses its page size so a page is one round trip. */
  readonly maxKeysPerRead?: number;
  /**
   * Issue 14 (the API's read path): remember, for up to this many keys, the stored bytes last read and their parsed
   * entry, so a hot entry is parsed once and the same (deep-frozen) object is returned while its stored bytes are the
   * same; callers may then memoize what they derive from it. Default 0 (off: every read parses, and entries are the
   * caller's to change).
   */
  readonly parsedEntryMemo?: number;
  /**
   * Issue 14 (the API's read path): single-key reads made while an earlier one is out go to Redis together as one
   * MGET (group commit: an idle cache reads at once, no timer, no added wait). Under load this turns N socket writes
   * and N Redis command dispatches into one; with one caller nothing changes. On a Redis Cluster (entry keys span
   * slots, so MGET would be refused with CROSSSLOT) reads stay one GET each. Default false.
   */
  readonly groupReads?: boolean;
}

/**
 * Conditional write: never replace a later answer with an earlier one (a slow batch result arriving after a
 * real-time refresh), and never replace a still-fresh success with an error (one failed refresh during a
 * payer outage must not take good data away from every other caller). A "retry later" error (ARGV[5] = '1',
 * payer connectivity AAA 42/79/80) does not replace an *expired* success either: it is stored beside it as
 * `lastPayerError` (the success keeps its bytes and its remaining retention), so stale serving survives the outage
 * while the error still works as the 5-minute negative cache. A definitive error replaces an expired success.
 * KEYS[1] entry; ARGV[1] JSON, ARGV[2] fetchedAt, ARGV[3] outcome, ARGV[4] retention seconds, ARGV[5] retry-later
 * flag, ARGV[6] error TTL seconds.
 *
 * The merged value is spliced as text, not re-encoded with cjson: cjson turns an empty JSON array into `{}`, which
 * would change the stored summary. `lastPayerError` is always the last top-level key (this script appends it), so
 * the part before its last occurrence is the success exactly as written; the summary is JSON.stringify output,
 * where the key can only occur as a key.
 */
const PUT_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, e = pcall(cjson.decode, cur)
  if ok and type(e) == 'table' then
    local fetched = tonumber(ARGV[2])
    local fa = tonumber(e.fetchedAt)
    if fa and fa > fetched then return {0, 'newer-entry', cur} end
    local le = e.lastPayerError
    if type(le) == 'table' and tonumber(le.fetchedAt) and tonumber(le.fetchedAt) > fetched and ARGV[3] == 'error' then return {0, 'newer-entry', cur} end
    local exp = tonumber(e.expiresAt)
    if ARGV[3] == 'error' and e.outcome == 'success' and exp and exp > fetched then return {0, 'fresh-success-kept', cur} end
    if ARGV[3] == 'error' and ARGV[5] == '1' and e.outcome == 'success' then
      local base = cur
      local from = nil
      local i = 0
      while true do
        i = string.find(cur, ',"lastPayerError":', i + 1, true)
        if not i then break end
        from = i
      end
      if from then base = string.sub(cur, 1, from - 1) .. '}' end
      local merged = string.sub(base, 1, -2) .. ',"lastPayerError":' .. ARGV[1] .. '}'
      local left = redis.call('TTL', KEYS[1])
      if left >= tonumber(ARGV[6]) then
        redis.call('SET', KEYS[1], merged, 'KEEPTTL')
      else
        redis.call('SET', KEYS[1], merged, 'EX', ARGV[6])
      end
      return {1, 'kept-beside-success'}
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
return {1}
`;
const PUT_SHA = createHash('sha1').update(PUT_SCRIPT).digest('hex');

const CHUNK = 500;
/** An MGET out this long (ms) counts as stalled: later reads stop queueing behind it (see `groupReads`). */
const GROUP_READ_STALL_MS = 100;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

export function createRedisEligibilityCache(options: RedisEligibilityCacheOptions): EligibilityCache {
  const { redis, keySecret } = options;
  const ttl = options.ttl ?? DEFAULT_CACHE_TTL;
  const retentionSeconds = options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS;
  const prefix = options.keyPrefix ?? 'rte:';
  const log = options.logger ?? silentLogger();
  if (keySecret.length === 0) throw new RangeError('keySecret must not be empty');
  if (!(ttl.successSeconds > 0 && ttl.errorSeconds > 0)) throw new RangeError('ttl seconds must be positive');
  if (retentionSeconds < Math.max(ttl.successSeconds, ttl.errorSeconds)) throw new RangeError('retentionSeconds must be at least the logical TTL');
  const isCluster = (redis as { isCluster?: boolean }).isCluster === true;

  const entryKey = (memberId: string, operation: string): string => `${prefix}elig:${memberOperationHash(keySecret, memberId, operation)}`;
  const claimKey = (memberId: string, operation: string): string => `${prefix}elig-refresh:${memberOperationHash(keySecret, memberId, operation)}`;
  const promotedKey = (memberId: string, operation: string): string => `${prefix}elig-interactive:${memberOperationHash(keySecret, memberId, operation)}`;

  const memoMax = options.parsedEntryMemo ?? 0;
  // Issue 14: per key, the stored bytes last read there and their parsed, deep-frozen entry. A read compares the
  // reply's bytes with them (a memcmp) instead of decoding the 1.6 KB reply to a string and hashing it as a map key.
  const memo = new Map<string, { bytes: Buffer; entry: EligibilityCacheEntry }>();

  function parse(raw: string | null, key: string): EligibilityCacheEntry | null {
    return raw === null ? null : parseRaw(raw, key);
  }

  function parseRemembered(raw: Buffer | null, key: string): EligibilityCacheEntry | null {
    if (raw === null) return null;
    const known = memo.get(key);
    if (known && known.bytes.equals(raw)) return known.entry;
    const entry = parseRaw(raw.toString('utf8'), key);
    if (!entry) {
      memo.delete(key);
      return null;
    }
    if (!known && memo.size >= memoMax) memo.delete(memo.keys().next().value as string);
    // A copy: the reply may be a view into a much larger socket or parser buffer, which it would keep alive.
    memo.set(key, { bytes: Buffer.from(raw), entry: deepFreeze(entry) });
    return entry;
  }

  function parseRaw(raw: string, key: string): EligibilityCacheEntry | null {
    try {
      const v = JSON.parse(raw) as Partial<EligibilityCacheEntry>;
      if (
        typeof v === 'object' &&
        v !== null &&
        typeof v.fetchedAt === 'number' &&
        typeof v.expiresAt === 'number' &&
        (v.outcome === 'success' || v.outcome === 'error') &&
        typeof v.summary === 'object' &&
        v.summary !== null
      ) {
        const le = (v as { lastPayerError?: Partial<PayerErrorRecord> }).lastPayerError;
        if (le === undefined || (v.outcome === 'success' && isPayerErrorRecord(le))) return v as EligibilityCacheEntry;
        // A malformed kept error is dropped, not the good answer beside it.
        const { lastPayerError: _dropped, ...rest } = v as EligibilityCacheEntry;
        log.warn({ key }, 'eligibility cache: unreadable kept payer error ignored');
        return rest;
      }
    } catch {
      // fall through: treat as a miss
    }
    log.warn({ key }, 'eligibility cache: unreadable entry treated as a miss');
    return null;
  }

  async function mget(keys: readonly string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    const chunkSize = options.maxKeysPerRead ?? CHUNK;
    for (let i = 0; i < keys.length; i += chunkSize) {
      const chunk = keys.slice(i, i + chunkSize);
      if (!isCluster) {
        out.push(...(await redis.mget(...chunk)));
        continue;
      }
      // Entry keys hash to different cluster slots, so MGET would fail there (CROSSSLOT), and so would one pipeline
      // (ioredis keeps a cluster pipeline on one node): one GET per key, all sent at once, each routed to its node.
      out.push(...(await Promise.all(chunk.map((k) => redis.get(k)))));
    }
    return out;
  }

  async function mgetBuffers(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const out: (Buffer | null)[] = [];
    const chunkSize = options.maxKeysPerRead ?? CHUNK;
    for (let i = 0; i < keys.length; i += chunkSize) {
      const chunk = keys.slice(i, i + chunkSize);
      if (!isCluster) out.push(...(await redis.mgetBuffer(...chunk)));
      else out.push(...(await Promise.all(chunk.map((k) => redis.getBuffer(k)))));
    }
    return out;
  }

  // One MGET per group of concurrent single-key reads (see `groupReads`); each read gets its own key's reply.
  let mgetSentAt = 0;
  const groupedReads =
    options.groupReads === true && !isCluster
      ? createGroupCommit<string, Buffer | null>(
          async (keys) => {
            mgetSentAt = Date.now();
            try {
              return (await (redis as Redis).mgetBuffer(...keys)).map((value) => ({ status: 'fulfilled' as const, value }));
            } finally {
              mgetSentAt = 0;
            }
          },
          { maxItems: options.maxKeysPerRead ?? CHUNK },
        )
      : undefined;
  // While an MGET has been out for longer than a healthy round trip (Redis slow or hung), reads go out on their own
  // instead of queueing behind it: each then meets the client's command deadline from its own start, as without
  // grouping, rather than waiting for the stuck MGET's deadline first and then its own.
  const readBuffer = (key: string): Promise<Buffer | null> =>
    groupedReads && (mgetSentAt === 0 || Date.now() - mgetSentAt < GROUP_READ_STALL_MS) ? groupedReads.add(key) : redis.getBuffer(key);

  type PutReply = [number, string?, string?];
  interface PutWrite {
    key: string;
    entry: EligibilityCacheEntry;
    args: (string | number)[];
  }
  function putArgs(input: CachePutInput): PutWrite {
    const key = entryKey(input.memberId, input.operation);
    const ttlSeconds = input.outcome === 'success' ? ttl.successSeconds : ttl.errorSeconds;
    const entry: EligibilityCacheEntry = {
      summary: input.summary,
      fetchedAt: input.fetchedAt,
      expiresAt: input.fetchedAt + ttlSeconds * 1000,
      source: input.source,
      ...(input.stediCheckId !== undefined ? { stediCheckId: input.stediCheckId } : {}),
      outcome: input.outcome,
    };
    return { key, entry, args: [JSON.stringify(entry), input.fetchedAt, input.outcome, retentionSeconds, input.retryLater === true ? '1' : '0', ttl.errorSeconds] };
  }
  function putResult(w: PutWrite, res: PutReply): CachePutResult {
    if (res[0] === 1) return { written: true, entry: w.entry, ...(res[1] === 'kept-beside-success' ? { keptBesideSuccess: true as const } : {}) };
    const existing = parse(res[2] ?? null, w.key);
    if (!existing) throw new Error('eligibility cache: conditional put kept an unreadable entry');
    return { written: false, reason: res[1] === 'newer-entry' ? 'newer-entry' : 'fresh-success-kept', entry: existing };
  }
  const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.includes('NOSCRIPT');

  const cache: EligibilityCache = {
    async get(memberId, operation) {
      const key = entryKey(memberId, operation);
      if (memoMax > 0) return parseRemembered(await readBuffer(key), key);
      if (groupedReads) return parse((await readBuffer(key))?.toString('utf8') ?? null, key);
      return parse(await redis.get(key), key);
    },

    async getMany(pairs: readonly MemberOperation[]) {
      if (pairs.length === 0) return [];
      const keys = pairs.map((p) => entryKey(p.memberId, p.operation));
      if (memoMax > 0) return (await mgetBuffers(keys)).map((r, i) => parseRemembered(r, keys[i]!));
      const raw = await mget(keys);
      return raw.map((r, i) => parse(r, keys[i]!));
    },

    async put(input: CachePutInput): Promise<CachePutResult> {
      const w = putArgs(input);
      let res: PutReply;
      try {
        res = (await redis.evalsha(PUT_SHA, 1, w.key, ...w.args)) as PutReply;
      } catch (err) {
        if (!isNoScript(err)) throw err;
        res = (await redis.eval(PUT_SCRIPT, 1, w.key, ...w.args)) as PutReply;
      }
      return putResult(w, res);
    },

    async putMany(inputs: readonly CachePutInput[]): Promise<PromiseSettledResult<CachePutResult>[]> {
      if (inputs.length === 0) return [];
      // Entry keys hash to different cluster slots, so one pipeline only on a single Redis.
      if (isCluster) return Promise.allSettled(inputs.map((i) => cache.put(i)));
      const writes = inputs.map(putArgs);
      const run = async (script: boolean, which: number[]): Promise<(readonly [Error | null, unknown])[]> => {
        const p = redis.pipeline();
        for (const k of which) {
          const w = writes[k]!;
          if (script) p.eval(PUT_SCRIPT, 1, w.key, ...w.args);
          else p.evalsha(PUT_SHA, 1, w.key, ...w.args);
        }
        return ((await p.exec()) ?? []) as (readonly [Error | null, unknown])[];
      };
      const replies = await run(false, writes.map((_, k) => k));
      // The script cache was flushed (Redis restarted): the writes that missed it run the script itself.
      const missed = replies.flatMap((r, k) => (r[0] && isNoScript(r[0]) ? [k] : []));
      if (missed.length > 0) {
        const again = await run(true, missed);
        missed.forEach((k, j) => (replies[k] = again[j] ?? [new Error('eligibility cache: pipeline reply missing'), null]));
      }
      return writes.map((w, k): PromiseSettledResult<CachePutResult> => {
        const [err, res] = replies[k] ?? [new Error('eligibility cache: pipeline reply missing'), null];
        if (err) return { status: 'rejected', reason: err };
        try {
          return { status: 'fulfilled', value: putResult(w, res as PutReply) };
        } catch (e) {
          return { status: 'rejected', reason: e };
        }
      });
    },

    async invalidate(memberId, operation) {
      await redis.del(entryKey(memberId, operation));
    },

    async tryClaimRefresh(memberId, operation, ttlSeconds) {
      if (!(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) throw new RangeError('ttlSeconds must be a positive integer');
      return (await redis.set(claimKey(memberId, operation), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
    },

    async releaseRefresh(memberId, operation) {
      await redis.del(claimKey(memberId, operation));
    },

    async promoteRefresh(memberId, operation, ttlSeconds) {
      if (!(Number.isInteger(ttlSeconds) && ttlSeconds > 0)) throw new RangeError('ttlSeconds must be a positive integer');
      await redis.set(promotedKey(memberId, operation), '1', 'EX', ttlSeconds);
    },

    async isRefreshPromoted(memberId, operation) {
      return (await redis.exists(promotedKey(memberId, operation))) === 1;
    },
  };
  return cache;
}
