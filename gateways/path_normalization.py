"""The request path, normalised once (RFC 3986 dot removal, unreserved decoding) or refused."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# Kept literal in a segment besides the unreserved characters (RFC 3986 pchar); `%` starts an
# escape; anything else is percent-encoded.
SUB_DELIMS = "!$&'()*+,;=:@"
PERCENT_RE = re.compile(r"%([0-9A-Fa-f]{2})?")
LITERAL_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]+")
PLAIN_PATH_RE = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
ENCODED_SEPARATORS = ("%2F", "%5C")
DOT_SEGMENTS = frozenset({".", ".."})


class UnsafePath(ValueError):
    """A path that cannot be normalised safely (answered with 400)."""


def raw_request_path(environ: Mapping[str, Any]) -> str:
    """The path as the client sent it, still percent-encoded.

    gunicorn gives the request target undecoded in RAW_URI (other servers in REQUEST_URI);
    PATH_INFO is already decoded, so without those the decoded path is encoded again (an
    encoded `/` then reads as a separator, which is the safe reading)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:
        return quote(environ.get("PATH_INFO", "") or "/", safe="/\\" + SUB_DELIMS)
    if target.startswith("/"):
        return target.split("?", 1)[0].split("#", 1)[0]
    if target.lower().startswith(("http://", "https://")):  # absolute form (RFC 9112 3.2.2)
        return urlsplit(target).path or "/"
    raise UnsafePath("invalid request target")


def normalize_segment(segment: str) -> str:
    """Decode escaped unreserved characters (one pass), upper-case other escapes, encode what
    may not appear literally; refuse NUL, a raw backslash and malformed escapes."""
    if LITERAL_RE.fullmatch(segment):
        return segment  # the common case: nothing to decode or encode
    out: list[str] = []
    position = 0
    for escape in PERCENT_RE.finditer(segment):
        out.append(_encode_literal(segment[position : escape.start()]))
        hex_digits = escape.group(1)
        if hex_digits is None:
            raise UnsafePath("malformed percent-encoding in the path")
        char = chr(int(hex_digits, 16))
        if char == "\x00":
            raise UnsafePath("NUL in the path")
        out.append(char if char in UNRESERVED else "%" + hex_digits.upper())
        position = escape.end()
    out.append(_encode_literal(segment[position:]))
    return "".join(out)


def _encode_literal(text: str) -> str:
    if "\\" in text:
        raise UnsafePath("backslash in the path")
    if "\x00" in text:
        raise UnsafePath("NUL in the path")
    return quote(text, safe=SUB_DELIMS)


def _check_climb(segment: str) -> None:
    """Refuse a segment that climbs once an upstream decodes `%2F`/`%5C` or cuts at `;`."""
    parts = [segment]
    if "%2F" in segment or "%5C" in segment:
        parts = segment.replace("%5C", "%2F").split("%2F")
    for part in parts:
        if part.split(";", 1)[0] in DOT_SEGMENTS:
            raise UnsafePath("encoded separator or dot segment in the path")


def normalize_path(raw: str) -> str:
    """RFC 3986 remove_dot_segments over normalised segments; a climb above the root is refused.

    Nothing else is collapsed: empty segments (`//`) stay as sent."""
    if PLAIN_PATH_RE.fullmatch(raw) and "/." not in raw:
        return raw  # the common case: no escape, and no segment that starts with a dot
    if not raw.startswith("/"):
        raise UnsafePath("the path must start with '/'")
    segments = raw.split("/")[1:]
    out: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        segment = normalize_segment(segment)
        if segment in DOT_SEGMENTS:
            if segment == "..":
                if not out:
                    raise UnsafePath("the path climbs above the root")
                out.pop()
            if index == last:
                out.append("")
            continue
        _check_climb(segment)
        out.append(segment)
    return "/" + "/".join(out)


@lru_cache(maxsize=1024)
def normalized_base(base: str) -> str:
    """A target's base path, normalised (cached: bases are few and fixed per configuration)."""
    return normalize_path(quote(base or "/", safe="/%" + SUB_DELIMS))


def within(path: str, base: str) -> bool:
    """Whether `path` is `base` itself or below it."""
    return base == "/" or path == base or path.startswith(base.rstrip("/") + "/")
