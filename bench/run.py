"""The whole benchmark: start the servers, measure every row, profile, write the report."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import many_streams, procs
from bench.config import (
    MANY_STREAMS,
    MANY_STREAMS_EVENTS,
    MANY_STREAMS_TARGET,
    OVERHEAD_PER_ROUND,
    OVERHEAD_ROUNDS,
    OVERHEAD_WARMUP,
    RESULTS_DIR,
    SSE_EVENTS,
    SSE_INTERVAL_SECONDS,
    WORKLOADS,
    BenchConfig,
    Workload,
    load_config,
)
from bench.logs import log
from bench.measure import Measurement, measure_row, measure_sse
from bench.observe_ab import measure_observe_cost
from bench.overhead import measure_overhead
from bench.peers import peer_targets, start_peers
from bench.profiling import run_profile
from bench.report import write_results
from bench.scenarios import (
    GATEWAY_KEYS,
    Target,
    gateway_targets,
    reference_targets,
    shared_key,
)
from bench.servers import start_servers
from bench.sysinfo import machine_info


def plan(config: BenchConfig, targets: list[Target]) -> list[tuple[Workload, int, Target]]:
    """Every wrk row of the run, in order: workload, concurrency, target."""
    return [
        (workload, concurrency, target)
        for workload in WORKLOADS
        for concurrency in config.concurrencies_of(workload.name)
        for target in targets
        if target.measures(workload.name)
        and config.includes(workload.name, concurrency, target.key)
    ]


def sse_plan(config: BenchConfig, targets: list[Target]) -> list[Target]:
    """The rows whose SSE streams are measured, in order."""
    return [target for target in targets if config.streams(target.key)]


def measure_all(config: BenchConfig, targets: list[Target], tmp: Path) -> list[Measurement]:
    rows = []
    api_key = shared_key(targets)
    for workload, concurrency, target in plan(config, targets):
        row = measure_row(target, workload, concurrency, config, tmp, api_key)
        log(f"{workload.name} c={concurrency} {target.key}: {row.rps} req/s {row.status}")
        rows.append(row)
    return rows


@contextlib.contextmanager
def phase(name: str, seconds: dict[str, float]) -> Iterator[None]:
    """Time the block into `seconds[name]` and log it (where a run's time goes)."""
    started = time.monotonic()
    try:
        yield
    finally:
        seconds[name] = round(time.monotonic() - started, 1)
        log(f"{name} took {seconds[name]} s")


def measure_many_streams(targets: list[Target], api_key: str) -> dict[str, Any]:
    """MANY_STREAMS SSE streams opened at once through one gateway row."""
    target = next(t for t in targets if t.key == MANY_STREAMS_TARGET)
    summary = {"target": target.key, "label": target.label}
    if target.broken:
        return summary | {"status": "skipped", "reason": target.broken}
    headers = target.sse_headers(api_key)
    result = many_streams.measure(
        target.sse_port, target.sse_host, headers, MANY_STREAMS, MANY_STREAMS_EVENTS, target.pids
    )
    log(f"{MANY_STREAMS} streams at once through {target.key}: {result}")
    status = "ok" if result["complete"] == MANY_STREAMS else "errors"
    return summary | {"status": status} | result


def collect(config: BenchConfig, tmp: Path) -> dict[str, Any]:
    seconds: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        with phase("servers", seconds):
            servers = start_servers(config, tmp, stack)
            targets = reference_targets(servers) + gateway_targets(servers)
            peers = None
            if config.peers:
                ports = (servers.upstream.port, servers.sse_port)
                peers = start_peers(config, ports, tmp, stack)
                targets += peer_targets(peers)
        log(f"{config.mode} mode: {len(targets)} rows, {len(plan(config, targets))} wrk rows")
        with phase("rows", seconds):
            rows = measure_all(config, targets, tmp)
        if servers.gateway and any(r.status != "ok" for r in rows if r.target in GATEWAY_KEYS):
            log(f"some gateway rows failed; end of the gateway log:\n{servers.gateway.log_tail()}")
        api_key = shared_key(targets)
        with phase("overhead", seconds):
            overhead = measure_overhead(
                targets, api_key, OVERHEAD_ROUNDS, OVERHEAD_PER_ROUND, OVERHEAD_WARMUP
            )
        with phase("observe_cost", seconds):
            observe_cost = measure_observe_cost(config, targets, tmp, api_key)
        with phase("sse", seconds):
            sse = [measure_sse(t, config.sse_samples, api_key) for t in sse_plan(config, targets)]
        with phase("many_streams", seconds):
            streams = measure_many_streams(targets, api_key)
        with phase("profile", seconds):
            profile = run_profile(config, servers, targets, rows, tmp)
        with phase("stop", seconds):
            stack.close()
    return {
        "config": asdict(config) | {"mode": config.mode, "python": str(config.python)},
        "workloads": [asdict(w) for w in WORKLOADS],
        "rows": [asdict(row) for row in rows],
        "sse": sse,
        "many_streams": streams,
        "observe_cost": observe_cost,
        "overhead": overhead,
        "sse_events": SSE_EVENTS,
        "sse_interval_ms": int(SSE_INTERVAL_SECONDS * 1000),
        "profile": profile,
        "peers": peers.summary() if peers else None,
        "phase_seconds": seconds,
    }


def main() -> int:
    config = load_config()
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    if load_at_start > 0.5:
        log(f"load average is {load_at_start:.2f}: other work on this machine skews the numbers")
    RESULTS_DIR.mkdir(exist_ok=True)
    try:
        # Every server stops (the embedded Redis too) before its directory is removed.
        with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp, procs.supervised():
            results = collect(config, Path(tmp))
    except procs.Interrupted as exc:
        log(f"stopped by {exc}: every server it started is stopped, no results written")
        return 1
    results["machine"] = machine_info() | {"load_average_at_start": round(load_at_start, 2)}
    results["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    markdown = write_results(results, RESULTS_DIR)
    from bench.chart import write_chart  # matplotlib: a bench-only dependency, needed here only

    write_chart(results, RESULTS_DIR / "chart.png")
    print(markdown)
    log(f"done in {results['elapsed_seconds']} s; results in {RESULTS_DIR}")
    return 0
