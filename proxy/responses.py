"""Proxy responses that carry repeated header lines as received (each upstream Set-Cookie), the
proxy's own error answers, and the answers plugins give themselves."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

from gateway_project.responses import json_error
from plugins.sdk.context import PluginResponse, RequestContext

# The `type` and default `code` of an error in OpenAI's shape, by status, as OpenAI's API has them.
OPENAI_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
OPENAI_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}

# A header value may not hold line breaks or other control characters (HTAB aside).
UNSAFE_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class RepeatedHeadersMixin:
    """Django keeps one value per header name, and re-parses `response.cookies` through
    SimpleCookie (which drops or rewrites cookies it does not know). Lines added here reach the
    WSGI and ASGI handlers unchanged, each as its own header, after the ordinary headers."""

    def __init__(self, *args, **kwargs) -> None:
        self.repeated_headers: list[tuple[str, str]] = []
        super().__init__(*args, **kwargs)

    def add_repeated_header(self, name: str, value: str) -> bool:
        """Append one header line; a value with control characters is refused (False)."""
        if UNSAFE_VALUE.search(value):
            return False
        self.repeated_headers.append((name, value))
        return True

    def items(self) -> Iterable[tuple[str, str]]:
        return stored_lines(self)  # type: ignore[arg-type]

    def set_headers(self, lines: list[tuple[str, str]]) -> None:
        set_header_lines(self, lines)  # type: ignore[arg-type]


def stored_lines(response: HttpResponseBase) -> list[tuple[str, str]]:
    """What `response.items()` lists, read at once from Django's header store, `(name, value)`
    in order (Django's `items()` looks each name up again, lowering it), then a proxy
    response's repeated lines."""
    return [*response.headers._store.values(), *getattr(response, "repeated_headers", ())]


def set_header_lines(response: HttpResponseBase, lines: Iterable[tuple[str, str]]) -> None:
    """`response[name] = value` for each line, in order. Django converts and checks each name
    and value on its own; here lines that are all ASCII strings without CR or LF (what Django
    would store unchanged) are checked in one pass and stored at once. Any other batch goes
    through Django line by line: its refusal, its encoding of non-ASCII values."""
    lines = list(lines)
    if lines_store_unchanged(lines):
        response.headers._store.update({name.lower(): (name, value) for name, value in lines})
    else:
        for name, value in lines:
            response[name] = value


def lines_store_unchanged(lines: list[tuple[str, str]]) -> bool:
    """Every name and value an ASCII string without CR or LF (Django's header store keeps such
    lines as given)."""
    try:
        joined = "".join([text for line in lines for text in line])
    except TypeError:  # bytes or other values: Django converts them
        return False
    return joined.isascii() and "\n" not in joined and "\r" not in joined


class ProxyResponse(RepeatedHeadersMixin, HttpResponse):
    """A buffered proxy response."""


class StreamingProxyResponse(RepeatedHeadersMixin, StreamingHttpResponse):
    """A streamed proxy response. Its chunks are bytes already: the WSGI server iterates them
    as they come, without Django's map(make_bytes) around them (one call a chunk fewer, and one
    C iterator less on the stack a waiting stream's greenlet saves)."""

    def __iter__(self) -> Iterator[bytes]:
        return self._iterator


def error_response(
    status: int,
    message: str,
    *,
    openai: bool,
    headers: dict[str, str] | None = None,
    param: str | None = None,
    code: str | None = None,
    **extra: Any,
) -> HttpResponse:
    """The gateway's own error: `{"error": message}`, or on an LLM route (`openai`) OpenAI's
    `{"error": {message, type, param, code}}`, which the OpenAI SDKs read their message from."""
    if not openai:
        return json_error(status, message, headers=headers, **extra)
    error = {
        "message": message,
        "type": openai_error_type(status),
        "param": param,
        "code": code or OPENAI_ERROR_CODES.get(status),
    }
    return json_error(status, error, headers=headers, **extra)


def openai_error_type(status: int) -> str:
    if status >= 500:
        return "api_error"
    return OPENAI_ERROR_TYPES.get(status, "invalid_request_error")


def plugin_response(context: RequestContext | None, answer: PluginResponse) -> HttpResponse:
    """A plugin answered the request itself (e.g. a CORS preflight); the upstream is not called."""
    response = HttpResponse(answer.body, status=answer.status)
    if not answer.body:
        del response["Content-Type"]
    for name, value in {**(context.response_headers if context else {}), **answer.headers}.items():
        response[name] = value
    return response
