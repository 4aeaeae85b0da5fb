"""One row at one concurrency: preflight request, warm-up run, measured run with resource use."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import requests

from bench import sse_client
from bench.config import BenchConfig, Workload
from bench.procstats import ResourceSampler
from bench.scenarios import Target
from bench.wrk import lua_script, run_wrk


@dataclass
class Measurement:
    """What the report shows for one target, workload and concurrency."""

    target: str
    label: str
    workload: str
    concurrency: int
    status: str = "ok"  # ok | errors (some non-2xx or socket errors) | skipped | failed
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    rps: float = 0.0
    requests: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float | None = None
    cpu_us_per_request: float | None = None
    peak_rss_mb: float | None = None
    redis_cpu_seconds: float | None = None


def preflight(target: Target, workload: Workload, api_key: str) -> str:
    """'' when one request through `target` answers 2xx, else why not."""
    url = f"http://127.0.0.1:{target.port}{workload.path}"
    headers = target.headers(api_key)
    try:
        response = requests.request(
            workload.method, url, headers=headers, data=workload.body or None, timeout=10
        )
    except requests.RequestException as exc:
        return f"preflight failed: {exc}"
    if 200 <= response.status_code < 300:
        return ""
    return f"preflight HTTP {response.status_code}: {response.text[:160].strip()}"


def measure_row(
    target: Target,
    workload: Workload,
    concurrency: int,
    config: BenchConfig,
    scripts: Path,
    api_key: str,
) -> Measurement:
    row = Measurement(target.key, target.label, workload.name, concurrency, notes=target.notes)
    reason = target.skip_reason(workload.name) or preflight(target, workload, api_key)
    if reason:
        row.status, row.reason = "skipped", reason
        return row
    script = scripts / f"{target.key}-{workload.name}.lua"
    script.write_text(lua_script(workload, target.headers(api_key)))
    url = f"http://127.0.0.1:{target.port}{workload.path}"
    load = partial(run_wrk, url, script, connections=concurrency, threads=min(concurrency, 2))
    try:
        load(seconds=config.warmup_seconds)
        with ResourceSampler(target.pids) as sampler, ResourceSampler(target.redis_pids) as redis:
            result = load(seconds=config.measure_seconds)
    except (RuntimeError, subprocess.SubprocessError) as exc:
        row.status, row.reason = "failed", str(exc)[:300]
        return row
    usage = sampler.usage()
    if target.redis_pids():
        row.redis_cpu_seconds = redis.usage().cpu_seconds
    row.rps = round(result.ok_rps, 1)
    row.requests, row.non2xx = result.requests, result.non2xx
    row.socket_errors = result.socket_errors
    row.latency_ms = result.percentiles_ms
    row.cpu_seconds, row.peak_rss_mb = usage.cpu_seconds, usage.peak_rss_mb
    if result.requests:
        row.cpu_us_per_request = round(usage.cpu_seconds / result.requests * 1e6, 1)
    if result.errors:
        row.status = "errors"
    return row


def alternating_rounds(
    targets: Sequence[Target], rounds: int, measure: Callable[[Target], Measurement]
) -> dict[str, list[Measurement]]:
    """`rounds` measurements of each target in turn, every other round in reverse order, so
    that the machine's drift falls on all of them alike. Stops at the first row not "ok" (the
    caller finds it last in its target's list)."""
    samples: dict[str, list[Measurement]] = {target.key: [] for target in targets}
    for index in range(rounds):
        for target in targets if index % 2 == 0 else targets[::-1]:
            row = measure(target)
            samples[target.key].append(row)
            if row.status != "ok":
                return samples
    return samples


def first_failure(samples: dict[str, list[Measurement]]) -> Measurement | None:
    """The row of `alternating_rounds` that stopped them, if one did."""
    return next((row for rows in samples.values() for row in rows if row.status != "ok"), None)


def measure_sse(target: Target, samples: int, api_key: str) -> dict:
    """TTFB and total time of `samples` SSE streams through `target`."""
    summary = {"target": target.key, "label": target.label, "reference": target.sse_reference}
    reason = target.broken or ("" if target.sse_port else "no SSE route in this setup")
    if reason:
        return summary | {"status": "skipped", "reason": reason}
    result = sse_client.measure(
        target.sse_port, target.sse_host, target.sse_headers(api_key), samples, target.sse_request
    )
    status = "errors" if result["failures"] else "ok"
    return summary | {"status": status} | result
