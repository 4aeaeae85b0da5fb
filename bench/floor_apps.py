"""The stack's floors as WSGI apps: gunicorn + gevent answering alone, forwarding alone (with
urllib3, or with the gateway's own upstream client, proxy.http1), and forwarding a stream alone
(with either client)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator

import urllib3
from urllib3.connection import HTTPConnection

UPSTREAM_PORT = int(os.environ.get("FLOOR_UPSTREAM_PORT", "0"))
ANSWER = b'{"ok":true}'
_pools: list[urllib3.HTTPConnectionPool] = []
POOL_SIZE = 512  # the stream floor's, as the gateway's (proxy/connections.py)
READ_SIZE = 64 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class LiteralConnection(HTTPConnection):
    """Connects to the IP literal it is given without getaddrinfo (which gevent runs in a pool
    of 10 threads: a burst of new connections queues behind it), as the gateway does
    (gateway_project/upstream_deny.py)."""

    def _new_conn(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((self._dns_host, self.port))
        return sock


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
        _pools.append(urllib3.HTTPConnectionPool("127.0.0.1", UPSTREAM_PORT, maxsize=64))
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
        pool = urllib3.HTTPConnectionPool("127.0.0.1", UPSTREAM_PORT, maxsize=POOL_SIZE)
        pool.ConnectionCls = LiteralConnection
        _pools.append(pool)
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


def forward_httptools(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """`forward` over the gateway's upstream client (proxy.http1: httptools on kept-alive
    gevent sockets) instead of urllib3: the floor of a forward as the gateway now sends it.
    Django's settings are loaded for the deny list, nothing else of Django runs."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    from urllib3.util import parse_url

    from proxy import http1

    url = f"http://127.0.0.1:{UPSTREAM_PORT}{environ['PATH_INFO']}"
    body = environ["wsgi.input"].read()
    headers = {"Content-Type": environ.get("CONTENT_TYPE") or "application/json"}
    if body:
        headers["Content-Length"] = str(len(body))
    upstream = http1.send(environ["REQUEST_METHOD"], parse_url(url), url, headers, body, (5, 60))
    data = upstream.read()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{upstream.status} OK", headers)
    return [data]


def stream_httptools(environ: dict, start_response: StartResponse) -> Iterable[bytes]:
    """`stream` over the gateway's upstream client (proxy.http1) instead of urllib3: the least
    the gateway's own stack does per open stream (under its worker class)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    from urllib3.util import parse_url

    from proxy import http1

    query = environ["QUERY_STRING"]
    url = f"http://127.0.0.1:{UPSTREAM_PORT}{environ['PATH_INFO']}" + (f"?{query}" if query else "")
    body = environ["wsgi.input"].read()
    headers = {"Content-Type": environ.get("CONTENT_TYPE") or "application/json"}
    if body:
        headers["Content-Length"] = str(len(body))
    upstream = http1.send(environ["REQUEST_METHOD"], parse_url(url), url, headers, body, (5, 60))
    start_response(f"{upstream.status} OK", [("Content-Type", "text/event-stream")])
    return _relayed(upstream)
