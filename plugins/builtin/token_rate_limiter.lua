-- Sliding-window token budget of one identity of a token_rate_limiter instance.
-- KEYS[1]: sorted set of reservation ids scored by reservation time (ms);
-- KEYS[2]: hash reservation id -> tokens; KEYS[3]: running total of the hash.
-- ARGV: op ('reserve' | 'reconcile'), limit, window_ms, reservation id, tokens.
-- reserve: admit the reservation only when it fits under the limit (a refused one records
--   nothing). Reply {admitted, now, total, wait_ms}: wait_ms is how long until enough of the
--   window has expired for the request to fit (-1: never, it exceeds the limit by itself),
--   or, when admitted, until the oldest reservation expires.
-- reconcile: replace a reservation's tokens by the real usage if it is still in the window.
--   Reply {found, now, total, wait_ms}.
-- Time is Redis's own clock, shared by every gateway node.
local log, amounts, total_key = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local rid = ARGV[4]
local tokens = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local BATCH = 500

local function expire_old()
  local total = tonumber(redis.call('GET', total_key)) or 0
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - window)
  for first = 1, #old, BATCH do
    local last = math.min(first + BATCH - 1, #old)
    local ids = {unpack(old, first, last)}
    for _, amount in ipairs(redis.call('HMGET', amounts, unpack(ids))) do
      total = total - (tonumber(amount) or 0)
    end
    redis.call('HDEL', amounts, unpack(ids))
  end
  if #old > 0 then
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
  end
  if redis.call('ZCARD', log) == 0 then
    redis.call('DEL', amounts)
    total = 0 -- never drift: an empty window holds no tokens
  end
  return math.max(total, 0)
end

local function wait_until_fits(total, needed)
  if needed > limit then
    return -1
  end
  local start = 0
  while true do
    local entries = redis.call('ZRANGE', log, start, start + BATCH - 1, 'WITHSCORES')
    if #entries == 0 then
      return window
    end
    local ids = {}
    for i = 1, #entries, 2 do
      ids[#ids + 1] = entries[i]
    end
    local values = redis.call('HMGET', amounts, unpack(ids))
    for i, amount in ipairs(values) do
      total = total - (tonumber(amount) or 0)
      if total + needed <= limit then
        return tonumber(entries[2 * i]) + window - now
      end
    end
    start = start + BATCH
  end
end

local function oldest_wait()
  local first = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  if first[2] then
    return tonumber(first[2]) + window - now
  end
  return 0
end

local function save(total)
  redis.call('SET', total_key, total)
  for _, key in ipairs(KEYS) do
    redis.call('PEXPIRE', key, window)
  end
end

local total = expire_old()
if op == 'reserve' then
  if total + tokens > limit then
    return {0, now, total, wait_until_fits(total, tokens)}
  end
  redis.call('ZADD', log, now, rid)
  redis.call('HSET', amounts, rid, tokens)
  total = total + tokens
  save(total)
  return {1, now, total, oldest_wait()}
end

local reserved = tonumber(redis.call('HGET', amounts, rid))
if not reserved then
  return {0, now, total, oldest_wait()}
end
redis.call('HSET', amounts, rid, tokens)
total = math.max(total + tokens - reserved, 0)
save(total)
return {1, now, total, oldest_wait()}
