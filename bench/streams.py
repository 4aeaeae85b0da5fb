"""The 2,000 streams row alone, beside its floors: `python -m bench.streams [streams] [rounds]
[label]`.

Rows, in alternating rounds (only those whose label contains `label` when given): the SSE mock
reached directly, the stack the gateway runs on forwarding the stream and nothing else (its
worker class and its upstream client proxy.http1: bench/floor_apps.py `stream_httptools`),
stock gunicorn + gevent forwarding it with urllib3 (`stream`), all with 2 workers, and gateway
(a) (2 workers). Each round opens `streams`
streams at once (bench/many_streams.py) and prints the row's summary, the load average and the
connections the kernel dropped from full accept queues meanwhile. With STREAM_PHASES=1 the
floor and the gateway run bench/stream_phases_conf.py's hooks, and each round also prints when
their requests reached each phase (p50/p99/max ms after the send instant): where the first
events wait. STREAM_EVENTS=1 asks each stream for its first event only: the row's CPU per
stream (`cpu_ms_per_stream`, the served processes') is then what setting a stream up costs.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import procs
from bench.config import MANY_STREAMS, MANY_STREAMS_EVENTS, ORIGIN, REPO_ROOT, load_config
from bench.gateway import AdminClient, GatewayServer
from bench.many_streams import measure, percentile
from bench.scenarios import process_tree

PHASES_CONFIG = "bench/stream_phases_conf.py"
PHASES = ("parsed", "upstream", "connected", "answered", "written")
HOST = "bench-a-sse.localhost"
PHASES_FLUSH_WAIT = 1.5  # the workers write their phases every second
Row = tuple[str, int, Callable[[], list[int]], Path | None]  # label, port, pids, phases dir


def start_mock(python: Path, tmp: Path, stack: contextlib.ExitStack) -> tuple[int, list[int]]:
    """The SSE mock on a free port: its port and its process."""
    port = procs.free_port()
    args = [str(python), "-m", "bench.sse_upstream", "--port", str(port)]
    process = procs.start(args, log=tmp / "sse_upstream.log", cwd=REPO_ROOT)
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process)
    return port, [process.pid]


def start_floor(
    app: str,
    worker: str,
    python: Path,
    upstream: int,
    tmp: Path,
    stack: contextlib.ExitStack,
    phases: Path | None,
) -> tuple[int, Callable[[], list[int]]]:
    """gunicorn (2 workers of the class `worker`) serving `bench.floor_apps:<app>`: its port
    and processes."""
    port = procs.free_port()
    args = [str(python.parent / "gunicorn"), "-k", worker, "-w", "2"]
    args += ["--worker-connections", "2000", "-b", f"{procs.LOOPBACK}:{port}"]
    args += ["--log-level", "warning", *(["-c", PHASES_CONFIG] if phases else [])]
    env = {**os.environ, "FLOOR_UPSTREAM_PORT": str(upstream)}
    if phases:
        env["STREAM_PHASES_DIR"] = str(phases / app)
        (phases / app).mkdir()
    process = procs.start(
        [*args, f"bench.floor_apps:{app}"], log=tmp / f"floor-{app}.log", cwd=REPO_ROOT, env=env
    )
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process)
    return port, process_tree(process.pid)


GATEWAY_WORKER = "gateway_project.workers.GatewayGeventWorker"
# The stack the gateway runs on (its worker class: requests parsed by httptools; its upstream
# client, proxy.http1), then stock gunicorn + gevent and urllib3: label, app, worker class.
FLOORS = (
    ("gateway's worker + proxy.http1 stream", "stream_httptools", GATEWAY_WORKER),
    ("gunicorn + gevent + urllib3 stream", "stream", "gevent"),
)


def rows(python: Path, tmp: Path, stack: contextlib.ExitStack, phased: bool) -> list[Row]:
    mock, mock_pids = start_mock(python, tmp, stack)
    floor_phases, gateway_phases = (tmp / "floor-phases", tmp / "gateway-phases")
    for directory in (floor_phases, gateway_phases):
        directory.mkdir()
    found: list[Row] = [("SSE mock directly", mock, lambda: mock_pids, None)]
    for label, app, worker in FLOORS:
        phases = floor_phases if phased else None
        port, pids = start_floor(app, worker, python, mock, tmp, stack, phases)
        found.append((label, port, pids, floor_phases / app))
    options: dict = {}
    if phased:
        env = {"STREAM_PHASES_DIR": str(gateway_phases), "STREAM_PHASES_GATEWAY": "1"}
        options = {"config": PHASES_CONFIG, "extra_env": env}
    gateway = GatewayServer.start(python, tmp / "gateway", procs.free_port(), 2, **options)
    stack.callback(gateway.stop)
    admin = AdminClient(gateway.base_url, gateway.token)
    admin.create_route(subdomain="bench-a-sse", plugins=[], port=mock, public=True)
    return [*found, ("gateway (a)", gateway.port, gateway.pids, gateway_phases)]


def listen_drops() -> int:
    """The kernel's count of connections dropped from full accept queues (TcpExt
    ListenOverflows, every listener of the machine): a client then waits for its SYN or its
    first bytes to be sent again, 1 s and more."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    return 0


def phase_summary(directory: Path, sent_at: float) -> dict[str, str]:
    """p50/p99/max ms after `sent_at` at which the round's requests reached each phase."""
    records = [
        record
        for path in directory.glob("*.json")
        for record in json.loads(path.read_text())
        if record.get("parsed", 0) >= sent_at
    ]
    summary = {"requests": str(len(records))}
    for phase in PHASES:
        times = [(r[phase] - sent_at) * 1000 for r in records if phase in r]
        if times:
            summary[phase] = (
                f"{statistics.median(times):.0f}/{percentile(times, 99):.0f}/{max(times):.0f}"
                f" ({len(times)})"
            )
    return summary


def main() -> int:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else MANY_STREAMS
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    only = sys.argv[3] if len(sys.argv) > 3 else ""
    phased = os.environ.get("STREAM_PHASES") == "1"
    events = int(os.environ.get("STREAM_EVENTS", MANY_STREAMS_EVENTS))
    config = load_config()
    with (
        tempfile.TemporaryDirectory() as name,
        procs.supervised(),
        contextlib.ExitStack() as stack,
    ):
        targets = [row for row in rows(config.python, Path(name), stack, phased) if only in row[0]]
        for _, port, _, _ in targets:  # a gateway worker compiles its configuration first
            measure(port, HOST, {"Origin": ORIGIN}, 20, 2, list)
        for round_ in range(1, rounds + 1):
            for label, port, pids, phases in targets:
                load, drops = os.getloadavg()[0], listen_drops()
                result = measure(port, HOST, {"Origin": ORIGIN}, streams, events, pids)
                result["listen_overflows"] = listen_drops() - drops
                result["cpu_ms_per_stream"] = round(result["cpu_seconds"] * 1000 / streams, 3)
                print(f"round {round_} {label} (load {load:.2f}): {result}", flush=True)
                if phases is not None and phased:
                    time.sleep(PHASES_FLUSH_WAIT)
                    print(f"  phases: {phase_summary(phases, result['sent_at'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
