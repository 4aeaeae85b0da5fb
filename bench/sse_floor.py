"""The floor of a streamed answer's first event on this stack, as a WSGI app for gunicorn +
gevent: read the request, forward it with urllib3 to the SSE mock, pass each read of its body
on as it arrives (no routing, no header handling, no plugins, no Django)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import urllib3

UPSTREAM_PORT = int(os.environ.get("FLOOR_UPSTREAM_PORT", "0"))
READ_SIZE = 64 * 1024
_pools: list[urllib3.HTTPConnectionPool] = []

StartResponse = Callable[[str, list[tuple[str, str]]], object]


def stream(environ: dict, start_response: StartResponse) -> Iterator[bytes]:
    if not _pools:
        _pools.append(urllib3.HTTPConnectionPool("127.0.0.1", UPSTREAM_PORT, maxsize=64))
    body = environ["wsgi.input"].read()
    query = environ.get("QUERY_STRING", "")
    upstream = _pools[0].urlopen(
        environ["REQUEST_METHOD"],
        environ["PATH_INFO"] + (f"?{query}" if query else ""),
        body=body or None,
        headers={"Content-Type": environ.get("CONTENT_TYPE") or "application/json"},
        retries=False,
        redirect=False,
        preload_content=False,
    )
    start_response(f"{upstream.status} OK", [("Content-Type", "text/event-stream")])
    try:
        while chunk := upstream.read1(READ_SIZE):
            yield chunk
    finally:
        upstream.release_conn()
