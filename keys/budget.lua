-- Dollar budgets of one request (its API key's and its gateway's) and the spend it adds.
-- Amounts are integers in billionths of a dollar (nanos).
-- reserve: KEYS = the budgets' counters (reserved plus spent in their current window);
--   ARGV = 'reserve', amount, then for each counter its limit and its time to live in ms
--   (0: none). The amount is added to every counter only when it fits under every limit; a
--   refused request adds nothing. Reply {admitted, refused index (0 when admitted), least
--   remaining after the reservation (or before it, refused)}.
-- settle: KEYS = the counters the request reserved on (those that still exist are settled),
--   then the day's spend hash and the gateway's set of days with spend; ARGV = 'settle', delta
--   (settled cost minus the reservation), cost, the spend field, the day, its time to live in
--   ms, and whether the request reached a provider (1: its cost and count go to the day's
--   spend; 0: only its reservation is released). Reply: the number of counters settled.
local op = ARGV[1]

if op == 'reserve' then
  local amount = tonumber(ARGV[2])
  local least = nil
  local counts = {}
  for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[1 + 2 * i])
    local count = tonumber(redis.call('GET', key)) or 0
    counts[i] = count
    if count + amount > limit then
      return {0, i, math.max(limit - count, 0)}
    end
    local left = limit - count - amount
    if least == nil or left < least then
      least = left
    end
  end
  for i, key in ipairs(KEYS) do
    local ttl = tonumber(ARGV[2 + 2 * i])
    redis.call('INCRBY', key, amount)
    if ttl > 0 and counts[i] == 0 then
      redis.call('PEXPIRE', key, ttl)
    end
  end
  return {1, 0, least or 0}
end

local delta = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local field = ARGV[4]
local day = ARGV[5]
local ttl = tonumber(ARGV[6])
local spend, days = KEYS[#KEYS - 1], KEYS[#KEYS]
local settled = 0
for i = 1, #KEYS - 2 do
  if delta ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('INCRBY', KEYS[i], delta) < 0 then
      redis.call('SET', KEYS[i], 0, 'KEEPTTL')
    end
  end
  settled = settled + 1
end
if ARGV[7] ~= '1' then
  return settled
end
redis.call('HINCRBY', spend, 'c' .. field, cost)
redis.call('HINCRBY', spend, 'n' .. field, 1)
redis.call('PEXPIRE', spend, ttl)
redis.call('SADD', days, day)
redis.call('PEXPIRE', days, ttl)
return settled
