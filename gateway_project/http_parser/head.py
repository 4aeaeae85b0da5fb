"""A request's head as llhttp reads it, judged by gunicorn's rules: its limits, header policy,
the framing of its body, and what is handed over to gunicorn's own parser."""

from __future__ import annotations

from collections import deque
from typing import Any

from gunicorn.http.body import Body
from gunicorn.http.errors import (
    InvalidHeader,
    InvalidHeaderName,
    LimitRequestHeaders,
    LimitRequestLine,
    UnsupportedTransferCoding,
)
from gunicorn.http.message import (
    DEFAULT_MAX_HEADERFIELD_SIZE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    RFC9110_5_3_SINGLETON_FIELDS,
    RFC9110_6_5_1_FORBIDDEN_TRAILER,
    RFC9112_TARGET_INVALID,
)
from gunicorn.util import split_request_uri
from httptools import HttpRequestParser

from gateway_project.http_parser.message import BodyReader, ParsedRequest

POLICY_NAMES = RFC9110_5_3_SINGLETON_FIELDS | {"EXPECT"}  # besides scheme headers, underscores
VERSIONS = {"1.1": (1, 1), "1.0": (1, 0)}


class HandOver(Exception):
    """Raised in a parser callback: gunicorn's own parser takes this request and the rest.

    A head llhttp refuses, or one left to gunicorn (an upgrade, CONNECT, a target that is not a
    path, a leading empty line, another HTTP version), is handed with the rest of the connection
    to gunicorn's own parser: it answers exactly as it always did (a 400 naming the error, or the
    request served). Only a request pipelined behind another in the same read, whose first
    byte's place llhttp does not report, gets the nearest gunicorn error instead."""


class HeadReader:
    """llhttp's callbacks of a request's head, for the RequestStream they are part of (whose
    state below they read): what passes becomes the request's fields, what does not raises
    gunicorn's error or HandOver."""

    parser: HttpRequestParser | None
    parsing: ParsedRequest | None
    ready: deque[ParsedRequest]
    limit_line: int
    limit_fields: int
    limit_field_size: int
    policy_names: set[str]
    secure_scheme_headers: dict[str, str]
    forwarder_headers: list[str]

    def locate_next(self, message: ParsedRequest, raw: bytes | None) -> None:
        raise NotImplementedError  # the stream's: where the message after this head starts

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


def head_limits(cfg: Any) -> tuple[int, int, int, int]:
    """(request line, header count, header line size, whole head) as gunicorn's Request bounds
    them; a request line of 0 is unlimited."""
    line = cfg.limit_request_line
    line = MAX_REQUEST_LINE if line < 0 or line >= MAX_REQUEST_LINE else line
    fields = cfg.limit_request_fields
    fields = MAX_HEADERS if fields <= 0 or fields > MAX_HEADERS else fields
    size = cfg.limit_request_field_size
    size = size if size > 0 else DEFAULT_MAX_HEADERFIELD_SIZE
    return line, fields, size, fields * (size + 2) + 4 + (line or MAX_HEADERS)


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
