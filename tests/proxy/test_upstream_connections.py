"""The upstream client writes a request's head and body together, and still sends bodies right."""

from __future__ import annotations

import socket
import threading

import pytest

from proxy.connections import RESPONSE_BUFFER_SIZE
from proxy.upstream import POOLS
from tests.raw_http import RawServer, read_request_head

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class FirstReadServer:
    """Accepts one connection, keeps what its first recv() returned, answers 200 and closes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.first_read = b""
        self.everything = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.settimeout(5)
            self.first_read = connection.recv(65536)
            self.everything = self.first_read
            while b"\r\n\r\n" not in self.everything or not self._complete():
                more = connection.recv(65536)
                if not more:
                    break
                self.everything += more
            connection.sendall(ANSWER)

    def _complete(self) -> bool:
        head, _, body = self.everything.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                return len(body) >= int(value)
        return True

    def close(self) -> None:
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def first_read_server():
    server = FirstReadServer()
    yield server
    server.close()


def test_head_and_body_arrive_in_one_write(first_read_server):
    body = b'{"model": "gpt-4o-mini", "messages": []}'
    url = f"http://127.0.0.1:{first_read_server.port}/v1/chat/completions"
    response = POOLS.request("POST", url, body=body, headers={"Content-Type": "application/json"})
    assert response.status == 200
    assert first_read_server.first_read.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert first_read_server.first_read.endswith(b"\r\n\r\n" + body)


def test_request_without_body_sends_only_the_head(first_read_server):
    response = POOLS.request("GET", f"http://127.0.0.1:{first_read_server.port}/json")
    assert response.status == 200
    assert first_read_server.everything.startswith(b"GET /json HTTP/1.1\r\n")
    assert first_read_server.everything.endswith(b"\r\n\r\n")


def test_empty_body_still_sends_the_head(first_read_server):
    response = POOLS.request("POST", f"http://127.0.0.1:{first_read_server.port}/empty", body=b"")
    assert response.status == 200
    assert b"Content-Length: 0\r\n" in first_read_server.everything


def test_streamed_body_is_sent_chunked_after_the_head(first_read_server):
    chunks = (part for part in (b"first,", b"second"))
    url = f"http://127.0.0.1:{first_read_server.port}/upload"
    response = POOLS.request("POST", url, body=chunks)
    assert response.status == 200
    head, _, body = first_read_server.everything.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body.startswith(b"6\r\nfirst,\r\n")


class OneAnswerPerConnectionServer(RawServer):
    """Answers the first request of each connection (kept alive), then reads the second and
    closes without answering: an upstream dropping idle connections, seen from the pool."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request line)
        super().__init__()

    def serve(self, connection: socket.socket, number: int) -> None:
        with connection, connection.makefile("rb") as reader:
            for answered in (True, False):
                line = reader.readline()
                if not line:
                    return
                reader.read(read_request_head(reader))
                self.requests.append((number, line.strip()))
                if answered:
                    body = f"{number}!".encode()
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n"
                    connection.sendall(head.encode() + body)


@pytest.fixture
def dropping_server():
    server = OneAnswerPerConnectionServer()
    yield server
    server.close()


def test_idempotent_request_on_a_dropped_kept_alive_connection_is_sent_again(
    dropping_server, route, proxy_client
):
    gateway = route(subdomain="dropping", targets=[("127.0.0.1", dropping_server.port)])
    host = {"HTTP_HOST": "dropping.localhost", "HTTP_X_API_KEY": gateway.key}
    first = proxy_client.get("/first", **host)
    assert (first.status_code, b"".join(first.streaming_content)) == (200, b"1!")
    second = proxy_client.get("/second", **host)
    assert (second.status_code, b"".join(second.streaming_content)) == (200, b"2!")
    assert dropping_server.requests == [
        (1, b"GET /first HTTP/1.1"),
        (1, b"GET /second HTTP/1.1"),
        (2, b"GET /second HTTP/1.1"),
    ]


def test_a_post_on_a_dropped_connection_is_not_sent_twice(dropping_server, route, proxy_client):
    gateway = route(subdomain="dropping", targets=[("127.0.0.1", dropping_server.port)])
    host = {"HTTP_HOST": "dropping.localhost", "HTTP_X_API_KEY": gateway.key}
    first = proxy_client.post("/first", b"a", content_type="text/plain", **host)
    assert b"".join(first.streaming_content) == b"1!"
    second = proxy_client.post("/second", b"b", content_type="text/plain", **host)
    assert second.status_code == 502
    assert dropping_server.requests == [(1, b"POST /first HTTP/1.1"), (1, b"POST /second HTTP/1.1")]


def test_heads_and_chunks_larger_than_the_read_buffer_arrive_whole():
    """An upstream answer is read through a RESPONSE_BUFFER_SIZE buffer: a head and chunks
    larger than it, and chunks split across it, arrive whole, streamed or read at once."""
    headers = b"".join(b"X-Long-%d: %s\r\n" % (i, b"v" * 200) for i in range(40))
    pieces = [b"a" * 5000, b"b" * 3, b"c" * (RESPONSE_BUFFER_SIZE - 1), b"d" * 70000]
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + headers + b"\r\n" + body
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/stream"
    try:
        whole = POOLS.request("GET", url, headers={"Connection": "close"})
        streamed = POOLS.request("GET", url, headers={"Connection": "close"}, preload_content=False)
        reads = list(iter(lambda: streamed.read1(65536), b""))
    finally:
        thread.join(5)
        listener.close()
    assert whole.headers["X-Long-39"] == "v" * 200
    assert whole.data == b"".join(pieces)
    assert streamed.headers["X-Long-0"] == "v" * 200
    assert b"".join(reads) == b"".join(pieces)
