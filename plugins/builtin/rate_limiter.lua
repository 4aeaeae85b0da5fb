-- One exact sliding-window decision over every configured scope of a rate_limiter instance.
-- KEYS[1..n]: the sorted-set log of each scope; KEYS[n+1..2n]: each scope's block marker.
-- ARGV: n, nonce, block_ms, then limit and window_ms for each scope.
-- The request is recorded in every scope only when all of them admit it, so a rejected
-- request consumes nothing. Time is Redis's own clock, shared by every gateway node.
local n = tonumber(ARGV[1])
local nonce = ARGV[2]
local block_ms = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local counts, oldest, blocked = {}, {}, {}
local rejected = 0
for i = 1, n do
  local limit = tonumber(ARGV[2 + 2 * i])
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  counts[i] = redis.call('ZCARD', KEYS[i])
  local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  oldest[i] = first[2] and tonumber(first[2]) or now
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
    redis.call('ZADD', KEYS[i], now, now .. ':' .. nonce)
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[3 + 2 * i]))
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
