"""Rest news: a target's Retry-After is told to every process at once through Redis pub/sub,
so that no process calls it on the strength of its cached health read (proxy.health)."""

from __future__ import annotations

import logging
import os
import threading
import time

import redis

from gateway_project.redis_client import redis_client

logger = logging.getLogger(__name__)

CHANNEL = "gw:health:rest"
RECONNECT_SECONDS = 1.0
POLL_SECONDS = 0.2  # below the Redis client's socket timeout


class News:
    """How many rests this process has heard of: a change makes cached health reads stale."""

    generation = 0
    listener_pid = 0


def publish(scope: str) -> None:
    """Tell every process a target of upstream `scope` rests (best effort)."""
    News.generation += 1
    try:
        redis_client().publish(CHANNEL, scope)
    except redis.RedisError as exc:
        logger.warning("rest news not published (Redis unavailable): %s", exc)


def listen() -> None:
    """Hear the news in the background, once per process (a greenlet under gevent)."""
    if News.listener_pid == os.getpid():
        return
    News.listener_pid = os.getpid()
    threading.Thread(target=_listen, name="health-news", daemon=True).start()


def _listen() -> None:
    missed = False
    while True:
        try:
            pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            if missed:  # news may have come while not subscribed
                News.generation += 1
            missed = True
            while True:  # polled: the client's socket timeout would end a blocking listen
                message = pubsub.get_message(timeout=POLL_SECONDS)
                if message and message.get("type") == "message":
                    News.generation += 1
        except (redis.RedisError, OSError) as exc:
            logger.debug("rest news: listening again (%s)", exc)
            time.sleep(RECONNECT_SECONDS)
