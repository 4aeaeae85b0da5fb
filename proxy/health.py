"""Health of an upstream's targets (passive, probed, Retry-After), shared through Redis."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

import redis

from gateway_project.redis_client import redis_client
from proxy import health_news
from proxy.health_news import News

logger = logging.getLogger(__name__)

FAILED_SCRIPT = (Path(__file__).parent / "health_failed.lua").read_text()
CACHE_SECONDS = 0.1  # how long a process reuses its last read of an upstream's health
ERROR_BACKOFF = 1.0  # seconds without asking Redis again after it failed to answer


def health_scope(upstream_id: object, updated_at: datetime) -> str:
    """The Redis scope of an upstream's health: a changed upstream starts afresh."""
    return f"{upstream_id}:{updated_at.timestamp():.6f}"


def health_tag(scope: str) -> str:
    """The hash tag of one upstream's health keys (one slot: one MGET reads them all)."""
    return "{lbh:" + scope + "}"


def probe_key(scope: str, index: int) -> str:
    """Set while the active probes of target `index` fail (proxy.probes writes it)."""
    return f"{health_tag(scope)}:probe:{index}"


def wait_key(scope: str, index: int) -> str:
    """The time.time() until which target `index` rests after its Retry-After (expiring then)."""
    return f"{health_tag(scope)}:wait:{index}"


class SharedHealth:
    """Which targets of one upstream cool down: `threshold` failures within `window` seconds
    (counted in Redis by all workers) take a target out for `cooldown` seconds; an answer's
    `Retry-After` takes it out for that long (`wait`); failing active probes take it out
    until one passes (proxy.probes).

    Reading costs one MGET of the upstream's keys (one hash slot), at most every CACHE_SECONDS
    per process; in between the last answer is used, unless news of a rest came (see
    proxy.health_news). Any Redis error counts as "all healthy": health only orders targets,
    it never refuses a request.
    """

    def __init__(
        self,
        scope: str,
        count: int,
        *,
        threshold: int,
        window: float,
        cooldown: float,
        passive: bool = True,
    ):
        tag = health_tag(scope)
        self.count = count
        self.passive = passive
        self.down_keys = [f"{tag}:down:{index}" for index in range(count)]
        self.fail_keys = [f"{tag}:fails:{index}" for index in range(count)]
        self.wait_keys = [wait_key(scope, index) for index in range(count)]
        self.probe_keys = [probe_key(scope, index) for index in range(count)]
        self.args = [threshold, int(window * 1000), int(cooldown * 1000)]
        self._down: frozenset[int] = frozenset()
        self._probed_down: frozenset[int] = frozenset()
        self._waits: dict[int, float] = {}
        self._fresh_until = 0.0
        self._generation = News.generation
        self._script = None
        self.scope = scope
        health_news.listen()

    def down(self) -> frozenset[int]:
        """Indices of the targets cooling down or failing their probes (at most CACHE_SECONDS
        old)."""
        self._read()
        return self._down

    def probed_down(self) -> frozenset[int]:
        """Indices of the targets whose active probes fail (skipped until one passes)."""
        self._read()
        return self._probed_down

    def waits(self) -> dict[int, float]:
        """Target index -> the time.time() until which its Retry-After asks to wait."""
        self._read()
        if not self._waits:
            return self._waits
        now = time.time()
        return {index: until for index, until in self._waits.items() if until > now}

    def wait(self, index: int, seconds: float) -> None:
        """Target `index` asked for `seconds` of rest (Retry-After): no process calls it before
        then (the others hear of it at once: proxy.health_news)."""
        until = time.time() + seconds
        self._waits = {**self._waits, index: until}
        try:
            redis_client().set(self.wait_keys[index], f"{until:.3f}", px=int(seconds * 1000))
        except redis.RedisError as exc:
            self._unavailable(time.monotonic(), exc)
            return
        health_news.publish(self.scope)

    def _read(self) -> None:
        now = time.monotonic()
        if now < self._fresh_until and self._generation == News.generation:
            return
        self._fresh_until = now + CACHE_SECONDS  # set first: one reader at a time
        self._generation = News.generation
        try:
            values = redis_client().mget(self.down_keys + self.wait_keys + self.probe_keys)
        except redis.RedisError as exc:
            self._unavailable(now, exc)
            return
        count = self.count
        down, waits, probes = values[:count], values[count : 2 * count], values[2 * count :]
        self._probed_down = frozenset(index for index, value in enumerate(probes) if value)
        cooling = frozenset(index for index, value in enumerate(down) if value)
        self._down = cooling | self._probed_down
        self._waits = {index: float(value) for index, value in enumerate(waits) if value}

    def failed(self, index: int) -> None:
        """One failure of target `index`; past the threshold it cools down (seen at once here,
        by other processes within CACHE_SECONDS); nothing when passive checks are off."""
        if not self.passive:
            return
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
        self._down = self._probed_down = frozenset()
        self._waits = {}
        self._fresh_until = now + ERROR_BACKOFF
        logger.warning("target health unavailable, routing as if healthy: %s", exc)
