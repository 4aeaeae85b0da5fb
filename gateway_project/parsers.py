"""The admin API's one parser: JSON, bounded in size (413) and in nesting depth (400)."""

from __future__ import annotations

from typing import Any, BinaryIO

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from gateway_project import bounded_json
from gateway_project.request_body import BodyTooLarge, read_limited

MAX_JSON_DEPTH = 32  # objects and arrays inside one another; admin payloads need about 8


class RequestBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "request_too_large"


class TooDeeplyNested(exceptions.ParseError):
    default_detail = "request body too deeply nested"
    default_code = "too_deeply_nested"


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` that refuses documents nested deeper than `max_depth` (TooDeeplyNested)
    before parsing them; NaN and Infinity are refused as in DRF's strict mode, and so is a
    repeated key."""
    try:
        return bounded_json.loads(text, max_depth, parse_constant=json.strict_constant)
    except bounded_json.JSONTooDeep as exc:
        raise TooDeeplyNested() from exc
    except (ValueError, bounded_json.DuplicateKey) as exc:
        raise exceptions.ParseError("invalid JSON payload") from exc


def read_bounded(stream: BinaryIO | None, limit: int | None) -> bytes:
    """The whole body, or RequestBodyTooLarge past `limit` bytes (None: no limit)."""
    if stream is None:
        return b""
    if limit is None:
        return stream.read()
    try:
        return read_limited(stream, limit)
    except BodyTooLarge as exc:
        raise RequestBodyTooLarge() from exc


class BoundedJSONParser(JSONParser):
    """JSON bodies of at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes and MAX_JSON_DEPTH levels."""

    def parse(
        self, stream: BinaryIO | None, media_type: str | None = None, parser_context=None
    ) -> Any:
        return loads_bounded(read_bounded(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
