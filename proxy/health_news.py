"""Rest news: a target's Retry-After is told to every process at once through Redis pub/sub,
so that no process calls it on the strength of its cached health read (proxy.health) or of
the rests it keeps in memory (proxy.rests)."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from typing import Protocol

import redis

from gateway_project.redis_client import redis_client

logger = logging.getLogger(__name__)

CHANNEL = "gw:health:rest"
RECONNECT_SECONDS = 1.0
# How long one wait for the next message lasts: a wait is a poll of the socket with its own
# timeout (the client's socket timeout would end a blocking listen), so an idle process wakes
# once a minute, not five times a second; a closed connection ends the wait at once.
POLL_SECONDS = 60.0


class News:
    """How many rests this process has heard of: a change makes cached health reads stale;
    how many times it subscribed: news may have been missed before each (a rest is written to
    Redis before it is told, so a read after the subscription sees it)."""

    generation = 0
    subscriptions = 0
    listener_pid = 0


class Hearer(Protocol):
    def heard(self, index: int, until: float) -> None:
        """Target `index` of the hearer's upstream rests until `until` (a time.time())."""


_HEARERS: weakref.WeakValueDictionary[str, Hearer] = weakref.WeakValueDictionary()


def rest_news(scope: str, index: int, until: float) -> str:
    """The message telling that target `index` of upstream `scope` rests until `until`."""
    return f"{scope} {index} {until:.3f}"


def hear(scope: str, hearer: Hearer) -> None:
    """Tell `hearer` of the rests of upstream `scope` (one hearer per upstream, the latest,
    held weakly: as long as it lives)."""
    _HEARERS[scope] = hearer
    listen()


def publish(scope: str, index: int | None = None, until: float | None = None) -> None:
    """Tell every process a target of upstream `scope` rests (which one and until when, when
    given; best effort)."""
    News.generation += 1
    message = scope if index is None or until is None else rest_news(scope, index, until)
    try:
        redis_client().publish(CHANNEL, message)
    except redis.RedisError as exc:
        logger.warning("rest news not published (Redis unavailable): %s", exc)


def listen() -> None:
    """Hear the news in the background, once per process (a greenlet under gevent)."""
    if News.listener_pid == os.getpid():
        return
    News.listener_pid = os.getpid()
    threading.Thread(target=_listen, name="health-news", daemon=True).start()


def _listen() -> None:
    while True:
        try:
            pubsub = redis_client().pubsub()
            pubsub.subscribe(CHANNEL)
            while True:  # polled: the client's socket timeout would end a blocking listen
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if not message:
                    continue
                if message.get("type") == "subscribe":  # confirmed: from now on nothing is missed
                    if News.subscriptions:  # news may have come while not subscribed
                        News.generation += 1
                    News.subscriptions += 1
                elif message.get("type") == "message":
                    News.generation += 1
                    _tell(message.get("data"))
        except (redis.RedisError, OSError) as exc:
            logger.debug("rest news: listening again (%s)", exc)
            time.sleep(RECONNECT_SECONDS)


def _tell(data: bytes | str | None) -> None:
    """Pass a rest's news to the hearer of its upstream (news naming only the upstream, or
    unreadable, changed the generation alone)."""
    text = data.decode(errors="replace") if isinstance(data, bytes) else data or ""
    scope, _, rest = text.partition(" ")
    hearer = _HEARERS.get(scope)
    if hearer is None or not rest:
        return
    index, _, until = rest.partition(" ")
    try:
        hearer.heard(int(index), float(until))
    except ValueError:
        logger.warning("rest news unreadable: %r", text[:200])
