"""The SSE rows alone, to iterate on time to first event: `python -m bench.sse_only [streams]`.

Starts what those rows need (nginx upstream and proxy, the SSE and LLM mocks, one gateway with
gateway (a)'s SSE twin and the LLM front to the OpenAI and Anthropic mocks, and the stack's floor:
`bench.floor_apps:stream` under gunicorn + gevent, forwarding to the SSE mock), then measures
`streams` streams per row (default 20) after the warm-up, in alternating rounds of 5 so that
the machine's drift falls on every row alike, and prints TTFB p50 with `added` against each
row's direct reference.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from bench import procs, sse_client
from bench.config import REPO_ROOT, load_config
from bench.gateway import AdminClient
from bench.logs import log
from bench.nginx import Nginx, proxy_http, upstream_http
from bench.report import SSE_COLUMNS, add_sse_overhead, markdown_table, sse_row
from bench.scenarios import (
    GATEWAY_ROWS,
    LLM_ROWS,
    Target,
    gateway_target,
    llm_target,
    process_tree,
    reference_targets,
)
from bench.servers import Servers, start_gateway, start_python_upstream

ROUND_STREAMS = 5
FLOOR_HOST = "floor.localhost"
LLM_SSE_ROWS = LLM_ROWS[:2]  # passthrough and translated (the cached row answers from Redis)


def start_floor(python: Path, sse_port: int, tmp: Path, stack: contextlib.ExitStack) -> Target:
    """bench.floor_apps:stream under gunicorn + gevent (2 workers, as the gateway), to the SSE
    mock."""
    port = procs.free_port()
    args = [str(python.parent / "gunicorn"), "-k", "gevent", "-w", "2"]
    args += ["-b", f"{procs.LOOPBACK}:{port}", "--log-level", "warning", "bench.floor_apps:stream"]
    env = {**os.environ, "FLOOR_UPSTREAM_PORT": str(sse_port)}
    process = procs.start(args, log=tmp / "sse-floor.log", cwd=REPO_ROOT, env=env)
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process)
    label = "floor: gunicorn + gevent + urllib3, stream passed on"
    return Target("floor", label, port, FLOOR_HOST, port, FLOOR_HOST, process_tree(process.pid))


def start(tmp: Path, stack: contextlib.ExitStack) -> list[Target]:
    config = load_config()
    upstream_port, proxy_port = procs.free_port(), procs.free_port()
    upstream = Nginx.start(tmp / "nginx-upstream", upstream_port, upstream_http(upstream_port))
    stack.callback(upstream.stop)
    sse_port = start_python_upstream(config.python, tmp, stack, "sse_upstream")
    llm_port = start_python_upstream(config.python, tmp, stack, "llm_upstream")
    proxy = Nginx.start(
        tmp / "nginx-proxy", proxy_port, proxy_http(proxy_port, upstream_port, sse_port)
    )
    stack.callback(proxy.stop)
    gateway, error = start_gateway(config, tmp, stack)
    if gateway is None:
        raise RuntimeError(error)
    servers = Servers(upstream, proxy, sse_port, llm_port, gateway)
    admin = AdminClient(gateway.base_url, gateway.token)
    plain = gateway_target(GATEWAY_ROWS[0], gateway, admin, {}, (upstream_port, sse_port))
    llm = [llm_target(*row, gateway, admin, llm_port) for row in LLM_SSE_ROWS]
    floor = start_floor(config.python, sse_port, tmp, stack)
    return [*reference_targets(servers), floor, plain, *llm]


def measure(targets: list[Target], streams: int) -> list[dict]:
    """`streams` streams per target, ROUND_STREAMS at a time, every other round reversed."""
    api_key = next(t.api_key for t in targets if t.api_key)
    samples: dict[str, list[sse_client.SseSample]] = {t.key: [] for t in targets}
    failures: dict[str, int] = {t.key: 0 for t in targets}
    for target in targets:
        sse_client.warm_up(
            target.sse_port, target.sse_host, target.sse_headers(api_key), target.sse_request
        )
    for index in range(-(-streams // ROUND_STREAMS)):
        for target in targets if index % 2 == 0 else targets[::-1]:
            for _ in range(min(ROUND_STREAMS, streams - index * ROUND_STREAMS)):
                run = sse_client.sample(
                    target.sse_port,
                    target.sse_host,
                    target.sse_headers(api_key),
                    target.sse_request,
                )
                if run.status == 200 and run.complete:
                    samples[target.key].append(run)
                else:
                    failures[target.key] += 1
    rows = []
    for target in targets:
        runs = samples[target.key]
        row = {"target": target.key, "label": target.label, "reference": target.sse_reference}
        row |= {"samples": streams, "failures": failures[target.key], "status": "ok"}
        row |= sse_client.summarise(runs)
        if failures[target.key]:
            row["status"] = "errors"
        rows.append(row)
    add_sse_overhead(rows)
    return rows


def main() -> int:
    streams = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    load = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="gateway-sse-") as name,
        procs.supervised(),
        contextlib.ExitStack() as stack,
    ):
        targets = start(Path(name), stack)
        log(f"servers up; {streams} streams per row")
        rows = measure(targets, streams)
    print("\n".join(markdown_table(SSE_COLUMNS, [sse_row(row) for row in rows])))
    print(f"\nload average: {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
