"""CPU per request of observe() (metrics, access log, rollup): `python -m bench.observe_cost`.

One process, metric files in a multiprocess directory as under gunicorn; CPU time, not wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REQUESTS = 20_000


def prepare(tmp: Path) -> None:
    """Django with its own var dir, an embedded Redis, metric files in a directory (gunicorn's)."""
    from gateway_project.embedded_redis import ensure_embedded_redis

    (tmp / "metrics").mkdir()
    os.environ.update(
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"),
        GATEWAY_VAR_DIR=str(tmp / "var"),
        DJANGO_SETTINGS_MODULE="gateway_project.settings",
        REDIS_URL=ensure_embedded_redis(tmp / "redis"),
    )
    import django

    django.setup()


def record():
    from observability.observe import RequestRecord

    return RequestRecord(
        started=time.perf_counter(),
        request_id="0123456789abcdef0123456789abcdef",
        method="POST",
        path="/v1/chat/completions",
        client_ip="127.0.0.1",
        gateway="bench",
        gateway_id="6f1c1e0c-0000-4000-8000-000000000001",
        rule="6f1c1e0c-0000-4000-8000-000000000002",
        status=200,
        bytes_in=120,
        bytes_out=300,
        upstream_ms=0.8,
        target_key="6f1c1e0c-0000-4000-8000-000000000003:0",
        api_key_id="6f1c1e0c-0000-4000-8000-000000000004",
        verdicts=[("rate_limiter", "pre_request", "continue")],
    )


def cpu_per_request(metrics: bool, access_log: str) -> float:
    """Microseconds of CPU per observe() call, the flush of the rollups included."""
    from django.conf import settings

    from gateway_project.conf import gateway_settings
    from observability.observe import observe
    from observability.rollups import rollups

    settings.GATEWAY = {**settings.GATEWAY, "METRICS": metrics, "ACCESS_LOG": access_log}
    gateway_settings.reload()
    records = [record() for _ in range(REQUESTS)]
    started = time.process_time()
    for item in records:
        observe(item)
    rollups.flush()
    return (time.process_time() - started) / REQUESTS * 1e6


def main() -> int:
    from gateway_project.embedded_redis import stop_embedded_redis

    with tempfile.TemporaryDirectory(prefix="observe-cost-") as name:
        tmp = Path(name)
        prepare(tmp)
        try:
            cpu_per_request(True, str(tmp / "warm.log"))  # label children bound, files mapped
            rows = [
                ("off", cpu_per_request(False, "off")),
                ("metrics + rollup", cpu_per_request(True, "off")),
                ("metrics + rollup + access log (file)", cpu_per_request(True, str(tmp / "a.log"))),
            ]
        finally:
            stop_embedded_redis(tmp / "redis")
    print(f"observe() CPU per request ({REQUESTS} requests, load {os.getloadavg()[0]:.2f}):")
    for label, micros in rows:
        print(f"  {label:40s} {micros:7.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
