"""The httptools request stream against gunicorn's own parser: for the same bytes, cut into reads
anywhere, the same requests (their WSGI environ, body, trailers, keep-alive) or the same refusal."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from gateway_project.http_parser import RequestStream
from tests.gateway_project.worker_process import gateway_worker
from tests.raw_http import read_response

PEER = ("127.0.0.1", 50000)
SERVER = ("127.0.0.1", 8000)


class Reads:
    """A connection's bytes as the given recv() results (the client's writes as they arrive)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = [piece for piece in pieces if piece]
        self.sent: list[bytes] = []

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > size:
            self.pieces.insert(0, piece[size:])
        return piece[:size]

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)

    sendall = send


def served(parser_class: type, pieces: list[bytes], cfg: Config | None = None) -> list[Any]:
    """What a server sees on the connection: per request its environ's plain values, body,
    trailers and whether it closes after, the interim answers written; or the refusal."""
    cfg = cfg or Config()
    sock = Reads(pieces)
    seen: list[Any] = []
    try:
        for req in parser_class(cfg, sock, PEER):
            _, environ = wsgi.create(req, sock, PEER, SERVER, cfg)
            body = environ["wsgi.input"].read()
            plain = {k: v for k, v in environ.items() if isinstance(v, str | int | tuple)}
            seen.append((plain, body, req.trailers, req.should_close(), list(sock.sent)))
            sock.sent.clear()
    except Exception as exc:
        seen.append(type(exc).__name__)
    return seen


def head(target: str = "/", *lines: str, method: str = "GET") -> bytes:
    return (
        f"{method} {target} HTTP/1.1\r\nHost: api.localhost\r\n"
        + "".join(f"{line}\r\n" for line in lines)
        + "\r\n"
    ).encode("latin-1")


CHUNKED = head("/c", "Transfer-Encoding: chunked", method="POST")
ACCEPTED = {
    "get": head("/a/b%20c?x=1&y=%2F", "X-Many: 1", "x-many:  2 ", "Accept: */*"),
    "fragment-and-double-slash": head("//a/b?q#frag"),
    "content-length": head("/p", "Content-Length: 11", method="POST") + b"hello world",
    "chunked-with-trailers": CHUNKED + b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 9\r\n\r\n",
    "expect-continue": head("/p", "Expect: 100-continue", "Content-Length: 2", method="PUT")
    + b"ok",
    "http-1.0": b"GET /old HTTP/1.0\r\nHost: api.localhost\r\n\r\n",
    "http-1.0-keep-alive": b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "connection-close": head("/", "Connection: close") + head("/never"),
    "gzip-then-chunked": head("/g", "Transfer-Encoding: gzip, chunked", method="POST")
    + b"1\r\nz\r\n0\r\n\r\n",
    "obs-text-value": head("/", "X-Name: caf\xe9"),
    "underscore-dropped": head("/", "X_Forwarded_For: 10.0.0.1"),
    "custom-method": head("/", method="FOOBAR"),
    "webdav-method": head("/", method="PROPFIND"),
    "absolute-form": b"GET http://api.localhost/x?y HTTP/1.1\r\nHost: api.localhost\r\n\r\n",
    "asterisk-options": b"OPTIONS * HTTP/1.1\r\nHost: api.localhost\r\n\r\n",
    "leading-empty-line": b"\r\n" + head("/after-crlf"),
    "upgrade-with-body": head(
        "/u", "Connection: Upgrade", "Upgrade: h2c", "Content-Length: 3", method="POST"
    )
    + b"abc"
    + head("/next"),
    "websocket-handshake": head(
        "/ws", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13"
    ),
}
REFUSED = {
    "garbage": b"NOT A REQUEST\r\n\r\n",
    "bad-header-name": head("/", "Bad Name: x"),
    "space-before-colon": head("/", "X-A : 1"),
    "control-in-value": head("/", "X-A: a\x01b"),
    "obsolete-folding": head("/", "X-A: 1", " 2"),
    "content-length-and-chunked": head(
        "/", "Content-Length: 3", "Transfer-Encoding: chunked", method="POST"
    ),
    "chunked-and-content-length": head(
        "/", "Transfer-Encoding: chunked", "Content-Length: 3", method="POST"
    ),
    "duplicate-content-length": head("/", "Content-Length: 1", "Content-Length: 1", method="POST")
    + b"a",
    "signed-content-length": head("/", "Content-Length: +1", method="POST") + b"a",
    "chunked-twice": head("/", "Transfer-Encoding: chunked, chunked", method="POST"),
    "unknown-coding": head("/", "Transfer-Encoding: foo, chunked", method="POST"),
    "identity-coding": head("/", "Transfer-Encoding: identity", method="POST"),
    "chunked-http-1.0": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-chunk-size": CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk-without-crlf": CHUNKED + b"5\r\nhelloX\r\n0\r\n\r\n",
    "forbidden-trailer": CHUNKED + b"0\r\nAuthorization: x\r\n\r\n",
    "two-hosts": head("/", "Host: other"),
    "expectation": head("/", "Expect: something-else"),
    "http-2.0": b"GET / HTTP/2.0\r\n\r\n",
    "http-1.2": b"GET / HTTP/1.2\r\n\r\n",
    "http-0.9": b"GET /\r\n\r\n",
    "lower-case-method": head("/", method="get"),
    "non-ascii-target": b"GET /caf\xe9 HTTP/1.1\r\n\r\n",
    "relative-target": b"GET abc HTTP/1.1\r\n\r\n",
    "asterisk-get": b"GET * HTTP/1.1\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "request-line-too-long": head("/" + "a" * 5000),
    "request-line-just-too-long": head("/" + "a" * (4094 - 14)),
    "header-too-large": head("/", "X-Big: " + "a" * 9000),
    "too-many-headers": head("/", *(f"X-H{i}: 1" for i in range(120))),
    "head-never-ends": b"GET / HTTP/1.1\r\n" + b"X-A: 1\r\n" * 120_000,
    "cut-in-the-head": b"GET / HTTP/1.1\r\nHost: a",
    "cut-in-the-body": head("/", "Content-Length: 10", method="POST") + b"abc",
    "cut-in-a-chunk": CHUNKED + b"5\r\nhel",
}
CASES = {**ACCEPTED, **REFUSED}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_a_request_in_one_read_is_served_as_gunicorn_serves_it(data):
    expected = served(RequestParser, [data])
    assert served(RequestStream, [data]) == expected
    assert expected


SPLIT = {name: CASES[name] for name in ("get", "chunked-with-trailers", "expect-continue")}
SPLIT |= {name: CASES[name] for name in ("custom-method", "bad-chunk-size", "bad-header-name")}


@pytest.mark.parametrize("data", SPLIT.values(), ids=SPLIT.keys())
def test_a_request_split_at_every_byte_is_the_same_request(data):
    expected = served(RequestParser, [data])
    for cut in range(1, len(data)):
        assert served(RequestStream, [data[:cut], data[cut:]]) == expected, cut
    assert served(RequestStream, [data[i : i + 1] for i in range(len(data))]) == expected


PIPELINED = {
    "parsed-here": [
        head("/1"),
        head("/2", "Content-Length: 5", method="POST") + b"12345",
        CHUNKED + b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
        head("/4", "Content-Length: 3", method="POST") + b"xyz",
        head("/5", "Expect: 100-continue", "Content-Length: 0", method="PUT"),
        head("/6"),
    ],
    "handed-over-after-lengths-known": [
        head("/1"),
        head("/2", "Content-Length: 5", method="POST") + b"12345",
        head("/3", method="FOOBAR"),
        head("/4"),
    ],
}


@pytest.mark.parametrize("requests", PIPELINED.values(), ids=PIPELINED.keys())
def test_pipelined_requests_are_served_in_order_whatever_the_reads(requests):
    data = b"".join(requests)
    expected = served(RequestParser, [data])
    assert len(expected) == len(requests)
    assert served(RequestStream, [data]) == expected
    for cut in range(1, len(data)):
        assert served(RequestStream, [data[:cut], data[cut:]]) == expected, cut


def test_an_unread_body_is_skipped_before_the_next_request():
    data = head("/p", "Content-Length: 4", method="POST") + b"abcd" + head("/next")
    cfg = Config()
    stream = RequestStream(cfg, Reads([data[:60], data[60:]]), PEER)
    first = next(stream)
    assert (first.path, next(stream).path) == ("/p", "/next")


@pytest.mark.parametrize(
    ("setting", "value", "data"),
    [
        ("limit_request_line", 20, head("/" + "a" * 10)),
        ("limit_request_line", 0, head("/" + "a" * 9000)),
        ("limit_request_fields", 2, head("/", "A: 1", "B: 2")),
        ("limit_request_field_size", 12, head("/", "X-A: 12345")),
        ("limit_request_field_size", 12, head("/", "X-A: 1234")),
        ("header_map", "refuse", head("/", "X_A: 1")),
        ("header_map", "dangerous", head("/", "X_A: 1")),
        ("forwarded_allow_ips", "127.0.0.1", head("/", "X-Forwarded-Proto: https")),
        ("forwarded_allow_ips", "10.0.0.1", head("/", "X-Forwarded-Proto: https")),
    ],
)
def test_gunicorn_settings_apply_as_in_gunicorn(setting, value, data):
    cfg = Config()
    cfg.set(setting, value)
    expected = served(RequestParser, [data], cfg)
    assert served(RequestStream, [data], cfg) == expected


@pytest.fixture(scope="module")
def echo_server():
    """One gunicorn worker of the gateway's class serving tests/gateway_project/echo_app.py."""
    with gateway_worker("tests.gateway_project.echo_app:application") as port:
        yield port


def test_pipelined_requests_written_in_pieces_are_answered_in_order(echo_server):
    data = b"".join(PIPELINED["parsed-here"]) + head("/last", "Connection: close")
    with socket.create_connection(("127.0.0.1", echo_server), timeout=30) as sock:
        for start in range(0, len(data), 37):
            sock.sendall(data[start : start + 37])
        received = b""
        while chunk := sock.recv(65536):  # until the server closes, after /last
            received += chunk
    answers = []
    while received:
        answer_head, received = received.split(b"\r\n\r\n", 1)
        if answer_head == b"HTTP/1.1 100 Continue":  # /5's Expect
            continue
        length = int(answer_head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        answers.append(json.loads(received[:length]))
        received = received[length:]
    assert [(a["method"], a["path"], a["body"]) for a in answers] == [
        ("GET", "/1", 0),
        ("POST", "/2", 5),
        ("POST", "/c", 3),
        ("POST", "/4", 3),
        ("PUT", "/5", 0),
        ("GET", "/6", 0),
        ("GET", "/last", 0),
    ]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (head("/" + "a" * 5000), 414),
        (head("/", "X-Big: " + "a" * 9000), 431),
        (head("/", *(f"X-H{i}: 1" for i in range(120))), 431),
        (REFUSED["content-length-and-chunked"], 400),
        (REFUSED["bad-chunk-size"], 400),
        (REFUSED["unknown-coding"], 501),
    ],
)
def test_refusals_through_the_worker_are_gunicorns_statuses(echo_server, data, status):
    with socket.create_connection(("127.0.0.1", echo_server), timeout=30) as sock:
        sock.sendall(data)
        assert read_response(sock).status == status
