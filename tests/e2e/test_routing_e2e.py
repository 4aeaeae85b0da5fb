"""Resilient routing across two gunicorn nodes sharing Redis: Retry-After rests a target (an
upstream's only one too) for every worker of either node, least-latency follows the faster
target, one prober per node."""

from __future__ import annotations

import os
import time
from itertools import pairwise

import pytest

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import wait_until
from tests.routing_upstream import HEALTH_PATH, SwitchableServer

pytestmark = pytest.mark.e2e

WORKERS = (2, 1)  # per node: one prober per node is 2 probers, one per worker would be 3


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Two gunicorn nodes on one SQLite database and the suite's Redis."""
    redis_url = os.environ["TEST_REDIS_URL"]
    database = f"sqlite:///{tmp_path_factory.mktemp('routing-db') / 'gateway.sqlite3'}"
    first = GatewayServer(
        tmp_path_factory.mktemp("node-a"), redis_url, workers=WORKERS[0], database_url=database
    ).start()
    second = GatewayServer(
        tmp_path_factory.mktemp("node-b"), redis_url, workers=WORKERS[1], database_url=database
    ).start(migrate=False)
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def mocks():
    servers = [SwitchableServer().start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


def gateway_of(nodes, subdomain: str, servers, **options):
    return routed_gateway(
        nodes[0].post,
        subdomain=subdomain,
        targets=[("127.0.0.1", server.port) for server in servers],
        **options,
    )


def port_of(node: GatewayServer, subdomain: str, key: str) -> int:
    response = node.proxy(subdomain, "/x", key=key)
    assert response.status_code == 200, response.text
    return response.json()["port"]


def test_a_429_with_retry_after_2_is_not_called_again_for_2_s_by_any_worker(nodes, mocks):
    busy, free = mocks
    busy.status, busy.headers = 429, {"Retry-After": "2"}
    gateway = gateway_of(nodes, "rt-retry-after", mocks, retry_attempts=1)
    answered, deadline = 0, time.monotonic() + 4.5
    while time.monotonic() < deadline:  # one request at a time, each on a new connection
        assert port_of(nodes[answered % 2], "rt-retry-after", gateway.key) == free.port
        answered += 1
    calls = [arrival.at for arrival in busy.calls()]
    assert len(calls) >= 2  # rested, then tried again
    assert min(later - earlier for earlier, later in pairwise(calls)) >= 2.0
    assert len(free.calls()) == answered


def test_a_single_target_429_with_retry_after_is_waited_out_by_every_worker(nodes, mocks):
    only = mocks[0]
    only.status, only.headers = 429, {"Retry-After": "1"}
    gateway = gateway_of(nodes, "rt-retry-after-one", [only])
    for i in range(4):  # one request at a time, on either node: each waits out the last rest
        response = nodes[i % 2].proxy("rt-retry-after-one", "/x", key=gateway.key)
        assert response.status_code == 429
    calls = [arrival.at for arrival in only.calls()]
    assert len(calls) == 4
    assert min(later - earlier for earlier, later in pairwise(calls)) >= 1.0


def test_least_latency_sends_most_to_the_fast_target_and_follows_a_swap(nodes, mocks):
    fast, slow = mocks
    fast.delay, slow.delay = 0.005, 0.05
    gateway = gateway_of(nodes, "rt-latency", mocks, algorithm="least-latency")
    ports = [port_of(nodes[i % 2], "rt-latency", gateway.key) for i in range(80)]
    assert ports[20:].count(fast.port) >= 0.8 * 60
    fast.delay, slow.delay = 0.05, 0.005
    recent: list[int] = []

    def shifted() -> bool:
        recent.append(port_of(nodes[len(recent) % 2], "rt-latency", gateway.key))
        return len(recent) >= 20 and recent[-20:].count(slow.port) >= 16

    took = wait_until(shifted, timeout=10, interval=0)
    print(f"least-latency shifted within {took:.2f} s ({len(recent)} requests)")


def test_one_prober_per_node_takes_a_failing_target_out_until_it_passes(nodes, mocks):
    sick, well = mocks
    checks = {"path": HEALTH_PATH, "interval": 1, "threshold": 1, "passive": False}
    gateway = gateway_of(nodes, "rt-probes", mocks, health_checks=checks)
    wait_until(lambda: len(sick.probes()) >= 14, timeout=15)
    probes = sick.probes()[2:]  # after both nodes' first probes
    rate = (len(probes) - 1) / (probes[-1].at - probes[0].at)
    # Two probers (one per node), each once a second (3 probers, one per worker: about 3/s).
    assert 1.5 <= rate <= 2.4, rate
    assert {a.agent for a in probes} == {"gateway-health-check"}
    print(f"probes per second on one target: {rate:.2f}")

    sick.health_status = 500
    failed_at = time.monotonic()
    wait_until(lambda: any(a.at > failed_at for a in sick.probes()), timeout=5)
    wait_until(lambda: sum(a.at > failed_at for a in sick.probes()) >= 2, timeout=5)
    before = len(sick.calls())
    ports = {port_of(nodes[i % 2], "rt-probes", gateway.key) for i in range(12)}
    assert ports == {well.port}
    assert len(sick.calls()) == before

    sick.health_status = 200
    wait_until(
        lambda: sick.port in {port_of(nodes[i % 2], "rt-probes", gateway.key) for i in range(6)},
        timeout=5,
    )
