"""Proxy responses that carry repeated header lines as received (each upstream Set-Cookie)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.http import HttpResponse, StreamingHttpResponse

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
        return [*super().items(), *self.repeated_headers]  # type: ignore[misc]


class ProxyResponse(RepeatedHeadersMixin, HttpResponse):
    """A buffered proxy response."""


class StreamingProxyResponse(RepeatedHeadersMixin, StreamingHttpResponse):
    """A streamed proxy response."""
