"""Instructions per request under callgrind: `python -m bench.icount` (`make icount`) writes
bench/results/icount.json.

Each server runs one gunicorn + gevent worker under `valgrind --tool=callgrind
--instr-atstart=no`. bench/icount_conf.py switches the counting on after a row's warm-up
requests and off after its measured ones (callgrind's client requests, from a small C library
built here), so a row's count is its requests' whole work in the worker: gunicorn reading and
parsing, the app, the upstream round trip's client side, writing the answer, gevent's loop.
One client sends a row's requests one after the other on one keep-alive connection. Rows:
gateway (a) and (b) against the nginx mock, the LLM front (OpenAI mock), and the stack's floors
(bench/floor_apps.py: gunicorn + gevent answering alone, and forwarding with urllib3).

`ICOUNT_FLOORS=0` skips the floors (they do not change with the gateway's code);
`ICOUNT_KEEP=<dir>` keeps callgrind's files there, for `callgrind_annotate` per function.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import procs
from bench.config import CHAT_REQUEST, ORIGIN, REPO_ROOT, RESULTS_DIR, compact_json, load_config
from bench.gateway import AdminClient, GatewayServer
from bench.logs import log
from bench.nginx import Nginx, upstream_http
from bench.scenarios import plugin_chain
from bench.servers import start_python_upstream

WARMUP = 30
REQUESTS = 100
PATH = "/v1/chat/completions"
START_TIMEOUT_SECONDS = 600
DUMP_TIMEOUT_SECONDS = 600
CONFIG = "bench/icount_conf.py"
CLIENT_REQUESTS = r"""
#include <valgrind/callgrind.h>
void icount_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void icount_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS; }
"""
# Only request work is counted: the config polls (Redis, database) once an hour.
QUIET = {
    "GATEWAY_CONFIG_CHECK_INTERVAL": "3600",
    "GATEWAY_CONFIG_DB_CHECK_INTERVAL": "3600",
    "GATEWAY_WORKER_TIMEOUT": "3600",
}


@dataclass(frozen=True)
class Row:
    name: str
    port: int
    headers: dict[str, str]


def build_library(tmp: Path) -> Path:
    """The shared library whose two functions start and stop callgrind's counting."""
    source, library = tmp / "icount.c", tmp / "icount.so"
    source.write_text(CLIENT_REQUESTS)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


def callgrind(out_dir: Path) -> tuple[str, ...]:
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "callgrind.%p"
    return ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}")


def counting_env(library: Path, warmup: int = WARMUP, requests: int = REQUESTS) -> dict[str, str]:
    """What bench/icount_conf.py reads: a row is `warmup` requests, then `requests` counted."""
    return {
        "ICOUNT_LIBRARY": str(library),
        "ICOUNT_PATH": PATH,
        "ICOUNT_WARMUP": str(warmup),
        "ICOUNT_REQUESTS": str(requests),
    }


def headers(host: str, api_key: str = "") -> dict[str, str]:
    """What every bench row sends (bench.scenarios.Target.headers)."""
    sent = {"Host": host, "Origin": ORIGIN, "Accept": "application/json"}
    return sent | {"Content-Type": "application/json"} | ({"X-API-Key": api_key} if api_key else {})


def dumped_count(out_dir: Path, dump: int) -> int:
    """The instructions of callgrind's `dump`-th dump in `out_dir`, once it is written."""
    deadline = time.monotonic() + DUMP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for path in out_dir.glob(f"callgrind.*.{dump}"):
            totals = [line for line in path.read_text().splitlines() if line.startswith("totals:")]
            if totals:
                return int(totals[0].split()[1])
        time.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump {dump} in {out_dir}")


def count(
    row: Row, out_dir: Path, dump: int, warmup: int = WARMUP, counted: int = REQUESTS
) -> float:
    """Instructions per request of `row`: its warm-up, then its counted requests (callgrind's
    `dump`-th dump in `out_dir`)."""
    body = compact_json(CHAT_REQUEST)
    with requests.Session() as session:
        for index in range(warmup + counted):
            url = f"http://{procs.LOOPBACK}:{row.port}{PATH}"
            response = session.post(url, data=body, headers=row.headers, timeout=300)
            if response.status_code != 200:
                raise RuntimeError(f"{row.name}: request {index}: HTTP {response.status_code}")
    instructions = dumped_count(out_dir, dump) / counted
    log(f"{row.name}: {instructions:,.0f} instructions per request")
    return instructions


@dataclass(frozen=True)
class Floor:
    """A floor row: `app` of bench/floor_apps.py under the worker class `worker`."""

    name: str
    app: str
    worker: str


GATEWAY_WORKER = "gateway_project.workers.GatewayGeventWorker"
# The stack the gateway runs on (its worker class: gevent, requests parsed by httptools; its
# upstream client, proxy.http1), then stock gunicorn + gevent and urllib3 for reference.
FLOORS = (
    Floor("floor_answer", "answer", GATEWAY_WORKER),
    Floor("floor_forward", "forward_httptools", GATEWAY_WORKER),
    Floor("floor_answer_stock", "answer", "gevent"),
    Floor("floor_forward_stock", "forward", "gevent"),
)


def start_floor(
    floor: Floor, upstream: int, tmp: Path, library: Path, stack: contextlib.ExitStack, **rows: int
) -> int:
    """One worker serving the floor's app under callgrind (its counts in `tmp/<floor name>`;
    `rows`: counting_env's warmup and requests): its port."""
    port = procs.free_port()
    args = [*callgrind(tmp / floor.name), sys.executable, "-m", "gunicorn", "-c", CONFIG]
    args += ["-k", floor.worker, "-w", "1", "-t", "3600", "-b", f"{procs.LOOPBACK}:{port}"]
    args += ["--log-level", "warning", f"bench.floor_apps:{floor.app}"]
    env = os.environ | counting_env(library, **rows) | {"FLOOR_UPSTREAM_PORT": str(upstream)}
    process = procs.start(args, log=tmp / f"{floor.name}.log", cwd=REPO_ROOT, env=env)
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process, timeout=START_TIMEOUT_SECONDS)
    return port


def count_gateway(upstream: int, tmp: Path, library: Path, stack: contextlib.ExitStack) -> dict:
    """Gateway (a), gateway (b) and the LLM front, one gunicorn worker under callgrind."""
    python = load_config().python
    llm = start_python_upstream(python, tmp, stack, "llm_upstream")
    extra = counting_env(library) | QUIET | {"ICOUNT_GATEWAY": "1"}
    gateway = GatewayServer.start(
        python,
        tmp / "gateway",
        procs.free_port(),
        1,
        launcher=callgrind(tmp / "gateway-counts"),
        config=CONFIG,
        extra_env=extra,
        start_timeout=START_TIMEOUT_SECONDS,
    )
    stack.callback(gateway.stop)
    admin = AdminClient(gateway.base_url, gateway.token)
    chain, missing = plugin_chain(("rate_limiter",), admin.plugin_catalogue(), upstream)
    if missing:
        raise RuntimeError(f"missing plugins: {missing}")
    plain = admin.create_route(subdomain="plain", plugins=[], port=upstream, public=True)
    limited = admin.create_route(subdomain="limited", plugins=chain, port=upstream, public=False)
    model = CHAT_REQUEST["model"]
    llm_key = admin.create_llm_route(subdomain="llm", provider="openai", port=llm, model=model)
    rows = (
        Row("plain", gateway.port, headers("plain.localhost", plain)),
        Row("key_rate_limiter", gateway.port, headers("limited.localhost", limited)),
        Row("llm_target", gateway.port, headers("llm.localhost", llm_key)),
    )
    out_dir = tmp / "gateway-counts"
    return {row.name: count(row, out_dir, dump) for dump, row in enumerate(rows, 1)}


def keep_callgrind_files(tmp: Path) -> None:
    """Copies callgrind's files to $ICOUNT_KEEP (when set), one folder per server."""
    keep = os.environ.get("ICOUNT_KEEP")
    if not keep:
        return
    for path in tmp.glob("*/callgrind.*"):
        target = Path(keep) / path.parent.name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.name)
    log(f"callgrind files kept in {keep}")


def main() -> int:
    load_at_start = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="gateway-icount-") as name,
        procs.supervised(),
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(name)
        library = build_library(tmp)
        upstream_port = procs.free_port()
        nginx = Nginx.start(tmp / "nginx", upstream_port, upstream_http(upstream_port))
        stack.callback(nginx.stop)
        counts = count_gateway(upstream_port, tmp, library, stack)
        for floor in FLOORS if os.environ.get("ICOUNT_FLOORS") != "0" else ():
            port = start_floor(floor, upstream_port, tmp, library, stack)
            counts[floor.name] = count(
                Row(floor.name, port, headers("floor.localhost")), tmp / floor.name, 1
            )
        stack.close()  # the servers stop, callgrind writes its last files
        keep_callgrind_files(tmp)
    order = ("plain", "key_rate_limiter", "llm_target", *(floor.name for floor in FLOORS))
    results = {"instructions_per_request": {n: round(counts[n]) for n in order if n in counts}}
    if len(results["instructions_per_request"]) == len(order):  # a partial run is printed only
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / "icount.json").write_text(json.dumps(results, indent=2) + "\n")
    load = os.getloadavg()[0]
    log(f"load average {load_at_start:.2f} at start, {load:.2f} at the end")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
