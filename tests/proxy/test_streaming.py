"""Streaming: SSE events reach the client as they are sent, never buffered whole."""

from __future__ import annotations

import json
import time

from tests.upstream import SSE_EVENTS, SSE_INTERVAL


def test_sse_first_event_arrives_long_before_the_last_is_sent(route, proxy_client):
    gateway = route()
    started = time.time()
    response = proxy_client.get("/sse", HTTP_HOST="api.localhost", HTTP_X_API_KEY=gateway.key)
    assert response.streaming
    assert response["Content-Type"] == "text/event-stream"
    assert response["X-Accel-Buffering"] == "no"
    chunks = iter(response.streaming_content)
    first = next(chunks)
    first_received = time.time()
    rest = b"".join(chunks)
    events = [
        json.loads(line[6:])
        for line in (first + rest).decode().split("\n")
        if line.startswith("data: ")
    ]
    assert [e["index"] for e in events] == list(range(SSE_EVENTS))
    last_sent = events[-1]["sent_at"]
    assert first_received < last_sent - (SSE_EVENTS - 3) * SSE_INTERVAL
    assert first_received - started < 5 * SSE_INTERVAL
