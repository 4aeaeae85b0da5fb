"""The process's Redis client: one per process, shared by every greenlet and thread.

Django keeps its cache objects (`caches`) in an asgiref Local, so under the gevent worker each
greenlet (each client connection) built its own django-redis cache and Redis client the first
time it touched Redis. Their connection pool was already one per process; now the client is too.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.cache import caches
from django.core.signals import setting_changed

_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    """The `default` cache's Redis client (a RedisCluster for a cluster URL), made once per
    process and CACHES setting. redis-py clients are safe to share between greenlets and threads
    (each command borrows a connection of the pool), and a pool used after a fork drops the
    parent's connections and opens its own."""
    global _client
    client = _client
    if client is None:
        # A cache object of its own: not one kept in the calling greenlet's `caches` entry.
        client = _client = caches.create_connection("default").client.get_client(write=True)
    return client


def forget_client(*, setting: str, **kwargs: Any) -> None:
    """A changed CACHES (tests, override_settings) gets a client of its own at the next use."""
    global _client
    if setting == "CACHES":
        _client = None


setting_changed.connect(forget_client, dispatch_uid="gateway_project.redis_client")
