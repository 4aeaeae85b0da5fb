"""JSON parsing with a nesting limit (deep documents are refused before the parser recurses) and
no repeated keys (a reader taking the first and one taking the last would see two documents)."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

TOO_DEEP_MESSAGE = "request body too deeply nested"
STRING_RE = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
BRACKETS = b"[]{}"
# Brackets become 2 (open) or 0 (close): minus one each, their running sum is the depth.
DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
NOT_BRACKETS = bytes(b for b in range(256) if b not in BRACKETS)


class JSONRefused(Exception):
    """A document refused whole, not a ValueError on purpose: callers that treat unparsable
    bodies as "not JSON" must not let one through (the request is answered 400)."""


class JSONTooDeep(JSONRefused):
    """The document nests arrays and objects deeper than allowed."""


class DuplicateKey(JSONRefused):
    """An object of the document repeats a key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {json.dumps(key)} in JSON body")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` refusing a repeated key (DuplicateKey)."""
    document = dict(pairs)
    if len(document) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return document


# One decoder, built once: json.loads with any option builds a decoder (and its scanner) per call.
DECODER = json.JSONDecoder(object_pairs_hook=unique_keys)


def bracket_depth(data: bytes) -> int:
    """How deep brackets nest in `data`, those inside strings included (an upper bound)."""
    steps = data.translate(DEPTH_STEPS, NOT_BRACKETS)
    return max(0, max(accumulate(step - 1 for step in steps), default=0))


def nesting_depth(data: bytes) -> int:
    """How deep arrays and objects nest in `data` (brackets inside strings are not counted)."""
    return bracket_depth(STRING_RE.sub(b"", data))


def loads(data: bytes | bytearray | str, max_depth: int, **json_options: Any) -> Any:
    """`json.loads` that raises JSONTooDeep past `max_depth` levels, DuplicateKey on a repeated
    key (ValueError when invalid); `json_options` go to `json.loads`."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    # Cheapest first: few brackets cannot nest deep; a bracket depth (strings included) within
    # the limit is a proof; only then are strings skipped for the exact depth.
    if (
        raw.count(b"[") + raw.count(b"{") > max_depth
        and bracket_depth(raw) > max_depth
        and nesting_depth(raw) > max_depth
    ):
        raise JSONTooDeep(TOO_DEEP_MESSAGE)
    if json_options:
        return json.loads(raw, object_pairs_hook=unique_keys, **json_options)
    return DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))  # as json.loads
