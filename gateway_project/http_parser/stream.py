"""The requests of one connection, read and parsed as they arrive, served one after another as
gunicorn's RequestParser yields them, or handed over to it with the rest of the connection."""

from __future__ import annotations

import socket
from collections import deque
from typing import Any

from gunicorn.http.errors import LimitRequestHeaders, NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from httptools import HttpParserCallbackError, HttpParserError, HttpRequestParser

from gateway_project.http_parser.head import POLICY_NAMES, HandOver, HeadReader, head_limits
from gateway_project.http_parser.message import ParsedRequest
from gateway_project.http_parser.refusals import as_gunicorn_error

READ_SIZE = 65536


def parses_here(cfg: Any) -> bool:
    """Whether this package parses the connections under `cfg`: plain HTTP/1.x, without the
    PROXY protocol, TLS or HTTP/2 (gunicorn's own parser serves those)."""
    return (
        getattr(cfg, "protocol", "http") == "http"
        and cfg.proxy_protocol == "off"
        and not cfg.is_ssl
        and getattr(cfg, "http2_cleartext", "off") == "off"
    )


class RequestStream(HeadReader):
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
        limits = head_limits(cfg)
        self.limit_line, self.limit_fields, self.limit_field_size, self.limit_head = limits
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

    # llhttp's callbacks of a message's start, body and end (HeadReader has its head's)

    def on_message_begin(self) -> None:
        self.count += 1
        message = ParsedRequest(self.cfg, self.peer_addr, self.count, self.scheme)
        if self.next_raw is not None:
            message.raw = [self.next_raw]
            self.next_raw = None
        self.parsing = message

    def on_body(self, data: bytes) -> None:
        self.parsing.chunks.append(data)

    def on_message_complete(self) -> None:
        self.parsing.complete = True
        self.parsing = None
        self.body_left = None
