"""The admin API's one parser: JSON, bounded in size (413) and in nesting depth (400)."""

from __future__ import annotations

from typing import Any, BinaryIO

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

MAX_JSON_DEPTH = 32  # objects and arrays inside one another; admin payloads need about 8


class RequestBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "request_too_large"


class TooDeeplyNested(exceptions.ParseError):
    default_detail = "request body too deeply nested"
    default_code = "too_deeply_nested"


def json_depth(value: Any) -> int:
    """How many objects/arrays are nested in `value` at its deepest point (iterative)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in item)
    return deepest


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` that refuses documents nested deeper than `max_depth` (TooDeeplyNested)
    instead of overflowing the stack; NaN and Infinity are refused as in DRF's strict mode."""
    try:
        value = json.loads(text, parse_constant=json.strict_constant)
    except RecursionError as exc:
        raise TooDeeplyNested() from exc
    except ValueError as exc:
        raise exceptions.ParseError("invalid JSON payload") from exc
    if json_depth(value) > max_depth:
        raise TooDeeplyNested()
    return value


def read_bounded(stream: BinaryIO | None, limit: int | None) -> bytes:
    """The whole body, or RequestBodyTooLarge past `limit` bytes (None: no limit)."""
    if stream is None:
        return b""
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise RequestBodyTooLarge()
    return raw


class BoundedJSONParser(JSONParser):
    """JSON bodies of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes and MAX_JSON_DEPTH levels."""

    def parse(
        self, stream: BinaryIO | None, media_type: str | None = None, parser_context=None
    ) -> Any:
        return loads_bounded(read_bounded(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
