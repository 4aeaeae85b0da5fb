"""JSON parsing with a nesting limit: deep documents are refused before the parser recurses."""

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


class JSONTooDeep(Exception):
    """The document nests arrays and objects deeper than allowed (not a ValueError on purpose:
    callers that treat unparsable bodies as "not JSON" must not let this one through)."""


def bracket_depth(data: bytes) -> int:
    """How deep brackets nest in `data`, those inside strings included (an upper bound)."""
    steps = data.translate(DEPTH_STEPS, NOT_BRACKETS)
    return max(0, max(accumulate(step - 1 for step in steps), default=0))


def nesting_depth(data: bytes) -> int:
    """How deep arrays and objects nest in `data` (brackets inside strings are not counted)."""
    return bracket_depth(STRING_RE.sub(b"", data))


def loads(data: bytes | bytearray | str, max_depth: int, **json_options: Any) -> Any:
    """`json.loads` that raises JSONTooDeep past `max_depth` levels (ValueError when invalid);
    `json_options` go to `json.loads`."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    # Cheapest first: few brackets cannot nest deep; a bracket depth (strings included) within
    # the limit is a proof; only then are strings skipped for the exact depth.
    if (
        raw.count(b"[") + raw.count(b"{") > max_depth
        and bracket_depth(raw) > max_depth
        and nesting_depth(raw) > max_depth
    ):
        raise JSONTooDeep(TOO_DEEP_MESSAGE)
    return json.loads(raw, **json_options)
