"""What the response cache and the proxy share: the answer a cache keeps (the upstream's OpenAI
chat completion), the hit that answers a request with it, the embedding call the proxy lends a
semantic lookup, and where a cache's keys live (per gateway and rule: what the admin API
purges)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway_project.redis_client import redis_client
from plugins.sdk.context import PluginResponse

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"  # X-Gateway-Cache, and LLMCall.cache
PREFIX = "rc"
PURGE_BATCH = 500

# (model, text) -> its vector through one of the rule's provider targets; None when the call
# failed (a semantic lookup then misses, never errs).
Embed = Callable[[str, str], "list[float] | None"]


@dataclass(frozen=True)
class StoredAnswer:
    """A kept answer: the upstream's `chat.completion` (before any response plugin ran), the
    seconds since it was kept, what its provider call cost, and how close a semantic match
    was (None for an exact one)."""

    completion: dict[str, Any]
    age: int
    cost: float | None = None
    similarity: float | None = None


class CacheHit(PluginResponse):
    """Raised by a cache_lookup hook: the request is answered with `answer` (as JSON or as
    OpenAI chunks, as it asked), through the response stages as the upstream's answer would be;
    no provider is called."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__(200)
        self.answer = answer


def gateway_prefix(gateway_id: str) -> str:
    """Every cache key of one gateway starts with this (one hash tag: one cluster slot)."""
    return f"{PREFIX}:{{{gateway_id}}}:"


def rule_prefix(gateway_id: str, rule_id: str) -> str:
    return f"{gateway_prefix(gateway_id)}{rule_id}:"


def purge(gateway_id: str, rule_id: str | None = None) -> int:
    """Delete every kept answer and vector of a gateway (of one rule of it); how many keys."""
    prefix = rule_prefix(gateway_id, rule_id) if rule_id else gateway_prefix(gateway_id)
    client = redis_client()
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=_escaped(prefix) + "*", count=PURGE_BATCH):
        batch.append(key)
        if len(batch) >= PURGE_BATCH:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


def _escaped(prefix: str) -> str:
    """`prefix` as a literal in a SCAN pattern (its braces, brackets and stars)."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in prefix)
