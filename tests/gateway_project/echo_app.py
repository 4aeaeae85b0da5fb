"""A WSGI app for the worker's tests: answers each request with its method, path and body."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
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


def misbehaving(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """/raise fails before answering, /break after its head and first bytes left; any other
    path is answered with the worker's process id."""
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise RuntimeError("failed before answering")
    start_response("200 OK", [("Content-Length", "100")])
    if path == "/break":
        return broken_body()
    return [str(os.getpid()).encode().ljust(100)]


def broken_body() -> Iterator[bytes]:
    yield b"first bytes"
    raise RuntimeError("failed after the head was sent")
