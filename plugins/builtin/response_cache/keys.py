"""Where response_cache keeps answers in Redis: the scope (gateway, rule, API key unless shared,
one hash tag per gateway) and the keys of a request (the hash of its canonical form)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from plugins.sdk.cache import rule_prefix
from plugins.sdk.context import RequestContext

# Not part of what is asked: how the answer is carried and who asked (the key has the scope).
TRANSPORT_FIELDS = frozenset({"stream", "stream_options", "user", "metadata", "store"})
TEXT_FIELDS = ("messages", "input", "prompt")


def scope_of(request: RequestContext, shared: bool) -> str:
    """The gateway and rule, and the API key unless `shared` (no key: the public rule's)."""
    owner = "shared" if shared else f"key:{request.api_key_id or 'public'}"
    return f"{rule_prefix(request.gateway_id, request.rule_id)}{owner}"


def digest(value: Any) -> str:
    """The hash of a JSON value, its object keys sorted (the same request, the same hash)."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def asked(body: dict[str, Any]) -> dict[str, Any]:
    """The request's fields that decide its answer: all but the transport's."""
    return {name: value for name, value in body.items() if name not in TRANSPORT_FIELDS}


def answer_key(scope: str, body: dict[str, Any]) -> str:
    """The exact key: the model, messages or input, tools, sampling parameters and the rest."""
    return f"{scope}:x:{digest(asked(body))}"


def vectors_key(scope: str, body: dict[str, Any], unembedded: list[Any]) -> str:
    """The list of kept vectors a semantic match is searched in: one per scope and request
    but for its embedded text (`unembedded`: the messages that are not embedded, which must
    be the same, as must the model and every other parameter)."""
    rest = {name: value for name, value in asked(body).items() if name not in TEXT_FIELDS}
    rest["messages"] = unembedded
    return f"{scope}:s:{digest(rest)}"
