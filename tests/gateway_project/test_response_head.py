"""The gateway's response head against gunicorn's own: for the same header lines, the same head
written (the same lines kept, stripped and dropped), Content-Length and upgrade read, or the
same refusal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.http.wsgi import Response

from gateway_project.response_head import GatewayResponse, http_date_now
from tests.gateway_project.test_http_parser import PEER, Reads

LINES: list[list[Any]] = [
    [],
    [("Content-Type", "application/json"), ("Content-Length", "2")],
    [("X-A", " \tpadded\t "), ("x-b", ""), ("X!#$%&'*+-.^_`|~9", "v\x80\xff")],
    [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Accept", "abc")],
    [("Connection", "close"), ("Upgrade", "h2c"), ("Keep-Alive", "1"), ("TE", "trailers")],
    [("Server", "x"), ("Date", "y"), ("Transfer-Encoding", "chunked"), ("Trailer", "z")],
    [("Content-Length", " 7 ")],
    [("X-A", "1\r\nX-B: 2")],
    [("X-A", "1\x00")],
    [("X-A", "\x00"), ("X-B", "2")],
    [("X-A", "1"), ("X-B", "\n")],
    [("X-A", "\u0100")],
    [("X-A\n", "1")],
    [("X-A\nX-B", "1")],
    [("X-A", "1"), ("X-B\nX-C", "2")],
    [("X-A", "1"), ("", "2")],
    [("X A", "1")],
    [("X-A", 1)],
    [(b"X-A", "1")],
    [("X-A", "1"), (None, "2")],
    [("Content-Length", "x")],
]


def written(response_class: type, lines: list[Any], method: str = "GET") -> Any:
    """The head the response writes for `lines`, with what it read from them; or its refusal
    (with the lines it kept before it)."""
    sock = Reads([f"{method} / HTTP/1.1\r\nHost: x\r\n\r\n".encode()])
    response = response_class(next(RequestParser(Config(), sock, PEER)), sock, Config())
    try:
        response.start_response("200 OK", iter(lines))
    except Exception as exc:
        return type(exc).__name__, str(exc), response.headers
    response.send_headers()
    head = re.sub(rb"\r\nDate: [^\r]*", b"", b"".join(sock.sent))
    return head, response.response_length, response.upgrade, response.chunked


@pytest.mark.parametrize("lines", LINES)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_head_is_gunicorns(lines, method):
    assert written(GatewayResponse, lines, method) == written(Response, lines, method)


def test_the_date_is_the_current_second():
    assert http_date_now()[-4:] == " GMT"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", http_date_now())
