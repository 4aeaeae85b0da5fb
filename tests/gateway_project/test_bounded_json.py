"""JSON parsing with a nesting limit and no repeated keys."""

from __future__ import annotations

import json

import pytest

from gateway_project.bounded_json import DuplicateKey, JSONTooDeep, loads, nesting_depth


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b'"x"', 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "]]]]]]"]', 1),  # brackets inside strings do not count
        (b'["\\"[[[["]', 1),  # nor after an escaped quote
    ],
)
def test_nesting_depth(data, depth):
    assert nesting_depth(data) == depth


def test_documents_at_the_limit_parse_and_deeper_ones_are_refused():
    assert loads(b"[" * 64 + b"]" * 64, 64) is not None
    with pytest.raises(JSONTooDeep):
        loads(b"[" * 65 + b"]" * 65, 64)
    with pytest.raises(JSONTooDeep):  # far past the interpreter's recursion limit
        loads(b'{"a":' * 5000 + b"1" + b"}" * 5000, 64)


def test_brackets_in_strings_do_not_make_a_document_too_deep():
    data = b'{"content": "' + b"[" * 1000 + b'"}'
    assert loads(data, 64) == {"content": "[" * 1000}


def test_invalid_json_is_still_a_value_error():
    with pytest.raises(ValueError):
        loads(b"[1,", 64)
    with pytest.raises(ValueError):
        loads(b"\xff", 64)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b'{"a": 1, "a": 2}', "a"),
        (b'{"a": 1, "\\u0061": 2}', "a"),  # the same key, escaped
        (b'[{"x": {"b": 1, "c": 2, "b": 3}}]', "b"),
    ],
)
def test_a_repeated_key_is_refused_and_is_not_a_value_error(data, key):
    with pytest.raises(DuplicateKey) as refused:
        loads(data, 64)
    assert not isinstance(refused.value, ValueError)
    assert str(refused.value) == f'duplicate key "{key}" in JSON body'
    with pytest.raises(DuplicateKey):  # with json.loads options too (the admin parser's)
        loads(data, 64, parse_constant=float)


@pytest.mark.parametrize(
    "data",
    [b'\xef\xbb\xbf{"a": [1]}', '{"a": "\u00e9"}'.encode("utf-16"), '"\u00e9"'.encode("utf-32")],
)
def test_bytes_are_decoded_as_json_loads_decodes_them(data):
    assert loads(data, 64) == json.loads(data)
