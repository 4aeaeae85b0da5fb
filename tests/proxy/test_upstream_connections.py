"""The upstream client writes a request's head and body together, and still sends bodies right."""

from __future__ import annotations

import socket
import threading

import pytest

from proxy.upstream import SESSION

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
    response = SESSION.post(url, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert first_read_server.first_read.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert first_read_server.first_read.endswith(b"\r\n\r\n" + body)


def test_request_without_body_sends_only_the_head(first_read_server):
    response = SESSION.get(f"http://127.0.0.1:{first_read_server.port}/json")
    assert response.status_code == 200
    assert first_read_server.everything.startswith(b"GET /json HTTP/1.1\r\n")
    assert first_read_server.everything.endswith(b"\r\n\r\n")


def test_empty_body_still_sends_the_head(first_read_server):
    response = SESSION.post(f"http://127.0.0.1:{first_read_server.port}/empty", data=b"")
    assert response.status_code == 200
    assert b"Content-Length: 0\r\n" in first_read_server.everything


def test_streamed_body_is_sent_chunked_after_the_head(first_read_server):
    chunks = (part for part in (b"first,", b"second"))
    response = SESSION.post(f"http://127.0.0.1:{first_read_server.port}/upload", data=chunks)
    assert response.status_code == 200
    head, _, body = first_read_server.everything.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert body.startswith(b"6\r\nfirst,\r\n")
