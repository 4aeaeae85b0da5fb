"""response_cache: answers of LLM routes kept in Redis and served again, exact (the same
request, after the request plugins ran) or semantic (a request as close by its embedding);
scoped to the gateway, rule and API key; a hit goes through the response plugins as a miss."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis

from gateway_project.durations import parse_duration_ms
from plugins.base import Plugin
from plugins.builtin.response_cache import store
from plugins.builtin.response_cache.config import (
    ResponseCacheConfig,
    ResponseCacheSettingsSerializer,
)
from plugins.builtin.response_cache.keys import answer_key, scope_of, vectors_key
from plugins.builtin.response_cache.semantic import embedded_text, nearest, packed
from plugins.sdk.cache import BYPASS, HIT, MISS, CacheHit, Embed, StoredAnswer
from plugins.sdk.context import RequestContext

logger = logging.getLogger(__name__)

CACHE_HEADER = "X-Gateway-Cache"
SIMILARITY_HEADER = "X-Gateway-Cache-Similarity"


@dataclass
class Pending:
    """What a lookup that missed leaves for the store (request.metadata, this instance's)."""

    key: str
    vectors_key: str | None = None
    vector: list[float] | None = None


class ResponseCachePlugin(Plugin):
    name = "response_cache"
    label = "Response Cache"
    description = (
        "Serves a kept answer to the same LLM request (exact) or to one as close by its "
        "embedding (semantic), per gateway, rule and API key; response plugins run on hits."
    )
    category = "request_validation"
    allowed_stages = ("pre_request",)
    settings_serializer = ResponseCacheSettingsSerializer
    Config = ResponseCacheConfig
    config: ResponseCacheConfig
    fail_open_default = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ttl_seconds = max(1, parse_duration_ms(self.config.ttl) // 1000)
        self.semantic = self.config.mode == "semantic"

    def pre_request(self, request: RequestContext) -> None:
        """Nothing here: the lookup runs once every pre_request plugin ran (cache_lookup)."""

    def cache_lookup(self, request: RequestContext, embed: Embed) -> None:
        body = request.json_body()
        if not isinstance(body, dict) or not self._cacheable(request, body):
            self._outcome(request, BYPASS)
            return
        scope = scope_of(request, self.config.scope == "shared")
        pending = Pending(answer_key(scope, body))
        try:
            answer = self._find(request, body, embed, scope, pending)
        except redis.RedisError as exc:  # the cache is an optimisation: a miss, never an error
            logger.warning("response_cache %s: lookup failed: %s", self.instance_id, exc)
            answer = None
        if answer is not None:
            self._outcome(request, HIT)
            request.response_headers["Age"] = str(answer.age)
            if answer.similarity is not None:
                request.response_headers[SIMILARITY_HEADER] = f"{answer.similarity:.4f}"
            raise CacheHit(answer)
        self._outcome(request, MISS)
        if not _directive(request, "no-store"):
            request.metadata[self.instance_id] = pending

    def cache_store(self, request: RequestContext, completion: dict[str, Any]) -> None:
        pending = request.metadata.pop(self.instance_id, None)
        if pending is None:
            return
        llm = request.llm
        entry = store.Entry.of(completion, llm.cost if llm is not None else None)
        if len(entry.encoded) > self.config.max_entry_bytes:
            return
        try:
            store.write(pending.key, entry, self.ttl_seconds)
            if pending.vectors_key is not None and pending.vector is not None:
                vector = packed(pending.key.rpartition(":")[2], pending.vector)
                store.add_vector(
                    pending.vectors_key, vector, self.config.max_entries, self.ttl_seconds
                )
        except redis.RedisError as exc:
            logger.warning("response_cache %s: cannot keep the answer: %s", self.instance_id, exc)

    def _cacheable(self, request: RequestContext, body: dict[str, Any]) -> bool:
        """A chat request (with temperature_zero_only, one asking for temperature 0) whose
        client lets the cache answer: not `no-store` (neither looked up nor kept) nor
        `no-cache` (not looked up, its answer kept)."""
        if not isinstance(body.get("messages"), list) or request.llm is None:
            return False
        if self.config.temperature_zero_only and not _zero(body.get("temperature")):
            return False
        if _directive(request, "no-store"):
            return False
        if _directive(request, "no-cache"):
            scope = scope_of(request, self.config.scope == "shared")
            request.metadata[self.instance_id] = Pending(answer_key(scope, body))
            return False
        return True

    def _find(
        self,
        request: RequestContext,
        body: dict[str, Any],
        embed: Embed,
        scope: str,
        pending: Pending,
    ) -> StoredAnswer | None:
        """The exact answer, else (semantic) the closest kept one at or over the threshold."""
        answer = store.read(pending.key)
        if answer is not None or not self.semantic:
            return answer
        text = embedded_text(body, self.config.embed)
        if text is None:
            return None
        vector = embed(self.config.embedding_model or "", text[0])
        if vector is None:  # the embedding call failed: a miss
            return None
        pending.vectors_key, pending.vector = vectors_key(scope, body, text[1]), vector
        found = nearest(vector, store.vectors(pending.vectors_key))
        if found is None or found[1] < self.config.threshold:
            return None
        return store.read(f"{scope}:x:{found[0]}", similarity=found[1])

    @staticmethod
    def _outcome(request: RequestContext, result: str) -> None:
        request.response_headers[CACHE_HEADER] = result
        if request.llm is not None:
            request.llm.cache = result


def _zero(temperature: Any) -> bool:
    return (
        isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and (temperature == 0)
    )


def _directive(request: RequestContext, name: str) -> bool:
    """Whether the client's Cache-Control carries `name`."""
    value = request.headers.get("Cache-Control", "")
    return name in (part.strip().lower() for part in value.split(","))
