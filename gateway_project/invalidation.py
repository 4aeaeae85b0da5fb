"""The config channel: the published copy of the config versions in Redis, read by every worker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from gateway_project.propagation import mark_delayed
from gateway_project.redis_client import redis_client

logger = logging.getLogger(__name__)

# Keep every field only moving forward: publishes of concurrent transactions may arrive in any
# order, and a worker repairing a missed publish may race the admin that made it.
PUBLISH_SCRIPT = """
for i = 1, #ARGV, 2 do
  local old = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > old then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""


@dataclass(frozen=True)
class Stamp:
    """Where this database's configuration stands: its lineage and its change counter."""

    epoch: str
    counter: int


Listener = Callable[[Stamp, dict[str, int]], None]
local_listeners: list[Listener] = []  # this process's caches, told of its own writes at once


def versions_key(epoch: str) -> str:
    """The database (gateways.versions) is authoritative; Redis holds a copy workers poll cheaply:
    one hash per database epoch with `counter` and one field per scope (`s:<scope>`)."""
    return f"gw:{{config}}:{epoch}"  # one hash: Redis Cluster-ready as it stands


def publish(stamp: Stamp, versions: dict[str, int]) -> bool:
    """Publish a committed change; False (and a warning) when Redis could not take it."""
    args: list[str | int] = ["counter", stamp.counter]
    for scope, version in versions.items():
        args += [f"s:{scope}", version]
    try:
        redis_client().register_script(PUBLISH_SCRIPT)(keys=[versions_key(stamp.epoch)], args=args)
        published = True
    except redis.RedisError:
        logger.warning(
            "configuration change %s committed but not published (Redis unavailable): "
            "workers pick it up from the database within CONFIG_DB_CHECK_INTERVAL",
            stamp.counter,
        )
        mark_delayed()
        published = False
    for listener in local_listeners:
        listener(stamp, versions)
    return published


def published_counter(epoch: str) -> int:
    """The counter Redis holds for `epoch` (raises redis.RedisError when Redis is down)."""
    return int(redis_client().hget(versions_key(epoch), "counter") or 0)


def published_versions(epoch: str, scopes: Iterable[str]) -> dict[str, int]:
    scopes = list(scopes)
    if not scopes:
        return {}
    values = redis_client().hmget(versions_key(epoch), [f"s:{s}" for s in scopes])
    pairs = zip(scopes, values, strict=True)
    return {scope: int(value) for scope, value in pairs if value is not None}
