"""Metrics, access log and probes through a real gunicorn with several workers."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import RedisServer, redis_server_binary, wait_until

pytestmark = pytest.mark.e2e
SENT = 40


def scrape(server: GatewayServer, **headers: str) -> dict[str, list]:
    response = requests.get(server.base_url + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return {
        family.name: family.samples
        for family in text_string_to_metric_families(response.content.decode())
    }


def value(families: dict[str, list], name: str, **labels: str) -> float:
    family = name.removesuffix("_total").removesuffix("_count").removesuffix("_bucket")
    return sum(
        sample.value
        for sample in families.get(family, [])
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def workers_counting(directory, gateway: str) -> set[str]:
    """The metric files (one per worker) holding requests of `gateway`."""
    found = set()
    for path in directory.glob("counter_*.db"):
        for key, count, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if '"gateway_requests_total"' in key and f'"{gateway}"' in key and count:
                found.add(path.name)
    return found


@pytest.fixture(scope="module")
def observed_server(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("observed")
    server = GatewayServer(
        var_dir,
        os.environ["TEST_REDIS_URL"],
        workers=3,
        PROMETHEUS_MULTIPROC_DIR=str(var_dir / "metrics"),
        GATEWAY_ACCESS_LOG=str(var_dir / "access.log"),
        GATEWAY_METRICS_TOKEN="scrape-token-e2e",
    ).start()
    yield server
    server.stop()


def test_counters_and_histograms_sum_every_worker(observed_server, e2e_upstream):
    server = observed_server
    auth = {"Authorization": "Bearer scrape-token-e2e"}
    gateway = routed_gateway(
        server.post, subdomain="e2e-metrics", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    labels = {"gateway": "e2e-metrics", "rule": gateway.rule["id"]}
    for _ in range(SENT):  # a new connection each: gunicorn's workers share them out
        assert server.proxy("e2e-metrics", "/x", key=gateway.key).status_code == 200
    # A response is counted once its last byte is sent: the client may see it a moment earlier.
    wait_until(
        lambda: value(scrape(server, **auth), "gateway_requests_total", **labels) == SENT,
        timeout=5,
    )
    families = scrape(server, **auth)
    assert value(families, "gateway_requests_total", **labels, status="200") == SENT
    assert value(families, "gateway_request_duration_seconds_count", **labels) == SENT
    assert value(families, "gateway_request_duration_seconds_bucket", **labels, le="+Inf") == SENT
    assert value(families, "gateway_upstream_duration_seconds_count", gateway="e2e-metrics") == (
        SENT
    )
    assert len(workers_counting(server.var_dir / "metrics", "e2e-metrics")) >= 2
    assert requests.get(server.base_url + "/metrics", timeout=10).status_code == 401

    # A worker dies: its counts stay, its live gauges go (prometheus-client's mark_process_dead).
    worker = psutil.Process(server.process.pid).children()[0]
    os.kill(worker.pid, signal.SIGKILL)
    wait_until(lambda: len(psutil.Process(server.process.pid).children()) == 3, timeout=20)
    wait_until(
        lambda: not list((server.var_dir / "metrics").glob(f"gauge_live*_{worker.pid}.db")),
        timeout=10,
    )
    families = scrape(server, **auth)
    assert value(families, "gateway_requests_total", **labels, status="200") == SENT


def test_the_access_log_has_one_line_per_request_from_every_worker(observed_server, e2e_upstream):
    server = observed_server
    gateway = routed_gateway(
        server.post, subdomain="e2e-logged", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    ids = [f"e2e-log-{i}" for i in range(SENT)]
    for request_id in ids:
        response = server.proxy(
            "e2e-logged",
            "/v1/chat?api_key=query-secret",
            key=gateway.key,
            headers={"X-Request-ID": request_id},
        )
        assert response.status_code == 200

    def logged_lines() -> list[dict]:
        text = (server.var_dir / "access.log").read_text()
        return [json.loads(line) for line in text.splitlines()]

    # Logged once the response's last byte is sent: the client may see it a moment earlier.
    wait_until(
        lambda: sum(line.get("gateway") == "e2e-logged" for line in logged_lines()) == SENT,
        timeout=5,
    )
    lines = logged_lines()
    logged = [line for line in lines if line.get("gateway") == "e2e-logged"]
    assert sorted(line["request_id"] for line in logged) == sorted(ids)
    assert {(line["path"], line["status"]) for line in logged} == {("/v1/chat", 200)}
    writes = [line for line in lines if line["type"] == "admin_write"]
    assert {line["user"] for line in writes} == {"e2e"}
    text = (server.var_dir / "access.log").read_text()
    assert gateway.key not in text
    assert "query-secret" not in text


@pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed")
def test_readyz_turns_503_while_redis_is_down(tmp_path):
    redis_server = RedisServer().start()
    server = GatewayServer(tmp_path, redis_server.url, workers=2).start()
    ready = server.base_url + "/readyz"
    try:
        assert requests.get(ready, timeout=5).json()["status"] == "ready"
        redis_server.stop()
        wait_until(lambda: requests.get(ready, timeout=5).status_code == 503, timeout=5)
        down = requests.get(ready, headers={"Host": "any.localhost"}, timeout=5)
        assert down.status_code == 503
        assert down.json() == {
            "error": "not ready: redis unreachable",
            "checks": {"database": "ok", "redis": "down"},
        }
        assert requests.get(server.base_url + "/healthz", timeout=5).status_code == 200
        redis_server.start()
        wait_until(lambda: requests.get(ready, timeout=5).status_code == 200, timeout=10)
    finally:
        server.stop()
        redis_server.stop()


def metrics_directory_of(server: GatewayServer) -> Path:
    """The directory holding a worker's metric files (the worker's pid names them)."""
    worker = psutil.Process(server.process.pid).children()[0].pid
    (found,) = Path(tempfile.gettempdir()).glob(f"gateway-metrics-*/counter_{worker}.db")
    return found.parent


def test_the_master_makes_and_removes_the_metrics_directory(tmp_path):
    server = GatewayServer(tmp_path, os.environ["TEST_REDIS_URL"], workers=2).start()
    try:
        directory = metrics_directory_of(server)
        assert (
            "gateway_config_reloads_total"
            in requests.get(server.base_url + "/metrics", timeout=10).text
        )
    finally:
        server.stop()
    assert not directory.exists()


def test_a_given_metrics_directory_is_emptied_at_start_and_kept(tmp_path):
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_999999.db").write_bytes(b"left by an earlier run")
    server = GatewayServer(
        tmp_path / "var",
        os.environ["TEST_REDIS_URL"],
        workers=2,
        PROMETHEUS_MULTIPROC_DIR=str(given),
    )
    server.var_dir.mkdir()
    server.start()
    try:
        worker = psutil.Process(server.process.pid).children()[0].pid
        wait_until(lambda: (given / f"counter_{worker}.db").exists(), timeout=10)
        assert not (given / "counter_999999.db").exists()
        assert requests.get(server.base_url + "/metrics", timeout=10).status_code == 200
    finally:
        server.stop()
    assert given.exists()
