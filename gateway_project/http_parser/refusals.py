"""What llhttp refuses, as the gunicorn error nearest to it (each a 400 from gunicorn's worker)."""

from __future__ import annotations

import re

from gunicorn.http.errors import (
    ChunkMissingTerminator,
    InvalidChunkExtension,
    InvalidChunkSize,
    InvalidHeader,
    InvalidRequestLine,
    InvalidRequestMethod,
)
from httptools import HttpParserError, HttpParserInvalidMethodError, HttpParserInvalidURLError

from gateway_project.http_parser.message import ParsedRequest

CHUNK_ERRORS = (  # llhttp's reasons for bad chunked framing, as gunicorn's errors
    (re.compile("extension", re.IGNORECASE), InvalidChunkExtension),
    (re.compile("after chunk", re.IGNORECASE), ChunkMissingTerminator),
)


def as_gunicorn_error(error: HttpParserError, message: ParsedRequest | None) -> Exception:
    """The gunicorn error nearest to what llhttp refused in `message`'s head or body."""
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
