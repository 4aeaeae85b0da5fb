"""The stack's floors as WSGI apps: gunicorn + gevent answering alone, forwarding alone, and
forwarding a stream alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import urllib3

UPSTREAM_PORT = int(os.environ.get("FLOOR_UPSTREAM_PORT", "0"))
ANSWER = b'{"ok":true}'
_pools: list[urllib3.HTTPConnectionPool] = []
POOL_SIZE = 512  # the gateway's (proxy/connections.py)
READ_SIZE = 64 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], object]


def answer(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """Read the request, answer a fixed JSON body: gunicorn's and gevent's own cost."""
    environ["wsgi.input"].read()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
    start_response("200 OK", headers)
    return [ANSWER]


def forward(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """Send the request to the upstream with urllib3 and answer its body: the least a Python
    proxy on this stack does (no routing, no header handling, no plugins, no Django)."""
    if not _pools:
        _pools.append(urllib3.HTTPConnectionPool("127.0.0.1", UPSTREAM_PORT, maxsize=POOL_SIZE))
    body = environ["wsgi.input"].read()
    upstream = _pools[0].urlopen(
        environ["REQUEST_METHOD"],
        environ["PATH_INFO"],
        body=body or None,
        headers={"Content-Type": environ.get("CONTENT_TYPE") or "application/json"},
        retries=False,
        redirect=False,
        preload_content=False,
    )
    data = upstream.read()
    upstream.release_conn()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{upstream.status} OK", headers)
    return [data]


def stream(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """Send the request to the upstream with urllib3 and pass its body on read by read, as
    it arrives: the least a Python proxy on this stack does per open stream."""
    if not _pools:
        _pools.append(urllib3.HTTPConnectionPool("127.0.0.1", UPSTREAM_PORT, maxsize=POOL_SIZE))
    body = environ["wsgi.input"].read()
    upstream = _pools[0].urlopen(
        environ["REQUEST_METHOD"],
        environ["PATH_INFO"] + ("?" + environ["QUERY_STRING"] if environ["QUERY_STRING"] else ""),
        body=body or None,
        headers={"Content-Type": environ.get("CONTENT_TYPE") or "application/json"},
        retries=False,
        redirect=False,
        preload_content=False,
    )
    start_response(f"{upstream.status} OK", [("Content-Type", "text/event-stream")])
    return _relayed(upstream)


def _relayed(upstream: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    try:
        while chunk := upstream.read1(READ_SIZE):
            yield chunk
    finally:
        upstream.release_conn()
