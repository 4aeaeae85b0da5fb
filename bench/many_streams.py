"""Thousands of SSE streams opened at once (asyncio): all complete? first event p99, RSS per stream.

Every stream is opened in the same instant, asks the SSE upstream for a stream long enough
that all of them are open together (`?events=`), and is read to its end. The gateway's RSS is
sampled throughout: (peak - RSS before) / streams is the memory one open stream costs.

`python -m bench.streams` runs the row alone beside its floors (bench/streams.py).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench.procstats import ResourceSampler
from bench.sse_client import StreamRequest, request_bytes

CONNECT_TIMEOUT_SECONDS = 30
STREAM_TIMEOUT_SECONDS = 60


@dataclass
class StreamResult:
    ttfb_ms: float | None
    events: int
    error: str = ""


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT_SECONDS
    )


def count_events(buffer: bytes) -> int:
    return buffer.count(b"data:")


async def one_stream(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    request: bytes,
    events: int,
    started: float,
) -> StreamResult:
    """Send the request on an open connection and read to the end, counting `data:` events."""
    reader, writer = connection
    ttfb, seen, tail = None, 0, b""
    try:
        writer.write(request)
        while seen < events:
            data = await reader.read(16384)
            if not data:
                break
            # `data:` split across two reads is found in the 4 bytes kept from the last one
            seen += count_events(tail + data) - count_events(tail)
            tail = data[-4:]
            if ttfb is None and seen:
                ttfb = (time.perf_counter() - started) * 1000
    finally:
        writer.close()
    return StreamResult(ttfb, seen)


async def run_streams(
    port: int, request: bytes, streams: int, events: int
) -> tuple[float, list[StreamResult]]:
    """Open every connection first, then send every request in the same instant (returned, as
    a wall clock time)."""
    connections = await asyncio.gather(
        *(connect(port) for _ in range(streams)), return_exceptions=True
    )
    sent_at, started = time.time(), time.perf_counter()
    results = await asyncio.wait_for(
        asyncio.gather(
            *(
                one_stream(c, request, events, started)
                for c in connections
                if not isinstance(c, BaseException)
            ),
            return_exceptions=True,
        ),
        STREAM_TIMEOUT_SECONDS,
    )
    failed = [
        StreamResult(None, 0, repr(c)[:120]) for c in connections if isinstance(c, BaseException)
    ]
    return sent_at, failed + [
        r if isinstance(r, StreamResult) else StreamResult(None, 0, repr(r)[:120]) for r in results
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(
    port: int,
    host: str,
    headers: dict[str, str],
    streams: int,
    events: int,
    pids: Callable[[], list[int]],
) -> dict:
    """Open `streams` streams of `events` events at once through `port`; summary with RSS."""
    stream = StreamRequest()
    request = request_bytes(host, headers, replace(stream, path=f"{stream.path}?events={events}"))
    with ResourceSampler(pids) as sampler:
        baseline_rss = sampler.peak_rss
        sent_at, results = asyncio.run(run_streams(port, request, streams, events))
    usage = sampler.usage()
    complete = [r for r in results if r.events >= events]
    ttfbs = [r.ttfb_ms for r in results if r.ttfb_ms is not None]
    added_mb = usage.peak_rss_mb - baseline_rss / 2**20
    summary: dict = {
        "streams": streams,
        "events": events,
        "complete": len(complete),
        "errors": [r.error for r in results if r.error][:3],
        "rss_before_mb": round(baseline_rss / 2**20, 1),
        "rss_peak_mb": usage.peak_rss_mb,
        "rss_kb_per_stream": round(added_mb * 1024 / streams, 1),
        "cpu_seconds": usage.cpu_seconds,
        "sent_at": sent_at,
    }
    if ttfbs:
        summary |= {
            "ttfb_ms_p50": round(statistics.median(ttfbs), 1),
            "ttfb_ms_p99": round(percentile(ttfbs, 99), 1),
            "ttfb_ms_max": round(max(ttfbs), 1),
        }
    return summary
