"""response_cache's entries in the shared Redis: an answer under its exact key (with a TTL), and
the bounded list of a scope's vectors for semantic matches (the admin API purges both through
plugins.sdk.cache)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from gateway_project.redis_client import redis_client
from plugins.sdk.cache import StoredAnswer


@dataclass(frozen=True)
class Entry:
    """What is written under an answer's key (`encoded` once, to bound its size)."""

    encoded: bytes

    @classmethod
    def of(cls, completion: dict[str, Any], cost: float | None) -> Entry:
        return cls(orjson.dumps({"completion": completion, "cost": cost, "at": time.time()}))


def read(key: str, similarity: float | None = None) -> StoredAnswer | None:
    """The answer kept under `key`, or None (expired, never kept, or not an entry)."""
    raw = redis_client().get(key)
    if raw is None:
        return None
    try:
        data = orjson.loads(raw)
        completion, cost, at = data["completion"], data["cost"], float(data["at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(completion, dict):
        return None
    age = max(0, int(time.time() - at))
    return StoredAnswer(completion, age, cost, similarity)


def write(key: str, entry: Entry, ttl_seconds: int) -> None:
    redis_client().set(key, entry.encoded, ex=ttl_seconds)


def vectors(key: str) -> list[bytes]:
    return redis_client().lrange(key, 0, -1)


def add_vector(key: str, vector: bytes, bound: int, ttl_seconds: int) -> None:
    """The newest `bound` vectors of the list are kept; the list lives as long as its newest
    answer (one round trip; the keys share the gateway's hash tag)."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.lpush(key, vector)
    pipe.ltrim(key, 0, bound - 1)
    pipe.expire(key, ttl_seconds)
    pipe.execute()
