"""What one open stream holds in a gateway worker: `python -m bench.stream_memory [streams]`.

One gunicorn + gevent worker (the gateway's configuration plus bench/stream_memory_conf.py:
tracemalloc on) serves gateway (a)'s SSE twin in front of the SSE mock. After a warm-up, a
tracemalloc snapshot is taken, then `streams` streams (default 500) are opened at once and held
open, each past its first event, and a second snapshot is taken: the difference divided by the
number of streams is what one open stream holds, grouped by file:line (the allocating line) and
by file, beside the worker's RSS growth per stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import tracemalloc
from dataclasses import replace
from pathlib import Path

import psutil

from bench import procs
from bench.config import load_config
from bench.gateway import AdminClient, GatewayServer
from bench.many_streams import connect, count_events
from bench.servers import start_python_upstream
from bench.sse_client import StreamRequest, request_bytes

CONFIG = "bench/stream_memory_conf.py"
SNAPSHOT_PATH = "/__stream_memory_snapshot"  # seen by CONFIG's hook (not imported: it patches)
SUBDOMAIN = "memory-sse"
WARMUP_STREAMS = 20
EVENTS = 100_000  # 83 minutes at 50 ms: every stream stays open until the client closes it
TOP = 25
OPEN_TIMEOUT = 90  # a few streams of a busy machine may get no event: measured without them
TRACEBACKS = 8
FRAMES = int(os.environ.get("STREAM_MEMORY_FRAMES", "1"))  # > 1: tracebacks too (the conf's)


async def hold(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    request: bytes,
    first_event: asyncio.Event,
) -> bool:
    """Send the request, note its first event, then go on reading until cancelled; False when
    the stream ended without an event (its first_event is set too)."""
    reader, writer = connection
    writer.write(request)
    tail = b""
    try:
        while data := await reader.read(16384):
            if not first_event.is_set() and count_events(tail + data):
                first_event.set()
            tail = data[-4:]
    finally:
        started = first_event.is_set()
        first_event.set()
    return started


async def snapshot(port: int, name: str) -> None:
    """Have the worker dump a snapshot named `name` (it does so before answering)."""
    reader, writer = await connect(port)
    writer.write(f"GET {SNAPSHOT_PATH}?{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    if not head.startswith(b"HTTP/1.1 404"):  # the admin plane's answer once the hook has run
        raise RuntimeError(f"snapshot {name}: {head.decode('latin-1')}")


async def open_streams(port: int, request: bytes, streams: int, worker: psutil.Process) -> int:
    """Snapshot, open `streams` streams and wait for each one's first event, snapshot again
    while they are open; returns the worker's RSS growth in bytes. Closes them all."""
    await snapshot(port, "start")
    await snapshot(port, "before")
    rss_before = worker.memory_info().rss
    connections = await asyncio.gather(*(connect(port) for _ in range(streams)))
    events = [asyncio.Event() for _ in connections]
    tasks = [
        asyncio.create_task(hold(c, request, e)) for c, e in zip(connections, events, strict=True)
    ]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), OPEN_TIMEOUT)
        waiting = sum(not e.is_set() for e in events)
        if waiting > streams // 20:
            raise RuntimeError(f"{waiting} of {streams} streams without an event")
        if waiting:
            print(f"{waiting} of {streams} streams had no event after {OPEN_TIMEOUT} s")
        if ended := [t for t in tasks if t.done() and not t.exception() and not t.result()]:
            raise RuntimeError(f"{len(ended)} streams ended without an event")
        rss_open = worker.memory_info().rss
        await snapshot(port, "open")
    finally:
        for task in tasks:
            task.cancel()
        for _, writer in connections:
            writer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    return rss_open - rss_before


async def warm_up(port: int, request: bytes) -> None:
    """A few short streams read to their end: the gateway's configuration compiled, its code
    paths run once."""
    for _ in range(WARMUP_STREAMS):
        reader, writer = await connect(port)
        writer.write(request)
        while await reader.read(16384):
            pass
        writer.close()


def report(directory: Path, streams: int, rss_growth: int) -> None:
    before = tracemalloc.Snapshot.load(str(directory / "before.snapshot"))
    opened = tracemalloc.Snapshot.load(str(directory / "open.snapshot"))
    ignored = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, opened = before.filter_traces(ignored), opened.filter_traces(ignored)
    by_line = opened.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in by_line)
    print(f"{streams} open streams in one worker")
    print(f"  RSS growth per stream:        {rss_growth / streams / 1024:7.1f} KB")
    print(f"  traced growth per stream:     {total / streams / 1024:7.1f} KB (tracemalloc)")
    for title, stats in (("file:line", by_line), ("file", opened.compare_to(before, "filename"))):
        print(f"\ntop {TOP} by {title}: KB per stream, blocks per stream")
        for stat in sorted(stats, key=lambda s: -s.size_diff)[:TOP]:
            frame = stat.traceback[0]
            where = short(frame.filename) + (f":{frame.lineno}" if title != "file" else "")
            kb, blocks = stat.size_diff / streams / 1024, stat.count_diff / streams
            print(f"  {kb:7.2f} {blocks:6.1f}  {where}")
    if FRAMES > 1:  # where the largest ones are allocated from
        for stat in sorted(opened.compare_to(before, "traceback"), key=lambda s: -s.size_diff)[
            :TRACEBACKS
        ]:
            print(f"\n{stat.size_diff / streams / 1024:.2f} KB per stream from:")
            for frame in stat.traceback[-FRAMES:]:
                print(f"    {short(frame.filename)}:{frame.lineno}")


def short(filename: str) -> str:
    """A path from its package on (site-packages/..., the repository's own modules)."""
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return os.path.relpath(filename)


def main() -> int:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    config = load_config()
    with (
        tempfile.TemporaryDirectory() as name,
        procs.supervised(),
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(name)
        sse_port = start_python_upstream(config.python, tmp, stack, "sse_upstream")
        gateway = GatewayServer.start(
            config.python,
            tmp / "gateway",
            procs.free_port(),
            1,
            config=CONFIG,
            extra_env={"STREAM_MEMORY_DIR": str(tmp), "STREAM_MEMORY_PATH": SNAPSHOT_PATH},
        )
        stack.callback(gateway.stop)
        admin = AdminClient(gateway.base_url, gateway.token)
        admin.create_route(subdomain=SUBDOMAIN, plugins=[], port=sse_port, public=True)
        stream = StreamRequest()
        host = f"{SUBDOMAIN}.localhost"
        short_request = request_bytes(host, {}, replace(stream, path=f"{stream.path}?events=2"))
        request = request_bytes(host, {}, replace(stream, path=f"{stream.path}?events={EVENTS}"))
        worker = psutil.Process(gateway.worker_pids()[0])
        asyncio.run(warm_up(gateway.port, short_request))
        rss_growth = asyncio.run(open_streams(gateway.port, request, streams, worker))
        report(tmp, streams, rss_growth)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
