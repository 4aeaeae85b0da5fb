"""An upstream answer read by httptools: the head parsed before it is returned, the body
streamed as it arrives (Content-Length, chunked with any extensions, or until the upstream
closes; trailers ignored), the socket kept alive for the origin's next request once read to
its end. urllib3's response interface, so callers read either client's answers alike."""

from __future__ import annotations

import socket
from typing import Any

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser
from urllib3 import BaseHTTPResponse, HTTPHeaderDict
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from proxy.http1.pool import Origin

READ_SIZE = 64 * 1024
# http.client's limits: a header line of at most 64 KiB, at most 100 header fields; the whole
# head at most 1 MiB (http.client's bound was 100 lines of 64 KiB).
MAX_FIELD = 65536
MAX_FIELDS = 100
MAX_HEAD = 1024 * 1024
NO_BODY_STATUSES = frozenset({204, 304})


class AnswerHeadTooLarge(HttpParserError):
    """The upstream's head passed a limit (its fields or its size): a malformed answer."""


class Http1Response(BaseHTTPResponse):
    """The answer on `sock`: `read_head()` parses its status line and headers (the parser's
    callbacks are this object's methods), then the body is read by `read`/`read1`/`stream`.
    Read to its end, the socket goes back to `origin`; closed before, the socket is closed."""

    def __init__(self, sock: socket.socket, origin: Origin, method: str, url: str) -> None:
        self._sock: socket.socket | None = sock
        self._origin = origin
        self._method = method
        self._url = url
        self._parser: Any = HttpResponseParser(self)  # None once the answer is done with
        self._fields: list[tuple[str, str]] = []
        self._head_bytes = 0
        self._head_done = False
        self._complete = False
        self._reusable = True
        self._until_close = False
        self._pieces: list[bytes] = []
        self._left = b""
        self.received = 0  # bytes of the answer received so far
        self.status = 0
        self.reason: str | None = None
        self.length_remaining = None

    # --- the parser's callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # bytes after the answer: the socket is not clean for another one
            self._reusable = False

    def on_status(self, reason: bytes) -> None:
        self.reason = reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_done:  # a chunked body's trailer fields: ignored
            return
        if len(self._fields) >= MAX_FIELDS or len(name) + len(value) > MAX_FIELD:
            raise AnswerHeadTooLarge("upstream answer head over http.client's limits")
        self._fields.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # an interim answer (100 Continue): skipped
            self._fields = []
            self.reason = None
            return
        headers = HTTPHeaderDict()
        for name, value in self._fields:
            headers.add(name, value)
        self._fields = []  # held by `headers` now, for as long as a stream stays open
        version = self._parser.get_http_version()
        super().__init__(
            headers=headers,
            status=status,
            version=11 if version == "1.1" else 10,
            version_string=f"HTTP/{version}",
            reason=self.reason,
            decode_content=False,
            request_url=self._url,
        )
        self._head_done = True
        # Asked now: once the answer is complete the parser has forgotten its framing.
        self._reusable = self._reusable and self._parser.should_keep_alive()
        if self._method == "HEAD" or status in NO_BODY_STATUSES:
            self._complete = True
        elif not self.chunked and "Content-Length" not in headers:
            self._until_close = True
            self._reusable = False

    def on_body(self, body: bytes) -> None:
        if not self._complete:
            self._pieces.append(body)
        else:  # a body after a HEAD answer, or bytes beyond the answer
            self._reusable = False

    def on_message_complete(self) -> None:
        if self._head_done and not self._complete:
            self._complete = True

    # --- reading ------------------------------------------------------------------------------

    def read_head(self) -> None:
        """Read until the status line and headers are parsed (the body's first bytes may come
        with them). ProtocolError for a malformed, oversized or cut-off head (`received`
        tells whether any byte of it came), ReadTimeoutError past the socket's timeout."""
        while not self._head_done:
            before = self.received
            if not self._fill():
                raise ProtocolError("Connection aborted.", ConnectionResetError("closed early"))
            self._head_bytes += self.received - before
            if not self._head_done and self._head_bytes > MAX_HEAD:
                raise ProtocolError("Connection aborted.", AnswerHeadTooLarge("head too large"))

    def _fill(self) -> bool:
        """One read from the socket through the parser; False when the upstream closed."""
        sock = self._sock
        if sock is None:  # closed, or broken off earlier: never read as a whole answer
            raise ProtocolError("Response closed before its end")
        try:
            data = sock.recv(READ_SIZE)
        except TimeoutError as exc:
            self._abandon()
            raise ReadTimeoutError(None, self._url, "Read timed out.") from exc  # type: ignore[arg-type]
        except OSError as exc:
            self._abandon()
            raise ProtocolError("Connection broken.", exc) from exc
        if not data:
            self._abandon()
            if self._until_close:
                self._complete = True
                return False
            if self._head_done and not self._complete:
                raise ProtocolError("Response ended prematurely")
            return False
        self.received += len(data)
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:  # 101: whatever follows is not HTTP
            self._reusable = False
            self._complete = self._head_done
        except HttpParserError as exc:
            self._abandon()
            raise ProtocolError("Connection aborted.", exc) from exc
        if self._complete:  # the answer is whole: its socket serves the next one when clean
            sock, self._sock = self._sock, None
            self._parser = None  # the parser holds this object's callbacks: no cycle left
            if self._reusable:
                self._origin.give(sock)
            else:
                sock.close()
        return True

    def _abandon(self) -> None:
        self._parser = None
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _raw1(self) -> bytes:
        """The next piece of the body as it came (b"" at its end)."""
        while not self._pieces:
            if self._complete or not self._fill():
                return b""
        return self._pieces.pop(0)

    def body_started(self) -> bool:
        """Whether a byte of the body arrives within the read timeout (kept for reading)."""
        try:
            while not self._pieces and not self._complete and self._fill():
                pass
        except (ProtocolError, ReadTimeoutError):
            return False
        return True

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        """What the upstream has sent of the body (at most `amt` bytes, decoded when asked;
        waits for a first byte), b"" at its end."""
        if self._left:
            data, self._left = self._left, b""
        elif decode_content:
            data = self._decoded1(amt)
        else:
            data = self._raw1()
        if amt is not None and len(data) > amt:
            data, self._left = data[:amt], data[amt:]
        return data

    def _decoded1(self, amt: int | None) -> bytes:
        self._init_decoder()
        decoder = self._decoder
        if decoder is None:
            return self._raw1()
        while True:
            raw = b"" if decoder.has_unconsumed_tail else self._raw1()
            if not raw and not decoder.has_unconsumed_tail:
                self._decoder = None  # flushed once; later reads find the end
                return self._decode(b"", True, True)
            if data := self._decode(raw, True, False, max_length=amt):
                return data

    def read(
        self, amt: int | None = None, decode_content: bool | None = None, cache_content: Any = 0
    ) -> bytes:
        """The body up to `amt` bytes (all of it when None), decoded when asked."""
        parts = []
        size = 0
        while amt is None or size < amt:
            data = self.read1(None if amt is None else amt - size, decode_content)
            if not data:
                break
            parts.append(data)
            size += len(data)
        return b"".join(parts)

    def stream(self, amt: int | None = 2**16, decode_content: bool | None = None) -> Any:
        while data := self.read1(amt, decode_content):
            yield data

    @property
    def data(self) -> bytes:
        return self.read()

    @property
    def url(self) -> str | None:
        return self._url

    @url.setter
    def url(self, url: str | None) -> None:
        self._url = url

    @property
    def connection(self) -> Any:
        return None

    def readable(self) -> bool:
        return True

    def release_conn(self) -> None:
        """Nothing to give back: a whole answer's socket went back when it ended."""

    def drain_conn(self) -> None:
        try:
            while self._raw1():
                pass
        except (ProtocolError, ReadTimeoutError):
            pass

    def shutdown(self) -> None:
        self._abandon()

    def close(self) -> None:
        """An answer closed before its end takes its socket with it (never reused)."""
        if not self._complete:
            self._abandon()

    @property
    def closed(self) -> bool:
        return self._sock is None

    def isclosed(self) -> bool:
        return self._sock is None
