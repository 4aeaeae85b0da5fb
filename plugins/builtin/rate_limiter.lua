-- One exact sliding-window decision over every configured scope of a rate_limiter instance.
-- KEYS[1..n]: each scope's record; KEYS[n+1..2n]: each scope's block marker.
-- ARGV: n, nonce, block_ms, then limit, window_ms and bucket_ms for each scope.
-- A scope with bucket_ms 0 keeps a log (a sorted set of its requests' times). A scope with a
-- large limit keeps counts per bucket_ms instead (a hash of at most window/bucket + 3 fields)
-- and counts every bucket that overlaps the window: never more than the limit in any window,
-- at the price of a slot freeing up to one bucket late.
-- The request is recorded in every scope only when all of them admit it, so a rejected
-- request consumes nothing. Time is Redis's own clock, shared by every gateway node.
local n = tonumber(ARGV[1])
local nonce = ARGV[2]
local block_ms = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- Requests in the window and when the oldest of them stops counting, from the log.
local function logged(key, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return redis.call('ZCARD', key), (first[2] and tonumber(first[2]) or now)
end

-- The same from per-bucket counts. The hash holds the buckets by index, their total `t` and
-- the oldest non-empty bucket `f`: `f` only moves forward, so the work is O(1) amortised.
local function bucketed(key, window, width)
  local current = math.floor(now / width)
  local cutoff = math.floor((now - window) / width)  -- the oldest bucket overlapping the window
  local state = redis.call('HMGET', key, 't', 'f')
  local total, first = tonumber(state[1]) or 0, tonumber(state[2]) or current
  local stored_first = first
  if cutoff - first > math.ceil(window / width) + 1 then  -- idle for longer than the window
    redis.call('DEL', key)
    total, first = 0, current
  end
  while first < current do
    local count = tonumber(redis.call('HGET', key, first)) or 0
    if count > 0 and first >= cutoff then
      break
    end
    if count > 0 then
      redis.call('HDEL', key, first)
      total = total - count
    end
    first = first + 1
  end
  if total > 0 then
    if first ~= stored_first then
      redis.call('HSET', key, 't', total, 'f', first)
    end
  else
    redis.call('DEL', key)  -- nothing left in the window
    total = 0
  end
  -- bucket b counts until (b + 1) * width + window: report (b + 1) * width as its time
  return total, (total > 0 and (first + 1) * width or now)
end

local counts, oldest, blocked, windows, widths = {}, {}, {}, {}, {}
local rejected = 0
for i = 1, n do
  local limit = tonumber(ARGV[1 + 3 * i])
  windows[i], widths[i] = tonumber(ARGV[2 + 3 * i]), tonumber(ARGV[3 + 3 * i])
  if widths[i] > 0 then
    counts[i], oldest[i] = bucketed(KEYS[i], windows[i], widths[i])
  else
    counts[i], oldest[i] = logged(KEYS[i], windows[i])
  end
  blocked[i] = 0
  if block_ms > 0 then
    blocked[i] = math.max(redis.call('PTTL', KEYS[n + i]), 0)
  end
  if rejected == 0 and (counts[i] >= limit or blocked[i] > 0) then
    rejected = i
  end
end

if rejected == 0 then
  for i = 1, n do
    local window, width = windows[i], widths[i]
    if width > 0 then
      local bucket = math.floor(now / width)
      redis.call('HINCRBY', KEYS[i], bucket, 1)
      redis.call('HINCRBY', KEYS[i], 't', 1)
      if counts[i] == 0 then
        redis.call('HSET', KEYS[i], 'f', bucket)
      end
      redis.call('PEXPIRE', KEYS[i], window + width)
    else
      redis.call('ZADD', KEYS[i], now, now .. ':' .. nonce)
      redis.call('PEXPIRE', KEYS[i], window)
    end
    counts[i] = counts[i] + 1
  end
elseif block_ms > 0 and blocked[rejected] == 0 then
  redis.call('SET', KEYS[n + rejected], '1', 'PX', block_ms)
  blocked[rejected] = block_ms
end

local reply = {rejected, now}
for i = 1, n do
  reply[#reply + 1] = counts[i]
  reply[#reply + 1] = oldest[i]
  reply[#reply + 1] = blocked[i]
end
return reply
