"""JSON parsing with a nesting limit."""

from __future__ import annotations

import pytest

from gateway_project.bounded_json import JSONTooDeep, loads, nesting_depth


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
