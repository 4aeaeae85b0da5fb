"""The httptools upstream client: answers split at every byte, chunked extensions and
trailers, kept-alive sockets (dropped ones skipped), malformed or oversized heads as 502s."""

from __future__ import annotations

import gzip
import os
import socket
import threading

import pytest
from urllib3.util import parse_url

from proxy import http1
from proxy.http1.pool import Origin, origin_of
from proxy.http1.response import Http1Response
from tests.raw_http import RawServer, read_request_head

URL = "http://upstream.test/x"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n6;ext\r\n world\r\n0\r\nX-Trailer: ignored\r\n\r\n"
)
LENGTH = b"HTTP/1.1 201 Created\r\nContent-Length: 11\r\nX-Kind: length\r\n\r\nhello world"
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Kind: close\r\n\r\nhello world"


class ScriptedSocket:
    """A socket whose reads return the given pieces in turn, then the end (b"")."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = [piece for piece in pieces if piece]
        self.closed = False

    def recv(self, size: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""

    def close(self) -> None:
        self.closed = True


def answer_in_pieces(answer: bytes, cut: int) -> tuple[Http1Response, ScriptedSocket, Origin]:
    sock = ScriptedSocket([answer[:cut], answer[cut:]])
    origin = Origin("http", "upstream.test", 80, None)
    response = Http1Response(sock, origin, "GET", URL)  # type: ignore[arg-type]
    response.read_head()
    return response, sock, origin


@pytest.mark.parametrize(
    ("answer", "status", "kind", "kept"),
    [
        (CHUNKED, 200, "chunked", True),
        (LENGTH, 201, "length", True),
        (UNTIL_CLOSE, 200, "close", False),
    ],
)
def test_an_answer_split_at_any_byte_reads_the_same(answer, status, kind, kept):
    for cut in range(1, len(answer)):
        response, sock, origin = answer_in_pieces(answer, cut)
        assert (response.status, response.headers["X-Kind"]) == (status, kind), cut
        assert response.read() == b"hello world", cut
        assert "X-Trailer" not in response.headers
        assert (origin.idle == [sock], sock.closed) == (kept, not kept), cut


def test_an_answer_read_byte_by_byte_reads_the_same():
    sock = ScriptedSocket([bytes([byte]) for byte in CHUNKED])
    origin = Origin("http", "upstream.test", 80, None)
    response = Http1Response(sock, origin, "GET", URL)  # type: ignore[arg-type]
    response.read_head()
    reads = list(iter(lambda: response.read1(3), b""))
    assert (b"".join(reads), len(reads)) == (b"hello world", 11)  # each byte as it came
    assert origin.idle == [sock]


def test_a_compressed_answer_is_decoded_in_bounded_reads():
    body = gzip.compress(b"a" * 200_000)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
    response, _, _ = answer_in_pieces(head + body, len(head) + 10)
    reads = []
    while data := response.read1(65536, decode_content=True):
        reads.append(len(data))
    assert sum(reads) == 200_000
    assert max(reads) <= 65536


def test_an_answer_cut_short_breaks_off():
    response, sock, origin = answer_in_pieces(LENGTH[:-3], 10)
    with pytest.raises(Exception, match="ended prematurely"):
        response.read()
    assert (sock.closed, origin.idle) == (True, [])


def test_an_interim_100_continue_is_skipped():
    response, _, _ = answer_in_pieces(b"HTTP/1.1 100 Continue\r\n\r\n" + LENGTH, 30)
    assert (response.status, response.read()) == (201, b"hello world")


class KeepAliveServer(RawServer):
    """Answers every request of a connection (kept alive); with `close_after`, closes each
    connection after its first answer and sets `closed`. Counts connections."""

    def __init__(self, close_after: bool = False) -> None:
        self.close_after = close_after
        self.closed = threading.Event()
        super().__init__()

    def serve(self, connection: socket.socket, number: int) -> None:
        with connection, connection.makefile("rb") as reader:
            while reader.readline():
                body = reader.read(read_request_head(reader))
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                if self.close_after:
                    connection.shutdown(socket.SHUT_RDWR)
                    self.closed.set()
                    return


def send(port: int, method: str, body: bytes = b"") -> bytes:
    url = f"http://127.0.0.1:{port}/echo"
    headers = {"Content-Length": str(len(body))} if body else {}
    response = http1.send(method, parse_url(url), url, headers, body, (5.0, 5.0))
    return response.read()


def test_a_kept_alive_socket_serves_the_next_request():
    server = KeepAliveServer()
    try:
        assert [send(server.port, "POST", b"one"), send(server.port, "POST", b"two")] == [
            b"one",
            b"two",
        ]
        assert server.connections == 1
    finally:
        server.close()


def test_a_socket_the_upstream_closed_while_idle_is_not_used_even_for_a_post():
    server = KeepAliveServer(close_after=True)
    try:
        assert send(server.port, "POST", b"one") == b"one"
        assert server.closed.wait(5)
        assert send(server.port, "POST", b"two") == b"two"  # a dead socket would answer nothing
        assert server.connections == 2
    finally:
        server.close()


def test_a_kept_alive_socket_numbered_past_select_s_limit_serves_the_next_request():
    """A worker holding a thousand streams numbers its sockets past 1024, select(2)'s limit:
    the idle socket is still checked and reused (it answered 500 with a ValueError)."""
    server = KeepAliveServer()
    taken = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert send(server.port, "POST", b"one") == b"one"
        assert origin_of("http", "127.0.0.1", server.port).idle[-1].fileno() > 1024
        assert send(server.port, "POST", b"two") == b"two"
        assert server.connections == 1
    finally:
        for fd in taken:
            os.close(fd)
        server.close()


class RawAnswerServer(RawServer):
    """Answers every connection's request with the same raw bytes, then closes it."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        super().__init__()

    def serve(self, connection: socket.socket, number: int) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data and (more := connection.recv(65536)):
                data += more
            try:
                connection.sendall(self.answer)
                connection.shutdown(socket.SHUT_WR)
                while connection.recv(65536):  # until the gateway lets go of it
                    pass
            except OSError:
                pass


TOO_MANY_FIELDS = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101))
MALFORMED = [
    TOO_MANY_FIELDS + b"Content-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * 70_000 + b"\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"NOT HTTP AT ALL\r\n\r\n",
]


@pytest.mark.parametrize("answer", MALFORMED, ids=["fields", "line", "status", "lengths", "junk"])
def test_a_malformed_or_oversized_answer_head_is_a_502(answer, route, proxy_client):
    server = RawAnswerServer(answer)
    try:
        gateway = route(subdomain="malformed", targets=[("127.0.0.1", server.port)])
        response = proxy_client.get(
            "/x", HTTP_HOST="malformed.localhost", HTTP_X_API_KEY=gateway.key
        )
        assert response.status_code == 502
    finally:
        server.close()


def test_chunked_extensions_and_trailers_pass_through_the_proxy(route, proxy_client):
    server = RawAnswerServer(CHUNKED)
    try:
        gateway = route(subdomain="chunked", targets=[("127.0.0.1", server.port)])
        response = proxy_client.get("/x", HTTP_HOST="chunked.localhost", HTTP_X_API_KEY=gateway.key)
        assert (response.status_code, response["X-Kind"]) == (200, "chunked")
        assert b"".join(response.streaming_content) == b"hello world"
    finally:
        server.close()
