/**
 * Lua scripts of the Redis slot pool. Every decision (purge expired leases and tickets, grant free slots,
 * pick the batch queue by WDRR) runs inside one script so it is atomic across worker processes.
 *
 * Key layout (P = `<keyPrefix>{rte-slots}:`; the hash tag puts every key in one Redis Cluster slot):
 *   P.li / P.lb   sorted sets of interactive / batch leases, member = lease id, score = expiry (ms, server TIME)
 *   P.t           sorted set of waiting tickets, score = heartbeat expiry (ms)
 *   P.tq          hash ticket id -> queue id
 *   P.q:<queue>   sorted set of a queue's tickets, score = arrival sequence (FIFO)
 *   P.bq          sorted set (all scores 0, so byte order) of batch queues that have waiters
 *   P.w           hash batch queue -> integer WDRR quantum
 *   P.d           hash batch queue -> integer WDRR deficit
 *   P.cur         WDRR cursor (queue id)
 *   P.seq         arrival counter
 *   P.ev          pub/sub channel; a JSON array of ticket ids granted to waiters of other processes is published
 *                 after each grant (a process's own grants come back in its OPS_SCRIPT reply)
 *   P.al          hash {base, at, rec}: adaptive limit after Stedi 429s (effective limit = base + 1 per rec ms since
 *                 at, up to the limit; the key is dropped once recovered). Absent: the full limit.
 *   P.ep / P.qu   pool epoch (set on first use, never expires) / quarantine end (ms): see STATE LOSS below.
 * Queue keys P.q:<queue> are built inside the scripts from the prefix; they share the hash tag, so they live
 * in the same cluster slot as the declared KEYS (the pattern BullMQ uses).
 *
 * A granted ticket becomes a lease with the same id and a short pickup expiry; the waiter renews it to the
 * full lease TTL as soon as it sees the grant, so a waiter that died between heartbeat and grant costs the
 * pool at most the pickup window. Exception: a grant made by the waiter's own process's OPS_SCRIPT call is a lease
 * of the full TTL at once, returned in that call's reply (the process is alive and reading it).
 */

export const KEY_NAMES = ['li', 'lb', 't', 'tq', 'bq', 'w', 'd', 'cur', 'seq'] as const;
export const INTERACTIVE_QUEUE = 'interactive';

/** WDRR pick; mirrors lib/wdrr.ts wdrrPick exactly (integer credits, byte-order successor). */
export const LUA_WDRR = `
local COST = 1000
local function bytes_lt(a, b)
  local la, lb = #a, #b
  local n = la
  if lb < n then n = lb end
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la < lb
end

-- ids: active queue ids in byte order; quanta/deficits: id -> integer (deficits pre-filled, 0 default)
local function wdrr_pick(ids, quanta, deficits, cursor)
  local n = #ids
  if n == 0 then return nil, cursor end
  local idx = nil
  if cursor then
    for i = 1, n do if ids[i] == cursor then idx = i; break end end
  end
  if idx and deficits[cursor] >= COST then
    deficits[cursor] = deficits[cursor] - COST
    return cursor, cursor
  end
  local nxt = 1
  if idx then
    nxt = idx % n + 1
  elseif cursor then
    for i = 1, n do if bytes_lt(cursor, ids[i]) then nxt = i; break end end
  end
  for guard = 0, n * COST do
    local q = ids[nxt]
    local d = deficits[q] + quanta[q]
    if d >= COST then
      deficits[q] = d - COST
      return q, q
    end
    deficits[q] = d
    nxt = nxt % n + 1
  end
  error('wdrr_pick: unreachable')
end
`;

/**
 * Shared prologue: KEYS = KEY_NAMES in order; ARGV[1] prefix, ARGV[2] limit, ARGV[3] reserved interactive,
 * ARGV[4] adaptive batch cap table (comma list, index = interactive in use), ARGV[5] pickup ms.
 */
const LUA_PROLOGUE = `
local K_LI, K_LB, K_T, K_TQ, K_BQ, K_W, K_D, K_CUR, K_SEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local P = ARGV[1]
local LIMIT = tonumber(ARGV[2])
local RESERVED = tonumber(ARGV[3])
local CAP = {}
for v in string.gmatch(ARGV[4], '[^,]+') do CAP[#CAP + 1] = tonumber(v) end
local PICKUP_MS = tonumber(ARGV[5])
local function qkey(q) return P .. 'q:' .. q end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
${LUA_WDRR}
local function purge(now)
  redis.call('ZREMRANGEBYSCORE', K_LI, '-inf', now)
  redis.call('ZREMRANGEBYSCORE', K_LB, '-inf', now)
  local dead = redis.call('ZRANGEBYSCORE', K_T, '-inf', now, 'LIMIT', 0, 1000)
  for _, t in ipairs(dead) do
    local q = redis.call('HGET', K_TQ, t)
    if q then redis.call('ZREM', qkey(q), t) end
    redis.call('HDEL', K_TQ, t)
    redis.call('ZREM', K_T, t)
  end
end

-- Effective limit: the configured limit, lowered by observed Stedi 429s (other users of the account hold
-- slots) and recovering by one slot per 'rec' ms without a 429 (additive increase; see lib/adaptive-rate.ts).
local function effective_limit(now)
  local a = redis.call('HMGET', P .. 'al', 'base', 'at', 'rec')
  if not a[1] then return LIMIT end
  local e = tonumber(a[1]) + math.floor((now - tonumber(a[2])) / math.max(1, tonumber(a[3])))
  if e >= LIMIT then
    redis.call('DEL', P .. 'al')
    return LIMIT
  end
  return e
end

-- STATE LOSS (see docs/reliability.md): the epoch key P.ep is created by EPOCH_SCRIPT, never by a grant. No slot
-- is granted while it is missing or while the quarantine P.qu runs, so after Redis lost the pool's state
-- (restart without persistence, failover to a lagging replica, FLUSH) live holders re-register their leases
-- (renewal re-adds a missing lease) before any slot is handed out again.
local function grants_allowed(now)
  if redis.call('EXISTS', P .. 'ep') == 0 then return false end
  return now >= tonumber(redis.call('GET', P .. 'qu') or '0')
end

-- OWN: the calling process's grants (OPS_SCRIPT): tickets whose id starts with OWN.prefix are the caller's own
-- waiters, alive now and reading this script's reply, so their grant is a lease of the full TTL (no pickup window,
-- nothing to publish) and is returned in OWN.granted. nil for the other scripts (every grant published).
local OWN = nil
local function is_own(t) return OWN ~= nil and string.sub(t, 1, #OWN.prefix) == OWN.prefix end

local function grant(t, q, lease_key, now)
  redis.call('ZREM', qkey(q), t)
  redis.call('HDEL', K_TQ, t)
  redis.call('ZREM', K_T, t)
  if is_own(t) then
    redis.call('ZADD', lease_key, now + OWN.ttl, t)
    OWN.granted[#OWN.granted + 1] = t
  else
    redis.call('ZADD', lease_key, now + PICKUP_MS, t)
  end
end

-- Grants free slots to waiters: interactive first, batch by WDRR within the reservation and adaptive cap.
local function schedule(now)
  purge(now)
  local inter = redis.call('ZCARD', K_LI)
  local batch = redis.call('ZCARD', K_LB)
  local granted = {}
  local published = {}
  if not grants_allowed(now) then return inter, batch, granted end
  local EFF = effective_limit(now)
  -- The interactive reservation shrinks with the effective limit, so batch keeps a share while others hold slots.
  local BATCH_MAX = EFF - math.floor(RESERVED * EFF / LIMIT)
  if inter + batch >= EFF then return inter, batch, granted end

  local ids = {}
  for _, id in ipairs(redis.call('ZRANGE', K_BQ, 0, -1)) do
    if redis.call('ZCARD', qkey(id)) > 0 then
      ids[#ids + 1] = id
    else
      redis.call('ZREM', K_BQ, id)
      redis.call('HDEL', K_D, id)
    end
  end
  local quanta, deficits = {}, {}
  if #ids > 0 then
    local qs = redis.call('HMGET', K_W, unpack(ids))
    local ds = redis.call('HMGET', K_D, unpack(ids))
    for i, id in ipairs(ids) do
      quanta[id] = tonumber(qs[i]) or COST
      deficits[id] = tonumber(ds[i]) or 0
    end
  end
  local cursor = redis.call('GET', K_CUR)
  if not cursor then cursor = nil end
  local touched = false

  while inter + batch < EFF do
    local head = redis.call('ZRANGE', qkey('${INTERACTIVE_QUEUE}'), 0, 0)
    if #head > 0 then
      grant(head[1], '${INTERACTIVE_QUEUE}', K_LI, now)
      granted[#granted + 1] = head[1]
      if not is_own(head[1]) then published[#published + 1] = head[1] end
      inter = inter + 1
    else
      local cap = CAP[inter + 1] or 0
      if #ids == 0 or batch >= BATCH_MAX or batch >= cap then break end
      local pick
      pick, cursor = wdrr_pick(ids, quanta, deficits, cursor)
      touched = true
      local h = redis.call('ZRANGE', qkey(pick), 0, 0)
      grant(h[1], pick, K_LB, now)
      granted[#granted + 1] = h[1]
      if not is_own(h[1]) then published[#published + 1] = h[1] end
      batch = batch + 1
      if redis.call('ZCARD', qkey(pick)) == 0 then
        for i, id in ipairs(ids) do if id == pick then table.remove(ids, i); break end end
        deficits[pick] = nil
        redis.call('ZREM', K_BQ, pick)
        redis.call('HDEL', K_D, pick)
      end
    end
  end

  if touched then
    for _, id in ipairs(ids) do redis.call('HSET', K_D, id, deficits[id]) end
    if cursor then redis.call('SET', K_CUR, cursor) end
  end
  if #published > 0 then redis.call('PUBLISH', P .. 'ev', cjson.encode(published)) end
  return inter, batch, granted
end
`;

/**
 * Heartbeat for this process's waiting tickets, plus a scheduling pass (which is what returns a dead
 * holder's slots). ARGV[6] ticket ttl ms, ARGV[7..] tickets. Returns {inter, batch, status...} with status
 * 'g' granted, 'w' waiting, 'x' gone (heartbeat expired).
 */
export const POLL_SCRIPT = `${LUA_PROLOGUE}
local now = now_ms()
local inter, batch = schedule(now)
local out = {inter, batch}
local ttl = tonumber(ARGV[6])
for i = 7, #ARGV do
  local t = ARGV[i]
  if redis.call('ZSCORE', K_LI, t) or redis.call('ZSCORE', K_LB, t) then
    out[#out + 1] = 'g'
  elseif redis.call('ZSCORE', K_T, t) then
    redis.call('ZADD', K_T, 'XX', now + ttl, t)
    out[#out + 1] = 'w'
  else
    out[#out + 1] = 'x'
  end
end
return out
`;

/**
 * ARGV[1] lease id, ARGV[2] lease ttl ms, ARGV[3] '' (confirm a fresh grant: a missing lease is lost) or 'i'/'b'
 * (a call is running on it: a missing or expired lease is re-registered in that set, because Stedi still counts
 * the call). Returns 1 renewed, 2 re-registered, 0 lost.
 */
export const RENEW_SCRIPT = `
local now
do
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local id = ARGV[1]
for _, k in ipairs({KEYS[1], KEYS[2]}) do
  local s = redis.call('ZSCORE', k, id)
  if s then
    if tonumber(s) > now then
      redis.call('ZADD', k, 'XX', now + tonumber(ARGV[2]), id)
      return 1
    end
    redis.call('ZREM', k, id)
    if ARGV[3] == '' then return 0 end
  end
end
if ARGV[3] == 'i' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
  return 2
elseif ARGV[3] == 'b' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
  return 2
end
return 0
`;

/**
 * The pool epoch. ARGV[6] the epoch this process last saw ('' = none), ARGV[7] quarantine ms. Creates the epoch
 * when missing; if the caller had seen one (state was lost), or the epoch is younger than the quarantine and
 * differs from what the caller saw (a fresh process created it first), no slot is granted until the epoch is
 * ARGV[7] ms old. Then runs a scheduling pass. Returns {inter, batch, epoch, quarantine ms left}.
 */
export const EPOCH_SCRIPT = `${LUA_PROLOGUE}
local now = now_ms()
local seen, qms = ARGV[6], tonumber(ARGV[7])
local ep = redis.call('GET', P .. 'ep')
if not ep then
  ep = tostring(now) .. '-' .. tostring(redis.call('INCR', P .. 'epn'))
  redis.call('SET', P .. 'ep', ep)
  if seen ~= '' and qms > 0 then redis.call('SET', P .. 'qu', now + qms, 'PX', qms) end
elseif seen ~= '' and seen ~= ep and qms > 0 then
  local born = tonumber(string.match(ep, '^(%d+)-')) or 0
  if born + qms > now then
    local qu = tonumber(redis.call('GET', P .. 'qu') or '0')
    if qu < born + qms then redis.call('SET', P .. 'qu', born + qms, 'PX', born + qms - now) end
  end
end
local left = math.max(0, tonumber(redis.call('GET', P .. 'qu') or '0') - now)
local inter, batch = schedule(now)
return {inter, batch, ep, left}
`;

/**
 * A Stedi 429 seen on a held lease: others use the account's slots. ARGV[6] recovery ms per slot. Lowers the
 * effective limit to the slots this pool held when Stedi refused (minus the refused call, at least 1), then
 * lets it grow back one slot per recovery period. Returns {inter, batch, effective limit}.
 */
export const THROTTLED_SCRIPT = `${LUA_PROLOGUE}
local now = now_ms()
purge(now)
local held = redis.call('ZCARD', K_LI) + redis.call('ZCARD', K_LB)
local eff = effective_limit(now)
local base = math.max(1, math.min(eff, held - 1))
redis.call('HSET', P .. 'al', 'base', base, 'at', now, 'rec', ARGV[6])
local inter, batch = schedule(now)
return {inter, batch, base}
`;

/**
 * Several slot operations of one process in one call (issue 14: multi-ticket grants; the client gathers what its
 * waiters and holders ask for while its previous call is out). ARGV[6] owner prefix (this process's ticket ids start
 * with it), [7] lease ttl ms (the caller's own grants), [8] ticket ttl ms, then the operations in order:
 *   'e', ticket, queue, 'i'|'b', quantum, '0'|'1'  enqueue a waiter's ticket at the back of its queue; '1' (ahead, a
 *                                                  retry): score seq - 2^50, ahead of the queue's first-time tickets
 *                                                  and FIFO among those that wait ahead
 *   'r', lease id                                  release: frees the slot
 *   'c', ticket                                    cancel (timeout/abort): withdraws the waiter, and frees a slot
 *                                                  granted to it meanwhile
 * One scheduling pass after the operations (not one after each, as one script per operation had), except that slots
 * a release or cancel freed are handed out before a later enqueue of the same call joins the queues, as with
 * separate calls. Grants to the caller's own tickets are leases of the full TTL returned
 * here (not published: the caller is alive and reads this reply, so they need no pickup window or confirmation);
 * grants to other processes' tickets are published with the pickup window as always.
 * Returns {inter, batch, own granted ticket...}.
 */
export const OPS_SCRIPT = `${LUA_PROLOGUE}
if ARGV[6] == '' then return redis.error_reply('slot pool OPS_SCRIPT: empty owner prefix') end
local now = now_ms()
OWN = { prefix = ARGV[6], ttl = tonumber(ARGV[7]), granted = {} }
local ticket_ttl = tonumber(ARGV[8])
local WIDTH = { e = 6, r = 2, c = 2 }
local i = 9
-- Checked before any write: a malformed call changes nothing.
while i <= #ARGV do
  local w = WIDTH[ARGV[i]]
  if not w or i + w - 1 > #ARGV then return redis.error_reply('slot pool OPS_SCRIPT: malformed operation at ' .. i) end
  i = i + w
end
local freed = false
i = 9
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'e' then
    if freed then
      schedule(now)
      freed = false
    end
    local ticket, q, kind = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local seq = redis.call('INCR', K_SEQ)
    local score = seq
    if ARGV[i + 5] == '1' then score = seq - 1125899906842624 end
    redis.call('ZADD', K_T, now + ticket_ttl, ticket)
    redis.call('HSET', K_TQ, ticket, q)
    redis.call('ZADD', qkey(q), score, ticket)
    if kind == 'b' then
      redis.call('ZADD', K_BQ, 0, q)
      redis.call('HSET', K_W, q, ARGV[i + 4])
    end
    i = i + 6
  elseif op == 'r' then
    local id = ARGV[i + 1]
    if redis.call('ZREM', K_LI, id) + redis.call('ZREM', K_LB, id) > 0 then freed = true end
    i = i + 2
  else -- 'c'
    local t = ARGV[i + 1]
    local q = redis.call('HGET', K_TQ, t)
    if q then redis.call('ZREM', qkey(q), t) end
    redis.call('HDEL', K_TQ, t)
    redis.call('ZREM', K_T, t)
    if redis.call('ZREM', K_LI, t) + redis.call('ZREM', K_LB, t) > 0 then freed = true end
    i = i + 2
  end
end
local inter, batch = schedule(now)
local out = {inter, batch}
for _, t in ipairs(OWN.granted) do out[#out + 1] = t end
return out
`;

/**
 * Read-only snapshot. ARGV[1] prefix, ARGV[2] limit (optional). Returns JSON {interactiveInUse, batchInUse,
 * waiting: {queue: n}, effectiveLimit, quarantineMs}.
 */
export const STATS_SCRIPT = `
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local inter = redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
local batch = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
local waiting = {}
waiting['${INTERACTIVE_QUEUE}'] = redis.call('ZCOUNT', P .. 'q:${INTERACTIVE_QUEUE}', '-inf', '+inf')
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
  waiting[id] = redis.call('ZCARD', P .. 'q:' .. id)
end
local eff = tonumber(ARGV[2] or '0')
local a = redis.call('HMGET', P .. 'al', 'base', 'at', 'rec')
if a[1] and eff > 0 then
  eff = math.min(eff, tonumber(a[1]) + math.floor((now - tonumber(a[2])) / math.max(1, tonumber(a[3]))))
end
local qu = math.max(0, tonumber(redis.call('GET', P .. 'qu') or '0') - now)
return cjson.encode({interactiveInUse = inter, batchInUse = batch, waiting = waiting, effectiveLimit = eff, quarantineMs = qu})
`;

/**
 * Test hook: the same wdrr_pick replayed over fixed backlogs (mirrors lib/wdrr.ts wdrrSimulate).
 * ARGV[1] JSON {ids (byte-ordered), quanta, backlog, steps}. Returns the sequence of picked ids.
 */
export const WDRR_SIMULATE_SCRIPT = `${LUA_WDRR}
local input = cjson.decode(ARGV[1])
local ids, quanta, backlog, deficits = {}, {}, {}, {}
for i, id in ipairs(input.ids) do
  ids[i] = id
  quanta[id] = input.quanta[id]
  backlog[id] = input.backlog[id]
  deficits[id] = 0
end
local active = {}
local cursor = nil
local out = {}
for s = 1, input.steps do
  active = {}
  for _, id in ipairs(ids) do if backlog[id] > 0 then active[#active + 1] = id end end
  for _, id in ipairs(ids) do if backlog[id] <= 0 then deficits[id] = 0 end end
  local pick
  pick, cursor = wdrr_pick(active, quanta, deficits, cursor)
  if not pick then break end
  out[#out + 1] = pick
  backlog[pick] = backlog[pick] - 1
end
return out
`;
