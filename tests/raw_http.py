"""Raw HTTP/1.1 over a socket, for request forms that HTTP clients would normalise or refuse,
and upstreams answering what HTTP servers would not write."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    head: bytes = b""  # the status line and header lines as received

    def json(self) -> Any:
        return json.loads(self.body)


def request_head(
    method: str, target: str, host: str, headers: dict[str, str] | None = None
) -> bytes:
    """A request head sent byte for byte: the target is not normalised or encoded."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(body: bytes, size: int = 7) -> bytes:
    """`body` in the chunked transfer coding, in chunks of `size` bytes."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def read_response(sock: socket.socket) -> RawResponse:
    """One response: its head, then its body (chunked, Content-Length, or until close)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a full response head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return RawResponse(int(status_line.split()[1]), headers, read_chunked(sock, body), head)
    length = headers.get("content-length")
    while (length is None or len(body) < int(length)) and (chunk := sock.recv(65536)):
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body, head)


def read_chunked(sock: socket.socket, data: bytes) -> bytes:
    """The decoded body of a chunked response, `data` being what was already received."""
    body = b""
    while True:
        while b"\r\n" not in data:
            data += _recv(sock)
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        while len(data) < size + 2:
            data += _recv(sock)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


def _recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("connection closed inside a chunked body")
    return chunk


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> RawResponse:
    """Send `data` as is to 127.0.0.1:`port` and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


class RawServer:
    """A loopback listener on a free port, each connection served by `serve` in its own thread
    with its number (1 for the first; `connections` counts them) until `close`. Subclasses set
    their own attributes before calling this __init__, which starts accepting."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self.serve, args=(connection, self.connections), daemon=True
            ).start()

    def serve(self, connection: socket.socket, number: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.listener.close()


def read_request_head(reader: BinaryIO) -> int:
    """Read a request's header lines up to the empty one: its Content-Length (0 without one)."""
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return length
