"""A WSGI app for the worker's tests: answers each request with its method, path and body."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    answer = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "body": len(body)}
    out = json.dumps(answer).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]


def header_echo(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """Answers with the header lines the request's body lists (JSON `[[name, value], ...]`), as
    an app that passes on what it was given would: the worker must still refuse unsafe ones."""
    lines = [tuple(line) for line in json.loads(environ["wsgi.input"].read() or b"[]")]
    start_response("200 OK", [("Content-Length", "2"), *lines])
    return [b"ok"]
