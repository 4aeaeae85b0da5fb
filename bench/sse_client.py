"""SSE client: time to first event and to the last event of a stream, over a raw socket."""

from __future__ import annotations

import contextlib
import socket
import statistics
import time
from dataclasses import dataclass

from bench.config import SSE_EVENTS, STREAMED_CHAT_REQUEST, compact_json

WARMUP_STREAMS = 8


@dataclass
class SseSample:
    ttfb_ms: float
    total_ms: float
    events: int
    status: int
    complete: bool  # every event the request expects arrived (StreamRequest.events)


@dataclass(frozen=True)
class StreamRequest:
    """The request that opens a stream: a streamed chat completion (POST with its body)."""

    method: str = "POST"
    path: str = "/v1/chat/completions"
    body: str = compact_json(STREAMED_CHAT_REQUEST)
    # The `data:` lines of the whole stream; 0: as many as arrive up to `data: [DONE]` (a
    # response_cache HIT replays the kept answer in its own number of chunks).
    events: int = SSE_EVENTS


def request_bytes(host: str, headers: dict[str, str], request: StreamRequest) -> bytes:
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}"]
    lines += ["Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if request.body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(request.body)}"]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n" + request.body).encode()


def sample(
    port: int,
    host: str,
    headers: dict[str, str],
    request: StreamRequest = StreamRequest(),
    events: int = 0,
) -> SseSample:
    """One streamed request, read until `events` events (the whole stream when 0): TTFB is the
    arrival of the first."""
    events = events or request.events
    buffer = b""
    ttfb = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(request_bytes(host, headers, request))
        while not stream_read(buffer, events):
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
            if ttfb is None and b"data:" in buffer:
                ttfb = time.perf_counter() - started
        total = time.perf_counter() - started
    status = int(buffer.split(b" ", 2)[1]) if buffer.startswith(b"HTTP/") else 0
    complete = stream_read(buffer, request.events)
    ttfb_ms, total_ms = round((ttfb or total) * 1000, 2), round(total * 1000, 1)
    return SseSample(ttfb_ms, total_ms, buffer.count(b"data:"), status, complete)


def stream_read(buffer: bytes, events: int) -> bool:
    """Whether `buffer` holds `events` events, or the stream's end when `events` is 0."""
    return buffer.count(b"data:") >= events if events else b"data: [DONE]" in buffer


def warm_up(
    port: int,
    host: str,
    headers: dict[str, str],
    request: StreamRequest,
    streams: int = WARMUP_STREAMS,
) -> None:
    """Open streams up to their first event and drop them, so that every worker has compiled
    the gateway's configuration and opened its upstream connection before measuring."""
    for _ in range(streams):
        with contextlib.suppress(OSError):  # measure() counts the failures that persist
            sample(port, host, headers, request, events=1)


def measure(
    port: int,
    host: str,
    headers: dict[str, str],
    samples: int,
    request: StreamRequest = StreamRequest(),
) -> dict:
    """`samples` sequential streams after a warm-up, summarised (medians and worst), failures
    counted."""
    warm_up(port, host, headers, request)
    runs, failures = [], []
    for _ in range(samples):
        try:
            run = sample(port, host, headers, request)
        except OSError as exc:
            failures.append(repr(exc))
            continue
        if run.status == 200 and run.complete:
            runs.append(run)
        else:
            failures.append(f"HTTP {run.status}, {run.events} events")
    summary: dict = {
        "samples": samples,
        "failures": len(failures),
        "failure_examples": failures[:3],
    }
    return summary | summarise(runs)


def summarise(runs: list[SseSample]) -> dict:
    """The medians and worst of the complete streams' TTFB and total time (none without one)."""
    if not runs:
        return {}
    return {
        "ttfb_ms_p50": statistics.median(r.ttfb_ms for r in runs),
        "ttfb_ms_max": max(r.ttfb_ms for r in runs),
        "total_ms_p50": statistics.median(r.total_ms for r in runs),
        "total_ms_max": max(r.total_ms for r in runs),
    }
