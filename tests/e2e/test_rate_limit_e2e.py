"""The seed's rate limits through gunicorn: exact across workers and processes; Redis outages."""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

import pytest
import requests

from gateway_project.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from tests.builders import routed_gateway
from tests.conftest import SEED_RATE_LIMITER
from tests.e2e.server import GatewayServer

pytestmark = pytest.mark.e2e


def limiter(limits: dict, **settings) -> list[dict]:
    return [
        {
            "name": "rate_limiter",
            "stage": "pre_request",
            "priority": 1,
            "settings": {"limits": limits, **settings},
        }
    ]


def test_seed_gateway_allows_five_then_429(gateway_server, e2e_upstream):
    gateway = routed_gateway(
        gateway_server.post,
        subdomain="e2e-seed",
        targets=[("127.0.0.1", e2e_upstream.port)],
        required_plugins=[SEED_RATE_LIMITER],
    )
    responses = [gateway_server.proxy("e2e-seed", "/x", key=gateway.key) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert [r.headers["X-RateLimit-per_ip-Remaining"] for r in responses[:5]] == [
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    assert responses[0].headers["X-RateLimit-global-Remaining"] == "14"
    assert responses[0].headers["X-RateLimit-Limit"] == "5"
    rejected = responses[5]
    assert rejected.headers["Retry-After"] == "60"
    assert rejected.json() == {"error": "per_ip rate limit exceeded", "retry_after": 60}
    assert rejected.headers["X-RateLimit-Remaining"] == "0"
    reset = int(rejected.headers["X-RateLimit-Reset"])
    assert time.time() + 55 < reset <= time.time() + 61


def _burst(args: tuple[str, str, str, int]) -> list[int]:
    base_url, subdomain, key, count = args
    session = requests.Session()
    headers = {"Host": f"{subdomain}.localhost", "X-API-Key": key}

    def one(_: int) -> int:
        return session.get(base_url + "/x", headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_concurrent_requests_from_several_processes_admit_exactly_the_limit(
    gateway_server, e2e_upstream
):
    gateway = routed_gateway(
        gateway_server.post,
        subdomain="e2e-burst",
        targets=[("127.0.0.1", e2e_upstream.port)],
        required_plugins=limiter({"global": {"limit": 50, "window": "1m"}}),
    )
    with Pool(4) as pool:
        results = pool.map(_burst, [(gateway_server.base_url, "e2e-burst", gateway.key, 50)] * 4)
    statuses = [status for batch in results for status in batch]
    assert len(statuses) == 200
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150


@pytest.fixture
def fragile_redis():
    """A Redis of its own that a test may stop."""
    directory = Path(tempfile.mkdtemp(prefix="gw-fragile-"))
    url = ensure_embedded_redis(directory)
    yield directory, url
    stop_embedded_redis(directory)
    shutil.rmtree(directory, ignore_errors=True)


def test_redis_outage_fails_open_or_closed_as_configured(fragile_redis, e2e_upstream, tmp_path):
    directory, url = fragile_redis
    server = GatewayServer(tmp_path, url, workers=1).start()
    try:
        limits = {"per_ip": {"limit": 100, "window": "1m"}}
        open_gw = routed_gateway(
            server.post,
            subdomain="open",
            targets=[("127.0.0.1", e2e_upstream.port)],
            required_plugins=limiter(limits, fail_open=True),
        )
        closed_gw = routed_gateway(
            server.post,
            subdomain="closed",
            targets=[("127.0.0.1", e2e_upstream.port)],
            required_plugins=limiter(limits, fail_open=False),
        )
        assert server.proxy("open", "/x", key=open_gw.key).status_code == 200
        assert server.proxy("closed", "/x", key=closed_gw.key).status_code == 200
        stop_embedded_redis(directory)
        started = time.monotonic()
        assert server.proxy("open", "/x", key=open_gw.key).status_code == 200
        closed = server.proxy("closed", "/x", key=closed_gw.key)
        assert closed.status_code == 503
        assert closed.json()["error"] == "rate limiter unavailable"
        assert time.monotonic() - started < 5
    finally:
        server.stop()
