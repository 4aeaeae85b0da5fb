"""The many-streams client against the real SSE mock: every stream read to its last event."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from bench import many_streams, procs
from bench.sse_client import StreamRequest, request_bytes


def test_streams_opened_together_are_read_to_the_requested_event_count(sse_port):
    request = request_bytes("sse.localhost", {}, StreamRequest(path="/sse?events=7"))
    _, results = asyncio.run(many_streams.run_streams(sse_port, request, 50, 7))
    assert len(results) == 50
    assert all(r.events == 7 and not r.error for r in results)
    assert all(r.ttfb_ms is not None and r.ttfb_ms >= 0 for r in results)


def test_without_a_query_the_mock_sends_its_default_count(sse_port):
    request = request_bytes("sse.localhost", {}, StreamRequest())
    _, results = asyncio.run(many_streams.run_streams(sse_port, request, 3, 100))
    assert [r.events for r in results] == [20, 20, 20]  # the stream ended: 20 is all there is


def test_a_refused_connection_counts_as_a_failed_stream():
    port = procs.free_port()  # nothing listens there
    _, results = asyncio.run(many_streams.run_streams(port, b"GET / HTTP/1.1\r\n\r\n", 2, 1))
    assert [r.events for r in results] == [0, 0]
    assert all("ConnectionRefused" in r.error for r in results)


def test_measure_reports_rss_per_stream_of_the_processes_it_watches(sse_port):
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        summary = many_streams.measure(sse_port, "sse.localhost", {}, 20, 5, lambda: [server.pid])
    finally:
        server.kill()
        server.wait()
    assert summary["complete"] == 20
    assert summary["rss_before_mb"] > 0
    assert summary["ttfb_ms_p99"] >= summary["ttfb_ms_p50"] >= 0
