"""How far the stack itself is from the CPU targets: `python -m bench.floor [rounds]`.

Three servers under the same gunicorn + gevent (2 workers) against the nginx mock, the chat
request at c=16, in alternating rounds: the stack answering alone (bench/floor_apps.py
`answer`), the stack forwarding with urllib3 alone (`forward`), and gateway (a). CPU per
request of the gunicorn processes, medians of the rounds.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import psutil

from bench import procs
from bench.config import REPO_ROOT, WORKLOADS, load_config
from bench.gateway import AdminClient, GatewayServer
from bench.nginx import Nginx, upstream_http
from bench.procstats import ResourceSampler
from bench.wrk import lua_script, run_wrk

WORKLOAD = next(w for w in WORKLOADS if w.name == "chat")
CONCURRENCY = 16
ROUND_SECONDS = 5
HOST = "floor.localhost"


def process_tree(pid: int) -> Callable[[], list[int]]:
    def pids() -> list[int]:
        try:
            return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        except psutil.Error:
            return []

    return pids


def start_floor(
    app: str, python: Path, upstream: int, stack: contextlib.ExitStack
) -> tuple[int, Callable[[], list[int]]]:
    """gunicorn with gevent workers serving `bench.floor_apps:<app>`: its port and processes."""
    port = procs.free_port()
    gunicorn = str(python.parent / "gunicorn")
    args = [gunicorn, "-k", "gevent", "-w", "2", "-b", f"{procs.LOOPBACK}:{port}"]
    args += ["--log-level", "warning", f"bench.floor_apps:{app}"]
    env = {**os.environ, "FLOOR_UPSTREAM_PORT": str(upstream)}
    process = subprocess.Popen(
        args, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    stack.callback(process.terminate)
    procs.wait_for_port(port, process)
    return port, process_tree(process.pid)


def measure(
    port: int, headers: dict[str, str], pids: Callable[[], list[int]], script: Path
) -> tuple[float, float]:
    """(req/s, CPU µs per request) of one round."""
    script.write_text(lua_script(WORKLOAD, headers))
    url = f"http://{procs.LOOPBACK}:{port}{WORKLOAD.path}"
    run_wrk(url, script, connections=CONCURRENCY, threads=2, seconds=1)
    with ResourceSampler(pids) as sampler:
        result = run_wrk(url, script, connections=CONCURRENCY, threads=2, seconds=ROUND_SECONDS)
    if result.errors or not result.requests:
        raise RuntimeError(f"{result.non2xx} non-2xx, {result.socket_errors} socket errors")
    return result.ok_rps, sampler.usage().cpu_seconds / result.requests * 1e6


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    config = load_config()
    with tempfile.TemporaryDirectory() as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        upstream = procs.free_port()
        nginx = Nginx.start(tmp / "upstream", upstream, upstream_http(upstream))
        stack.callback(nginx.stop)
        servers = {}
        for app, label in (
            ("answer", "stack answering alone"),
            ("forward", "stack + urllib3 forward"),
        ):
            port, pids = start_floor(app, config.python, upstream, stack)
            servers[label] = (port, {"Host": HOST}, pids)
        gateway = GatewayServer.start(config.python, tmp / "gateway", procs.free_port(), 2)
        stack.callback(gateway.stop)
        key = AdminClient(gateway.base_url, gateway.token).create_route(
            subdomain="floor", plugins=[], port=upstream, public=True
        )
        servers["gateway (a)"] = (gateway.port, {"Host": HOST, "X-API-Key": key}, gateway.pids)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
        for index in range(rounds):
            order = list(servers) if index % 2 == 0 else list(reversed(servers))
            for label in order:
                port, headers, pids = servers[label]
                samples[label].append(measure(port, headers, pids, tmp / "load.lua"))
    print(f"c={CONCURRENCY}, {rounds} alternating rounds of {ROUND_SECONDS} s, medians")
    for label, rows in samples.items():
        rps = statistics.median(r for r, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        print(f"  {label:28s} {rps:8,.0f} req/s {cpu:8,.0f} µs CPU per request")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
