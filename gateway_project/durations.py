"""Parse durations such as `500ms`, `30s`, `1m`, `1h30m`, `1d` into milliseconds."""

from __future__ import annotations

import re

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
DURATION_RE = re.compile(r"^(?:\d+(?:ms|s|m|h|d))+$")
PART_RE = re.compile(r"(\d+)(ms|s|m|h|d)")
MAX_DURATION_MS = 366 * UNIT_MS["d"]


def parse_duration_ms(value: str) -> int:
    """Milliseconds in `value`; ValueError when it is not a positive duration of at most a year."""
    text = str(value).strip().lower()
    if not DURATION_RE.match(text):
        raise ValueError(
            f"invalid duration {value!r}: use numbers with units ms, s, m, h, d (e.g. 30s, 1h30m)"
        )
    total = sum(int(number) * UNIT_MS[unit] for number, unit in PART_RE.findall(text))
    if total <= 0:
        raise ValueError(f"invalid duration {value!r}: must be greater than zero")
    if total > MAX_DURATION_MS:
        raise ValueError(f"invalid duration {value!r}: must be at most 366d")
    return total
