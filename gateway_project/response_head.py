"""gunicorn's HTTP/1 response with its header checks done over all lines at once.

gunicorn checks each header line on its own (two isinstance, a regex match for the name and one
for the value, a lower() and a hop-by-hop lookup) and formats the Date header on every response.
Here the names and the values are each checked in one regex pass over their joined text, lowered
in one call, and the Date header is formatted once a second. What is refused stays the same: a
name that is not a token, a value with CR, LF, NUL or another control character, a value that is
not a string; the line at fault then goes through gunicorn's own check, which raises its error.
"""

from __future__ import annotations

import functools
import re
import time
from typing import Any

from gunicorn import util
from gunicorn.http.message import RFC9110_5_6_2_TOKEN_SPECIALS
from gunicorn.http.wsgi import Response

_TOKEN = f"[{re.escape(RFC9110_5_6_2_TOKEN_SPECIALS)}0-9a-zA-Z]+"
# Names joined with "\n" (never in a token), values with "\x00" (never allowed in a value): the
# counts of separators then prove no line brought its own.
NAMES = re.compile(rf"{_TOKEN}(?:\n{_TOKEN})*")
VALUES = re.compile(r"[ \t\x21-\x7e\x80-\xff\x00]*")
HOP_BY_HOP = frozenset(util.hop_headers)


@functools.lru_cache(maxsize=1)
def _http_date(second: int) -> str:
    return util.http_date(second)


def http_date_now() -> str:
    """The Date header's value, formatted once a second."""
    return _http_date(int(time.time()))


def lines_are_valid(names: list[str], values: list[str]) -> bool:
    """Every name a token and every value free of control characters (HTAB aside)."""
    try:
        joined_names, joined_values = "\n".join(names), "\x00".join(values)
    except TypeError:  # a name or value that is not a string
        return False
    separators = len(names) - 1
    return (
        NAMES.fullmatch(joined_names) is not None
        and joined_names.count("\n") == separators
        and VALUES.fullmatch(joined_values) is not None
        and joined_values.count("\x00") == separators
    )


class GatewayResponse(Response):
    """gunicorn's Response, its headers checked and written in passes over all lines."""

    def process_headers(self, headers: Any) -> None:
        headers = list(headers)
        names = [name for name, _ in headers]
        values = [value for _, value in headers]
        if not headers or not lines_are_valid(names, values):
            super().process_headers(headers)  # raises gunicorn's error for the line at fault
            return
        kept, lowered = self.headers, "\n".join(names).lower().split("\n")
        for name, value, lname in zip(names, values, lowered, strict=True):
            value = value.strip(" \t")  # RFC 9110 5.5
            if lname in HOP_BY_HOP:
                if lname == "connection" and value.lower() == "upgrade":
                    self.upgrade = True  # a WebSocket
                elif lname == "upgrade" and value.lower() == "websocket":
                    kept.append((name, value))
                continue
            if lname == "content-length":
                self.response_length = int(value)
            kept.append((name, value))

    def default_headers(self) -> list[str]:
        if self.upgrade:
            connection = "upgrade"
        elif self.should_close():
            connection = "close"
        else:
            connection = "keep-alive"
        major, minor = self.req.version
        lines = [
            f"HTTP/{major}.{minor} {self.status}\r\nServer: {self.version}\r\n"
            f"Date: {http_date_now()}\r\nConnection: {connection}\r\n"
        ]
        if self.chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        return lines

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        lines = self.default_headers()
        lines.extend([f"{name}: {value}\r\n" for name, value in self.headers])
        lines.append("\r\n")
        util.write(self.sock, "".join(lines).encode("latin-1"))
        self.headers_sent = True
