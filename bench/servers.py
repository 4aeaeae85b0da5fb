"""Start the servers of one run: nginx upstream, SSE and LLM upstreams, nginx proxy, gateway."""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.config import REPO_ROOT, SSE_EVENTS, SSE_INTERVAL_SECONDS, BenchConfig
from bench.gateway import GatewayServer, log_tail
from bench.logs import log
from bench.nginx import Nginx, proxy_http, upstream_http


@dataclass
class Servers:
    upstream: Nginx
    proxy: Nginx
    sse_port: int
    llm_port: int
    gateway: GatewayServer | None
    gateway_error: str = ""
    unobserved: GatewayServer | None = None  # metrics and access log off
    unobserved_error: str = ""


def start_python_upstream(
    python: Path, tmp: Path, stack: contextlib.ExitStack, module: str, *options: str
) -> int:
    """One of the asyncio mock upstreams (`bench.<module>`) on a free port."""
    port = procs.free_port()
    args = [str(python), "-m", f"bench.{module}", "--port", str(port), *options]
    process = procs.start(args, log=tmp / f"{module}.log", cwd=REPO_ROOT)
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process)
    return port


def start_gateway(
    config: BenchConfig, tmp: Path, stack: contextlib.ExitStack, observed: bool = True
) -> tuple[GatewayServer | None, str]:
    """The gateway, or None and why it did not start (its rows are then skipped)."""
    var_dir = tmp / ("gateway" if observed else "gateway-unobserved")
    try:
        server = GatewayServer.start(
            config.python, var_dir, procs.free_port(), config.gateway_workers, observed
        )
    except (RuntimeError, subprocess.SubprocessError) as exc:
        log(f"gateway did not start: {exc}\n{log_tail(var_dir)}")
        return None, f"gateway did not start: {str(exc)[:200]}"
    stack.callback(server.stop)
    return server, ""


def start_servers(config: BenchConfig, tmp: Path, stack: contextlib.ExitStack) -> Servers:
    """Every server of the run, each stopped by `stack` when it closes."""
    upstream_port, proxy_port = procs.free_port(), procs.free_port()
    upstream = Nginx.start(tmp / "nginx-upstream", upstream_port, upstream_http(upstream_port))
    stack.callback(upstream.stop)
    interval = str(SSE_INTERVAL_SECONDS)
    sse_port = start_python_upstream(
        config.python,
        tmp,
        stack,
        "sse_upstream",
        "--events",
        str(SSE_EVENTS),
        "--interval",
        interval,
    )
    llm_port = start_python_upstream(
        config.python, tmp, stack, "llm_upstream", "--interval", interval
    )
    proxy_config = proxy_http(proxy_port, upstream_port, sse_port)
    proxy = Nginx.start(tmp / "nginx-proxy", proxy_port, proxy_config)
    stack.callback(proxy.stop)
    gateway, error = start_gateway(config, tmp, stack)
    unobserved, unobserved_error = start_gateway(config, tmp, stack, observed=False)
    return Servers(
        upstream, proxy, sse_port, llm_port, gateway, error, unobserved, unobserved_error
    )
