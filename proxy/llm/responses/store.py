"""Stored responses in Redis, scoped to the gateway and the API key that created them: the
response object, the request's input items and the whole conversation (history, input and
output items) a `previous_response_id` continues. Kept `RESPONSES_TTL` seconds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis

from gateway_project.conf import gateway_settings
from gateway_project.redis_client import redis_client
from proxy.inbound import ProxyError

NOT_FOUND = "response not found"


@dataclass(frozen=True)
class Scope:
    """Whose responses: a gateway and an API key (none on rules without keys)."""

    gateway_id: str
    key_id: str | None

    def key(self, response_id: str) -> str:
        return f"tg:responses:{self.gateway_id}:{self.key_id or '-'}:{response_id}"


@dataclass(frozen=True)
class Stored:
    response: dict[str, Any]
    input: list[Any]  # the request's own input items
    conversation: list[Any]  # every item so far: what a continuation is sent
    size: int  # bytes stored


def load(scope: Scope, response_id: str) -> Stored:
    """The stored response `response_id` of `scope`: 404 when there is none (another key's
    included, expired or deleted ones)."""
    try:
        raw = redis_client().get(scope.key(response_id))
    except redis.RedisError as exc:
        raise ProxyError(503, "the response store is unavailable") from exc
    if raw is None:
        raise ProxyError(404, NOT_FOUND, param="previous_response_id", code="not_found")
    data = orjson.loads(raw)
    return Stored(data["response"], data["input"], data["conversation"], len(raw))


def save(
    scope: Scope, response: dict[str, Any], input_items: list[Any], history: list[Any]
) -> None:
    """Keep a finished response and its conversation (the history it continued, its input,
    its output); continuing one past RESPONSES_MAX_BYTES is refused (see `continued`)."""
    conversation = [*history, *input_items, *response.get("output", ())]
    raw = orjson.dumps({"response": response, "input": input_items, "conversation": conversation})
    redis_client().set(scope.key(response["id"]), raw, ex=gateway_settings.RESPONSES_TTL)


def continued(scope: Scope, response_id: str, request_bytes: int) -> Stored:
    """The conversation a request continues: 404 when it is not `scope`'s, 413 when it and the
    request together pass RESPONSES_MAX_BYTES."""
    stored = load(scope, response_id)
    if stored.size + request_bytes > gateway_settings.RESPONSES_MAX_BYTES:
        message = "the conversation is too large to continue; start a new one"
        raise ProxyError(413, message, param="previous_response_id")
    return stored


def delete(scope: Scope, response_id: str) -> bool:
    return bool(redis_client().delete(scope.key(response_id)))
