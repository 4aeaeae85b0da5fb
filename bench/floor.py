"""How far the stack itself is from the CPU targets: `python -m bench.floor [rounds]`.

Three servers under the same gunicorn + gevent (2 workers) against the nginx mock, the chat
request at c=16, in alternating rounds: the stack answering alone (bench/floor_apps.py
`answer`), the stack forwarding with urllib3 alone (`forward`), and gateway (a). CPU per
request of the gunicorn processes, medians of the rounds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import procs
from bench.config import REPO_ROOT, WORKLOADS, load_config
from bench.gateway import AdminClient, GatewayServer
from bench.measure import alternating_rounds, first_failure, measure_row
from bench.nginx import Nginx, upstream_http
from bench.scenarios import Target, process_tree

WORKLOAD = next(w for w in WORKLOADS if w.name == "chat")
CONCURRENCY = 16
ROUND_SECONDS = 5
HOST = "floor.localhost"


def start_floor(
    app: str, python: Path, upstream: int, tmp: Path, stack: contextlib.ExitStack
) -> tuple[int, Callable[[], list[int]]]:
    """gunicorn with gevent workers serving `bench.floor_apps:<app>`: its port and processes."""
    port = procs.free_port()
    gunicorn = str(python.parent / "gunicorn")
    args = [gunicorn, "-k", "gevent", "-w", "2", "-b", f"{procs.LOOPBACK}:{port}"]
    args += ["--log-level", "warning", f"bench.floor_apps:{app}"]
    env = {**os.environ, "FLOOR_UPSTREAM_PORT": str(upstream)}
    process = procs.start(args, log=tmp / f"floor-{app}.log", cwd=REPO_ROOT, env=env)
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process)
    return port, process_tree(process.pid)


def target(key: str, port: int, pids: Callable[[], list[int]]) -> Target:
    return Target(key, key, port, HOST, 0, "", pids)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    config = load_config()
    short = dataclasses.replace(config, warmup_seconds=1, measure_seconds=ROUND_SECONDS)
    with (
        tempfile.TemporaryDirectory() as name,
        procs.supervised(),
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(name)
        upstream = procs.free_port()
        nginx = Nginx.start(tmp / "upstream", upstream, upstream_http(upstream))
        stack.callback(nginx.stop)
        targets = [
            target(label, *start_floor(app, config.python, upstream, tmp, stack))
            for app, label in (
                ("answer", "stack answering alone"),
                ("forward", "stack + urllib3 forward"),
            )
        ]
        gateway = GatewayServer.start(config.python, tmp / "gateway", procs.free_port(), 2)
        stack.callback(gateway.stop)
        key = AdminClient(gateway.base_url, gateway.token).create_route(
            subdomain="floor", plugins=[], port=upstream, public=True
        )
        targets.append(target("gateway (a)", gateway.port, gateway.pids))
        measure = partial(
            measure_row,
            workload=WORKLOAD,
            concurrency=CONCURRENCY,
            config=short,
            scripts=tmp,
            api_key=key,
        )
        samples = alternating_rounds(targets, rounds, measure)
    failed = first_failure(samples)
    if failed is not None:
        print(f"{failed.target}: {failed.status}: {failed.reason}")
        return 1
    print(f"c={CONCURRENCY}, {rounds} alternating rounds of {ROUND_SECONDS} s, medians")
    for label, rows in samples.items():
        rps = statistics.median(row.rps for row in rows)
        cpu = statistics.median(row.cpu_us_per_request or 0 for row in rows)
        print(f"  {label:28s} {rps:8,.0f} req/s {cpu:8,.0f} µs CPU per request")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
