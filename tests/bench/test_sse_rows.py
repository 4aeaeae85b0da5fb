"""The SSE rows POST a streamed chat completion, and the mocks and nginx stream it back."""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest

from bench import procs
from bench.config import SSE_EVENTS
from bench.measure import measure_sse
from bench.nginx import Nginx, proxy_http, upstream_http
from bench.scenarios import reference_targets
from bench.servers import Servers
from bench.sse_client import StreamRequest, request_bytes

needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
    reason="needs nginx (make -C bench system-deps)",
)


def read_stream(sock: socket.socket) -> bytes:
    """One chunked answer, read to its last chunk."""
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        received = sock.recv(65536)
        assert received, data
        data += received
    return data


def test_the_stream_request_is_a_streamed_chat_completion():
    request = StreamRequest()
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert json.loads(request.body)["stream"] is True
    sent = request_bytes("sse.localhost", {}, request)
    head, _, body = sent.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert f"Content-Length: {len(body)}".encode() in head.split(b"\r\n")


def test_the_sse_mock_reads_a_chunked_post_body_and_serves_the_next_request(sse_port):
    body = json.dumps({"model": "gpt-4o-mini", "stream": True}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: sse\r\nTransfer-Encoding: chunked\r\n"
    with socket.create_connection(("127.0.0.1", sse_port), timeout=10) as sock:
        sock.sendall(head + b"\r\n" + chunked)
        first = read_stream(sock)
        sock.sendall(b"GET /sse?events=2 HTTP/1.1\r\nHost: sse\r\n\r\n")
        second = read_stream(sock)
    assert first.startswith(b"HTTP/1.1 200")
    assert first.count(b"data:") == SSE_EVENTS
    assert second.startswith(b"HTTP/1.1 200")
    assert second.count(b"data:") == 2


@needs_nginx
def test_the_direct_and_nginx_rows_stream_a_posted_chat_completion(sse_port, tmp_path):
    upstream_port, proxy_port = procs.free_port(), procs.free_port()
    upstream = Nginx.start(tmp_path / "up", upstream_port, upstream_http(upstream_port))
    try:
        config = proxy_http(proxy_port, upstream_port, sse_port)
        proxy = Nginx.start(tmp_path / "proxy", proxy_port, config)
        try:
            servers = Servers(upstream, proxy, sse_port, 0, None)
            rows = [t for t in reference_targets(servers) if t.key in ("direct", "nginx")]
            results = [measure_sse(t, 2, "key") for t in rows]
        finally:
            proxy.stop()
    finally:
        upstream.stop()
    assert [(r["target"], r["status"], r["failures"]) for r in results] == [
        ("direct", "ok", 0),
        ("nginx", "ok", 0),
    ]
    assert all(r["ttfb_ms_p50"] < r["total_ms_p50"] for r in results)
