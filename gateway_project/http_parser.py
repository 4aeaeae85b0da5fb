"""gunicorn's HTTP/1.1 request parser done by httptools (llhttp, in C), with gunicorn's answers.

`RequestStream` yields, one request after another on a connection, the request objects that
gunicorn's own parser yields (its `Request`, read by `gunicorn.http.wsgi.create` into the same
environ), under gunicorn's rules: its limits (limit_request_line, limit_request_fields,
limit_request_field_size, the head's buffer), its header policy (singleton fields, Expect,
forwarded and scheme headers, underscores), its framing refusals and trailers.

A head llhttp refuses, or one the stream leaves to gunicorn (an upgrade, CONNECT, a target that
is not a path, a leading empty line, another HTTP version), is handed with the rest of the
connection to gunicorn's own parser: it answers exactly as it always did (a 400 naming the
error, or the request served). Only a request pipelined behind another in the same read, whose
first byte's place llhttp does not report, gets the nearest gunicorn error instead.
"""

from __future__ import annotations

import re
import socket
from collections import deque
from typing import Any

from gunicorn.http.body import Body
from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    InvalidHeader,
    InvalidHeaderName,
    InvalidRequestLine,
    InvalidRequestMethod,
    LimitRequestHeaders,
    LimitRequestLine,
    NoMoreData,
    UnsupportedTransferCoding,
)
from gunicorn.http.message import (
    DEFAULT_MAX_HEADERFIELD_SIZE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    RFC9110_5_3_SINGLETON_FIELDS,
    RFC9110_6_5_1_FORBIDDEN_TRAILER,
    RFC9112_TARGET_INVALID,
    Request,
)
from gunicorn.http.parser import RequestParser
from gunicorn.util import split_request_uri
from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserInvalidMethodError,
    HttpParserInvalidURLError,
    HttpRequestParser,
)

READ_SIZE = 65536
POLICY_NAMES = RFC9110_5_3_SINGLETON_FIELDS | {"EXPECT"}  # besides scheme headers, underscores
VERSIONS = {"1.1": (1, 1), "1.0": (1, 0)}
CHUNK_ERRORS = (  # llhttp's reasons for bad chunked framing, as gunicorn's errors
    (re.compile("extension", re.IGNORECASE), InvalidChunkExtension),
    (re.compile("after chunk", re.IGNORECASE), ChunkMissingTerminator),
)


def parses_here(cfg: Any) -> bool:
    """Whether this module parses the connections under `cfg`: plain HTTP/1.x, without the PROXY
    protocol, TLS or HTTP/2 (gunicorn's own parser serves those)."""
    return (
        getattr(cfg, "protocol", "http") == "http"
        and cfg.proxy_protocol == "off"
        and not cfg.is_ssl
        and getattr(cfg, "http2_cleartext", "off") == "off"
    )


class HandOver(Exception):
    """Raised in a parser callback: gunicorn's own parser takes this request and the rest."""


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

    def __init__(self, stream: RequestStream, message: ParsedRequest) -> None:
        self.stream = stream
        self.message = message

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


class RequestStream:
    """The requests of one connection, as gunicorn's RequestParser iterates them."""

    def __init__(self, cfg: Any, sock: socket.socket, peer_addr: Any) -> None:
        self.cfg = cfg
        self.sock = sock
        self.peer_addr = peer_addr
        self.parser: HttpRequestParser | None = HttpRequestParser(self)
        self.gunicorn: RequestParser | None = None  # after a hand-over
        self.ready: deque[ParsedRequest] = deque()  # heads read, not yet served
        self.current: ParsedRequest | None = None  # served
        self.parsing: ParsedRequest | None = None  # being read by llhttp
        self.next_raw: bytes | None = None  # where the next message starts, when known
        self.body_left: int | None = None  # bytes of the parsed body still to come, if known
        self.head_failure: tuple[Exception, list[bytes] | None] | None = None
        self.count = 0
        self.eof = False
        self.limit_line, self.limit_fields, self.limit_field_size = head_limits(cfg)
        self.limit_head = (
            self.limit_fields * (self.limit_field_size + 2) + 4 + (self.limit_line or MAX_HEADERS)
        )
        # The peer is the same for every request of the connection: trusted once.
        self.scheme = "https" if cfg.is_ssl else "http"
        probe = ParsedRequest(cfg, peer_addr, 0, self.scheme)
        self.secure_scheme_headers, self.forwarder_headers = probe._peer_trusted_for_forwarded()
        self.policy_names = POLICY_NAMES | set(self.secure_scheme_headers)

    def __iter__(self) -> RequestStream:
        return self

    def __next__(self) -> Request:
        if self.gunicorn is not None:
            return next(self.gunicorn)
        current = self.current
        if current is not None and (current.should_close() or not self.finish(current)):
            raise StopIteration()
        self.current = None
        while not self.ready:
            if self.head_failure is not None:
                return self.hand_over(*self.head_failure)
            if self.eof:
                if self.parsing is None:
                    raise StopIteration()
                raise NoMoreData(b"".join(self.parsing.raw or ()))
            self.receive()
        self.current = self.ready.popleft()
        return self.current

    def finish(self, message: ParsedRequest) -> bool:
        """Discard what is left of the served message's body: whether the connection can serve
        another request."""
        if message.body is not None and message.body.failed:
            return False
        while not message.complete:
            message.chunks.clear()
            if message.error is not None or self.eof:
                return False
            self.receive()
        message.chunks.clear()
        return True

    def hand_over(self, error: Exception, raw: list[bytes] | None) -> Request:
        """The failed request and the rest of the connection, to gunicorn's own parser (or its
        error, when the request's bytes are not known)."""
        if raw is None:
            raise error
        self.gunicorn = RequestParser(self.cfg, self.sock, self.peer_addr)
        self.gunicorn.unreader.unread(b"".join(raw))
        self.gunicorn.req_count = self.count - 1
        return next(self.gunicorn)

    def receive(self) -> None:
        """Read from the connection and parse what came."""
        data = self.sock.recv(READ_SIZE)
        if not data:
            self.eof = True
            return
        parsing = self.parsing
        if parsing is None:
            self.next_raw = data
        elif not parsing.head_done:
            if parsing.raw is not None:
                parsing.raw.append(data)
            parsing.head_bytes += len(data)
            if parsing.head_bytes > self.limit_head:
                self.fail(LimitRequestHeaders("max buffer headers"))
                return
        elif self.body_left is not None:
            if len(data) > self.body_left:
                self.next_raw = data[self.body_left :]
            self.body_left = max(self.body_left - len(data), 0)
        else:
            self.next_raw = None
        if self.parser is None:  # failed: nothing more is parsed
            return
        try:
            self.parser.feed_data(data)
        except HttpParserCallbackError as exc:
            self.fail(exc.__context__ or as_gunicorn_error(exc, self.parsing))
        except HttpParserError as exc:
            self.fail(as_gunicorn_error(exc, self.parsing), handed_over=True)

    def fail(self, error: BaseException, handed_over: bool = False) -> None:
        """The message being parsed failed: in its body, its reader raises; in its head, the
        next request is gunicorn's (llhttp's refusals, hand-overs) or this error."""
        self.parser = None
        if not isinstance(error, Exception):  # a GreenletExit or timeout: not the client's
            raise error
        message = self.parsing
        if message is None:  # between messages: nothing to hand over
            self.head_failure = (error, None)
            return
        if message.head_done:
            message.error = error
            return
        raw = message.raw if handed_over or isinstance(error, HandOver) else None
        self.head_failure = (error, raw)

    # llhttp's callbacks (httptools calls them during feed_data)

    def on_message_begin(self) -> None:
        self.count += 1
        message = ParsedRequest(self.cfg, self.peer_addr, self.count, self.scheme)
        if self.next_raw is not None:
            message.raw = [self.next_raw]
            self.next_raw = None
        self.parsing = message

    def on_url(self, url: bytes) -> None:
        message = self.parsing
        message.url.append(url)
        message.url_length += len(url)
        if self.limit_line and message.url_length > self.limit_line:
            raise LimitRequestLine(message.url_length, self.limit_line)

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self.parsing
        if len(name) + len(value) + 4 > self.limit_field_size:  # "<name>: <value>\r\n"
            raise LimitRequestHeaders("limit request headers fields size")
        key = name.decode("latin-1").upper()
        text = value.decode("latin-1").strip(" \t")
        if message.head_done:  # a trailer
            if key in RFC9110_6_5_1_FORBIDDEN_TRAILER:
                raise InvalidHeaderName(key)
            kept = message._apply_header_policy(
                key, text, [False], set(), {}, [], from_trailer=True
            )
            if kept is not None:
                message.trailers.append(kept)
            return
        if message.method is None:
            self.check_request_line(message)
        headers = message.headers
        if len(headers) >= self.limit_fields:
            raise LimitRequestHeaders("limit request headers fields")
        if key == "CONTENT-LENGTH":
            message.content_length = int(text)  # digits only: llhttp checked them
        elif key == "TRANSFER-ENCODING":
            message.transfer_encoding = True
        if key in self.policy_names or "_" in key:  # what gunicorn's header policy acts on
            kept = message._apply_header_policy(
                key,
                text,
                message.scheme_state,
                message.seen,
                self.secure_scheme_headers,
                self.forwarder_headers,
            )
            if kept is None:
                return
        headers.append((key, text))

    def on_headers_complete(self) -> None:
        message = self.parsing
        parser = self.parser
        if message.method is None:
            self.check_request_line(message)
        if parser.should_upgrade():
            raise HandOver()
        raw = None if message.raw is None else b"".join(message.raw)
        if raw is not None and raw[:2] == b"\r\n":
            raise HandOver()  # gunicorn ignores exactly one empty line before a request
        message.chunked = message.transfer_encoding and framing(message)
        message.head_done = True
        message.body = Body(BodyReader(self, message))
        message.url = []
        message.raw = None
        self.ready.append(message)
        self.locate_next(message, raw)

    def check_request_line(self, message: ParsedRequest) -> None:
        """The method, target and version, as gunicorn reads them (what differs goes to
        gunicorn)."""
        message.version = VERSIONS.get(self.parser.get_http_version())
        if message.version is None:
            raise HandOver()
        message.method = self.parser.get_method().decode("ascii")
        uri = b"".join(message.url).decode("latin-1")
        length = len(message.method) + len(uri) + 10  # "<method> <target> HTTP/1.x"
        if self.limit_line and length > self.limit_line:
            raise LimitRequestLine(length, self.limit_line)
        if uri[:1] != "/" or RFC9112_TARGET_INVALID.search(uri):
            raise HandOver()  # the other forms of target, and what gunicorn refuses
        message.uri = uri
        if "#" in uri or uri[:2] == "//":
            parts = split_request_uri(uri)
            path, query, fragment = parts.path, parts.query, parts.fragment
        else:
            path, _, query = uri.partition("?")
            fragment = ""
        message.path, message.query, message.fragment = path or "", query or "", fragment or ""

    def locate_next(self, message: ParsedRequest, raw: bytes | None) -> None:
        """Where the next message starts, when the body's length tells: what is left of this
        read after the head and body of `message`."""
        if raw is None or message.chunked:
            self.next_raw = self.body_left = None
            return
        length = message.content_length
        rest = len(raw) - (raw.find(b"\r\n\r\n") + 4)
        if rest > length:
            self.next_raw = raw[len(raw) - rest + length :]
        self.body_left = max(length - rest, 0)

    def on_body(self, data: bytes) -> None:
        self.parsing.chunks.append(data)

    def on_message_complete(self) -> None:
        self.parsing.complete = True
        self.parsing = None
        self.body_left = None


def head_limits(cfg: Any) -> tuple[int, int, int]:
    """(request line, header count, header line size) as gunicorn's Request bounds them; a
    request line of 0 is unlimited."""
    line = cfg.limit_request_line
    line = MAX_REQUEST_LINE if line < 0 or line >= MAX_REQUEST_LINE else line
    fields = cfg.limit_request_fields
    fields = MAX_HEADERS if fields <= 0 or fields > MAX_HEADERS else fields
    size = cfg.limit_request_field_size
    return line, fields, size if size > 0 else DEFAULT_MAX_HEADERFIELD_SIZE


def framing(message: ParsedRequest) -> bool:
    """gunicorn's refusals of a body's framing (Message.set_body_reader), for what llhttp lets
    through: whether the body is chunked."""
    chunked = transfer_encoding = content_length = False
    for name, value in message.headers:
        if name == "CONTENT-LENGTH":
            content_length = True
        elif name == "TRANSFER-ENCODING":
            transfer_encoding = True
            for coding in value.split(","):
                coding = coding.strip(" \t").lower()
                if coding not in ("chunked", "identity", "compress", "deflate", "gzip"):
                    raise UnsupportedTransferCoding(value)
                if chunked:  # stacked or misplaced codings
                    raise InvalidHeader("TRANSFER-ENCODING", req=message)
                chunked = coding == "chunked"
                if coding in ("compress", "deflate", "gzip"):
                    message.force_close()
    if transfer_encoding and not chunked:
        raise InvalidHeader("TRANSFER-ENCODING", req=message)
    if chunked and message.version < (1, 1):
        raise InvalidHeader("TRANSFER-ENCODING", req=message)
    if chunked and content_length:
        raise InvalidHeader("CONTENT-LENGTH", req=message)
    return chunked


def as_gunicorn_error(error: HttpParserError, message: ParsedRequest | None) -> Exception:
    """The gunicorn error nearest to what llhttp refused (each a 400 from gunicorn's worker)."""
    reason = str(error)
    if message is not None and message.head_done:
        for pattern, error_class in CHUNK_ERRORS:
            if pattern.search(reason):
                return error_class(reason)
        return InvalidChunkSize(reason)
    if isinstance(error, HttpParserInvalidMethodError):
        return InvalidRequestMethod(reason)
    if isinstance(error, HttpParserInvalidURLError):
        return InvalidRequestLine(reason)
    return InvalidHeader(reason)
