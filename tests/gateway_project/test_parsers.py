"""The admin API's JSON parser: depth and size bounds."""

from __future__ import annotations

import io

import pytest
from rest_framework.exceptions import ParseError

from gateway_project.parsers import (
    MAX_JSON_DEPTH,
    RequestBodyTooLarge,
    TooDeeplyNested,
    loads_bounded,
    read_bounded,
)


def test_the_depth_limit_is_inclusive():
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    parsed = loads_bounded(at_limit)
    for _ in range(MAX_JSON_DEPTH - 1):
        parsed = parsed[0]
    assert parsed == []
    with pytest.raises(TooDeeplyNested):
        loads_bounded("[" + at_limit + "]")


def test_invalid_json_and_constants_are_parse_errors():
    for text in ("{", "NaN", '{"a": Infinity}', b"\xff"):
        with pytest.raises(ParseError, match="invalid JSON payload"):
            loads_bounded(text)


def test_bodies_past_the_limit_are_refused():
    assert read_bounded(io.BytesIO(b"12345"), 5) == b"12345"
    with pytest.raises(RequestBodyTooLarge):
        read_bounded(io.BytesIO(b"123456"), 5)
