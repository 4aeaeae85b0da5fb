"""Request bodies under limits: a read deadline on wsgi.input, chunked bodies buffered, capped,
compressed ones decoded within the same cap."""

from __future__ import annotations

import io
import json
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import gevent

from gateway_project.conf import gateway_settings

READ_SIZE = 64 * 1024
# Set in the environ of a request whose chunked body was read here: its CONTENT_LENGTH is ours,
# the client declared no length.
DECHUNKED = "gateway.dechunked"
TIMED_OUT_MESSAGE = "request body timed out"
# Content-Encoding -> zlib wbits of its first try, and of the second for deflate: RFC 9110's
# deflate is zlib-wrapped, some clients send it raw.
DECODABLE = {"gzip": (31,), "x-gzip": (31,), "deflate": (15, -15)}


class BodyReadTimeout(Exception):
    """The request body did not arrive within BODY_READ_TIMEOUT (answered with 408)."""


class BodyTooLarge(Exception):
    """The request body is over MAX_BODY_BYTES (answered with 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")


class DeadlineInput:
    """A wsgi.input whose reads must all end within `seconds` of the first one (gevent); the
    reads of a body already in memory are not timed (they cannot wait)."""

    def __init__(self, stream: Any, seconds: float) -> None:
        self._stream = stream
        self._seconds = seconds
        self._deadline: float | None = None
        self.timed_out = False

    def _timed(self, method: Callable[..., bytes], *args: Any) -> bytes:
        if in_memory(self._stream):  # nothing to wait for: no timer
            return method(*args)
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._seconds
        remaining = self._deadline - now
        try:
            if remaining <= 0:
                raise BodyReadTimeout(TIMED_OUT_MESSAGE)
            with gevent.Timeout(remaining, BodyReadTimeout(TIMED_OUT_MESSAGE)):
                return method(*args)
        except BodyReadTimeout:
            self.timed_out = True
            raise

    def read(self, size: int | None = -1) -> bytes:
        return self._timed(self._stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._timed(self._stream.readline, size)

    def __iter__(self):
        return iter(self.readline, b"")


def in_memory(stream: Any) -> bool:
    """Whether `stream` (gunicorn's Body) reads a body whose end the gateway's parser already has
    (http_parser.message.BodyReader.complete): a small body arrives with its head."""
    return getattr(getattr(stream, "reader", None), "complete", False)


class UnsupportedEncoding(Exception):
    """A Content-Encoding the gateway cannot decode (answered with 415)."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"unsupported Content-Encoding: {encoding}")


class InvalidEncoding(Exception):
    """A body that is not what its Content-Encoding says (answered with 400)."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"request body is not valid {encoding}")


def decode_body(body: bytes, encoding: str, limit: int) -> bytes:
    """`body` decoded from its Content-Encoding (one of DECODABLE, or identity), incrementally:
    BodyTooLarge as soon as the output passes `limit` bytes (a bomb never inflates whole)."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return body
    if name not in DECODABLE:
        raise UnsupportedEncoding(encoding.strip())
    for wbits in DECODABLE[name]:
        try:
            return _inflate(body, wbits, limit)
        except zlib.error:
            continue
    raise InvalidEncoding(name.removeprefix("x-"))


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Every member of `data` inflated (gzip allows several), within `limit` bytes out; zlib.error
    when it is not whole (truncated, or bytes after its end)."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits)
        pending = data
        while pending and not inflater.eof:
            out += inflater.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                raise BodyTooLarge(limit)
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise zlib.error("truncated")
        data = inflater.unused_data
        if data and wbits != 31:
            raise zlib.error("bytes after the end")
    return bytes(out)


def read_limited(stream: Any, limit: int) -> bytes:
    """The whole body of `stream`, or BodyTooLarge as soon as it passes `limit` bytes."""
    buffer = bytearray()
    while chunk := stream.read(min(READ_SIZE, limit + 1 - len(buffer))):
        buffer += chunk
        if len(buffer) > limit:
            raise BodyTooLarge(limit)
    return bytes(buffer)


def is_chunked(environ: dict[str, Any]) -> bool:
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and not environ.get("CONTENT_LENGTH")


def has_body(environ: dict[str, Any]) -> bool:
    length = environ.get("CONTENT_LENGTH") or ""
    return (length not in ("", "0")) or is_chunked(environ)


class RequestBodyMiddleware:
    """WSGI middleware under Django: every body read has a deadline, and a chunked body (which
    Django would read as empty: it has no CONTENT_LENGTH) is read here, up to MAX_BODY_BYTES,
    and handed on with its length."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not has_body(environ):
            return self.app(environ, start_response)
        stream = DeadlineInput(environ["wsgi.input"], gateway_settings.BODY_READ_TIMEOUT)
        environ["wsgi.input"] = stream
        if is_chunked(environ):
            try:
                body = read_limited(stream, gateway_settings.MAX_BODY_BYTES)
            except BodyTooLarge as exc:
                return json_answer(start_response, 413, str(exc))
            except BodyReadTimeout as exc:
                return json_answer(start_response, 408, str(exc))
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ[DECHUNKED] = True
            del environ["HTTP_TRANSFER_ENCODING"]  # the body is no longer chunked
        return self._answer(environ, start_response, stream)

    def _answer(
        self, environ: dict[str, Any], start_response: Callable, stream: DeadlineInput
    ) -> Iterable[bytes]:
        """The app's answer; 408 JSON instead when its body read timed out, whatever the app
        made of that (the admin plane would render a 500)."""
        started: list[tuple] = []
        result = self.app(environ, lambda *args: started.append(args))
        if stream.timed_out:
            if hasattr(result, "close"):
                result.close()
            return json_answer(start_response, 408, TIMED_OUT_MESSAGE)
        start_response(*started[0])
        return result


def json_answer(start_response: Callable, status: int, message: str) -> list[bytes]:
    reasons = {408: "Request Timeout", 413: "Content Too Large"}
    payload = json.dumps({"error": message}).encode()
    start_response(
        f"{status} {reasons[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]
