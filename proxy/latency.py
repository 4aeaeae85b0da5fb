"""Time to first byte per target as an exponentially weighted average shared through Redis."""

from __future__ import annotations

import logging
import time

import redis

from gateway_project.redis_client import redis_client

logger = logging.getLogger(__name__)

ALPHA = 0.3  # the weight of a new sample in the average
HALF_LIFE = 1.0  # seconds: a target not heard of for this long looks twice as fast (see estimate)
SYNC_SECONDS = 0.1  # how often a process merges its samples into Redis and reads the others'
# KEYS[1]: the upstream's hash (field: target index, value: "<average ms>:<time ms>").
# ARGV: alpha, now (ms), the target count, then (index, sum of samples, sample count) triplets.
# Each target's samples move the average as that many single updates would; all are returned.
MERGE_SCRIPT = """
local alpha, now, count = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local mean = tonumber(ARGV[i + 1]) / tonumber(ARGV[i + 2])
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local average = mean
  if old then
    local previous = tonumber(string.match(old, '^[^:]+'))
    average = previous + (1 - (1 - alpha) ^ tonumber(ARGV[i + 2])) * (mean - previous)
  end
  redis.call('HSET', KEYS[1], ARGV[i], string.format('%.3f', average) .. ':' .. now)
end
redis.call('PEXPIRE', KEYS[1], 86400000)  -- a day after the last merge
local fields = {}
for i = 0, count - 1 do fields[#fields + 1] = tostring(i) end
return redis.call('HMGET', KEYS[1], unpack(fields))
"""


class SharedLatency:
    """The EWMA of every target's time to first byte, shared by all workers and nodes.

    Samples are kept in the process and merged into Redis (one script: merge and read back)
    at most every SYNC_SECONDS. A target not measured for a while looks faster as time goes
    (halved every HALF_LIFE seconds), so the least-latency choice tries it again now and then
    and notices when a slow target has become fast. Redis errors keep the local view.
    """

    def __init__(self, scope: str, count: int) -> None:
        self.key = "{lbl:" + scope + "}"
        self.count = count
        self.averages: list[tuple[float, float] | None] = [None] * count  # (ms, time.time())
        self.pending: dict[int, list[float]] = {}  # index -> [sum, count] since the last merge
        self._sync_at = 0.0
        self._script = None

    def record(self, index: int, milliseconds: float) -> None:
        """One time to first byte of target `index`."""
        sums = self.pending.setdefault(index, [0.0, 0])
        sums[0] += milliseconds
        sums[1] += 1
        known = self.averages[index]
        average = milliseconds if known is None else known[0] + ALPHA * (milliseconds - known[0])
        self.averages[index] = (average, time.time())

    def estimate(self, index: int) -> float:
        """Target `index`'s expected time to first byte; 0 for a target never measured."""
        known = self.averages[index]
        if known is None:
            return 0.0
        age = max(time.time() - known[1], 0.0)
        return known[0] * 0.5 ** (age / HALF_LIFE)

    def sync(self) -> None:
        """Merge this process's samples and read every target's shared average (at most every
        SYNC_SECONDS)."""
        now = time.monotonic()
        if now < self._sync_at:
            return
        self._sync_at = now + SYNC_SECONDS
        pending, self.pending = self.pending, {}
        args: list[float | int | str] = [ALPHA, int(time.time() * 1000), self.count]
        for index, (total, count) in pending.items():
            args += [index, total, count]
        try:
            if self._script is None:
                self._script = redis_client().register_script(MERGE_SCRIPT)
            values = self._script(keys=[self.key], args=args)
        except redis.RedisError as exc:
            logger.warning("target latencies unavailable, using this process's: %s", exc)
            return
        for index, value in enumerate(values):
            if value:
                average, stamp = (value.decode() if isinstance(value, bytes) else value).split(":")
                self.averages[index] = (float(average), int(stamp) / 1000)
