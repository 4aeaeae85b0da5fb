"""Retry-After rests of an upstream of one target, kept in every process's memory (upstreams of
several targets keep theirs in their shared health: proxy.health)."""

from __future__ import annotations

import logging
import math
import time

import redis

from gateway_project.redis_client import redis_client
from proxy import health_news
from proxy.health import wait_key
from proxy.health_news import News
from proxy.retries import MAX_RETRY_AFTER

logger = logging.getLogger(__name__)


class TargetRests:
    """Until when each target of one upstream rests after its Retry-After, as this process
    knows it without a Redis read per request: read from Redis once (and again after each new
    subscription to the rest news, as news may have been missed before it), then kept up to
    date by the news every process hears (proxy.health_news). A rest is written to Redis (for
    processes that route there later) before it is told.

    Redis errors count as "not resting": the target is called, and answers for itself.
    """

    def __init__(self, scope: str, count: int) -> None:
        self.scope = scope
        self.keys = [wait_key(scope, index) for index in range(count)]
        self._until: dict[int, float] = {}
        self._subscriptions = -1  # News.subscriptions at the last read of Redis
        health_news.hear(scope, self)

    def until(self, index: int) -> float:
        """The time.time() until which target `index` rests (0.0, or a past time: it does
        not)."""
        if self._subscriptions != News.subscriptions:
            self._read()
        return self._until.get(index, 0.0)

    def rest(self, index: int, seconds: float) -> None:
        """Target `index` asked for `seconds` of rest (Retry-After): no process calls it before
        then."""
        until = time.time() + seconds
        self._until[index] = until
        try:
            redis_client().set(self.keys[index], f"{until:.3f}", px=max(int(seconds * 1000), 1))
        except redis.RedisError as exc:
            logger.warning("target rest not shared (Redis unavailable): %s", exc)
            return
        health_news.publish(self.scope, index, until)

    def heard(self, index: int, until: float) -> None:
        """The news of a rest, from any process (this one's own included)."""
        if 0 <= index < len(self.keys) and math.isfinite(until):
            self._until[index] = min(until, time.time() + MAX_RETRY_AFTER)

    def _read(self) -> None:
        self._subscriptions = News.subscriptions  # first: one reader at a time
        try:
            values = [float(value or 0) for value in redis_client().mget(self.keys)]
        except (redis.RedisError, ValueError) as exc:  # read again once subscribed anew
            logger.warning("target rests unavailable, routing as if none rests: %s", exc)
            return
        for index, until in enumerate(values):
            if until:
                self.heard(index, max(until, self._until.get(index, 0.0)))
