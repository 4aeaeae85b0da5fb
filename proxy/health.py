"""Passive health of an upstream's targets, shared by every worker and node through Redis."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis

from gateway_project.redis_client import redis_client

logger = logging.getLogger(__name__)

FAILED_SCRIPT = (Path(__file__).parent / "health_failed.lua").read_text()
CACHE_SECONDS = 0.1  # how long a process reuses its last read of an upstream's health
ERROR_BACKOFF = 1.0  # seconds without asking Redis again after it failed to answer


class SharedHealth:
    """Which targets of one upstream cool down: `threshold` failures within `window` seconds
    (counted in Redis by all workers) take a target out for `cooldown` seconds.

    Reading costs one MGET of the upstream's cool-down keys (one hash slot), at most every
    CACHE_SECONDS per process; in between the last answer is used. Any Redis error counts
    as "all healthy": health only orders targets, it never refuses a request.
    """

    def __init__(self, scope: str, count: int, *, threshold: int, window: float, cooldown: float):
        tag = "{lbh:" + scope + "}"
        self.down_keys = [f"{tag}:down:{index}" for index in range(count)]
        self.fail_keys = [f"{tag}:fails:{index}" for index in range(count)]
        self.args = [threshold, int(window * 1000), int(cooldown * 1000)]
        self._down: frozenset[int] = frozenset()
        self._fresh_until = 0.0
        self._script = None

    def down(self) -> frozenset[int]:
        """Indices of the targets cooling down (at most CACHE_SECONDS old)."""
        now = time.monotonic()
        if now < self._fresh_until:
            return self._down
        self._fresh_until = now + CACHE_SECONDS  # set first: one reader at a time
        try:
            values = redis_client().mget(self.down_keys)
        except redis.RedisError as exc:
            self._unavailable(now, exc)
            return self._down
        self._down = frozenset(index for index, value in enumerate(values) if value)
        return self._down

    def failed(self, index: int) -> None:
        """One failure of target `index`; past the threshold it cools down (seen at once here,
        by other processes within CACHE_SECONDS)."""
        try:
            if self._script is None:
                self._script = redis_client().register_script(FAILED_SCRIPT)
            keys = [self.fail_keys[index], self.down_keys[index]]
            marked = self._script(keys=keys, args=self.args)
        except redis.RedisError as exc:
            self._unavailable(time.monotonic(), exc)
            return
        if int(marked):
            self._down = self._down | {index}

    def _unavailable(self, now: float, exc: Exception) -> None:
        """Redis cannot say: every target counts as healthy, and Redis is left alone a while."""
        self._down = frozenset()
        self._fresh_until = now + ERROR_BACKOFF
        logger.warning("target health unavailable, routing as if healthy: %s", exc)
