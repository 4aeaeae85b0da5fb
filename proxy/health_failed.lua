-- One failure of a target. KEYS[1]: its failure counter; KEYS[2]: its cool-down marker.
-- ARGV: threshold, window_ms (the counter's lifetime from its first failure), cooldown_ms.
-- At the threshold the marker is set for cooldown_ms and the counter starts again.
-- Reply 1 when this failure started a cool-down, else 0.
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if failures >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
