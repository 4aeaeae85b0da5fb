"""One request of a connection as the stream fills it in, and the reader its body comes from."""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from gunicorn.http.body import Body
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request


class Connection(Protocol):
    """What a body reader needs of its connection's stream (`stream.RequestStream`)."""

    eof: bool

    def receive(self) -> None: ...


class ParsedRequest(Request):
    """gunicorn's Request, filled in by the stream's callbacks instead of its own parse."""

    def __init__(self, cfg: Any, peer_addr: Any, req_number: int, scheme: str) -> None:
        # gunicorn's __init__ reads and parses from its unreader: the fields are set here.
        self.cfg = cfg
        self.peer_addr = self.remote_addr = peer_addr
        self.req_number = req_number
        self.method = self.uri = self.path = self.query = self.fragment = None
        self.version: tuple[int, int] | None = None
        self.headers: list[tuple[str, str]] = []
        self.trailers: list[tuple[str, str]] = []
        self.body: Body | None = None
        self.scheme = scheme
        self.must_close = False
        self._expected_100_continue = False
        self.proxy_protocol_info = None
        # The stream's state of this message.
        self.url: list[bytes] = []
        self.url_length = 0
        self.raw: list[bytes] | None = None  # the reads since its start, while its head is read
        self.head_bytes = 0
        self.scheme_state = [False]
        self.seen: set[str] = set()
        self.head_done = False
        self.chunked = self.transfer_encoding = False
        self.content_length = 0
        self.chunks: deque[bytes] = deque()
        self.complete = False
        self.error: Exception | None = None


class BodyReader:
    """What gunicorn's Body reads a message's body from: the chunks llhttp delivered, and more
    read from the connection when none are left."""

    def __init__(self, stream: Connection, message: ParsedRequest) -> None:
        self.stream = stream
        self.message = message

    @property
    def complete(self) -> bool:
        """Whether the whole body is in memory (its end parsed): reads never wait on the
        connection."""
        return self.message.complete

    def read(self, size: int) -> bytes:
        message = self.message
        while not message.chunks:
            if message.complete:
                return b""
            if message.error is not None:
                raise message.error
            if self.stream.eof:
                if message.chunked:
                    raise NoMoreData()
                return b""
            self.stream.receive()
        data = message.chunks.popleft()
        if len(data) > size:
            message.chunks.appendleft(data[size:])
            return data[:size]
        return data
