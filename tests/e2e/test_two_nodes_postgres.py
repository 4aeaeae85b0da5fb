"""Two gateway nodes on a real PostgreSQL and redis-server: limits, cold bursts, Redis outages."""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from gateway_project.invalidation import versions_key
from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import PostgresServer, RedisServer, require_services, wait_until

pytestmark = pytest.mark.e2e

WORKERS_PER_NODE = 2
BUILD_CONCURRENCY = 2  # GATEWAY_SNAPSHOT_BUILD_CONCURRENCY, the default
# The documented bound: each worker's proxy side holds at most BUILD_CONCURRENCY connections.
CONNECTION_BOUND = 2 * WORKERS_PER_NODE * BUILD_CONCURRENCY
DB_CHECK_INTERVAL = 2.0  # GATEWAY_CONFIG_DB_CHECK_INTERVAL, the default


@dataclass
class Cluster:
    postgres: PostgresServer
    redis: RedisServer
    nodes: list[GatewayServer]

    def requests(self, subdomain: str, key: str, count: int, threads: int) -> list[int]:
        """`count` concurrent GETs spread over the nodes, each on a new connection."""
        barrier = threading.Barrier(min(threads, count))

        def one(i: int) -> int:
            if i < threads:
                barrier.wait()
            node = self.nodes[i % len(self.nodes)]
            try:
                return node.proxy(subdomain, "/x", key=key).status_code
            except requests.RequestException:
                return 599  # no answer at all counts as a failure too

        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, range(count)))

    def all_answer(self, subdomain: str, key: str, status: int, per_node: int = 6) -> bool:
        statuses = self.requests(subdomain, key, per_node * len(self.nodes), threads=4)
        return set(statuses) == {status}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, e2e_upstream):
    require_services()
    postgres = PostgresServer(max_connections=50).start()
    redis_server = RedisServer().start()
    nodes = [
        GatewayServer(
            tmp_path_factory.mktemp(f"node-{name}"),
            redis_server.url,
            workers=WORKERS_PER_NODE,
            database_url=postgres.url,
        )
        for name in ("a", "b")
    ]
    try:
        nodes[0].manage("migrate", "--noinput")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda node: node.start(migrate=False), nodes))
        yield Cluster(postgres, redis_server, nodes)
    finally:
        for node in nodes:
            if node.process:
                node.stop()
        redis_server.stop()
        postgres.stop()


def gateway_on(cluster: Cluster, subdomain: str, upstream, **options):
    return routed_gateway(
        cluster.nodes[0].post,
        subdomain=subdomain,
        targets=[("127.0.0.1", upstream.port)],
        **options,
    )


def test_limits_are_exact_across_two_nodes(cluster, e2e_upstream):
    limiter = {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"global": {"limit": 50, "window": "1m"}}},
    }
    gateway = gateway_on(cluster, "pg-limit", e2e_upstream, required_plugins=[limiter])
    statuses = cluster.requests("pg-limit", gateway.key, 200, threads=100)
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150


def test_a_burst_on_a_cold_gateway_holds_few_connections_and_never_fails(cluster, e2e_upstream):
    gateway = gateway_on(cluster, "pg-cold", e2e_upstream)
    wait_until(lambda: cluster.postgres.connections_to_database() == 0, timeout=10)
    sessions_before = cluster.postgres.sessions_opened()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], cluster.postgres.connections_to_database())

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        statuses = cluster.requests("pg-cold", gateway.key, 300, threads=150)
    finally:
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
    assert statuses.count(200) == 300, sorted(set(statuses))
    assert peak[0] <= CONNECTION_BOUND
    wait_until(lambda: cluster.postgres.connections_to_database() == 0, timeout=10)
    # One build per worker plus its database checks (one per 2 s), not one per request.
    opened = cluster.postgres.sessions_opened() - sessions_before
    workers = len(cluster.nodes) * WORKERS_PER_NODE
    assert 1 <= opened <= workers * (2 + math.ceil(elapsed / DB_CHECK_INTERVAL)), opened


def test_a_change_made_during_a_redis_outage_reaches_both_nodes(cluster, e2e_upstream):
    gateway = gateway_on(cluster, "pg-outage", e2e_upstream)
    admin, url = cluster.nodes[0].admin, f"{cluster.nodes[0].base_url}/api/v1/gateways/{gateway.id}"
    assert cluster.all_answer("pg-outage", gateway.key, 200)
    renamed = admin.patch(url, json={"name": "renamed"}, timeout=10)
    assert renamed.status_code == 200
    assert "X-Config-Propagation" not in renamed.headers

    cluster.redis.stop()
    disabled = admin.patch(url, json={"status": "inactive"}, timeout=10)
    assert disabled.status_code == 200
    cluster.redis.start()

    wait_until(lambda: cluster.all_answer("pg-outage", gateway.key, 404), timeout=15)
    assert disabled.headers["X-Config-Propagation"] == "delayed"
    with cluster.postgres.connect() as conn:
        epoch, counter = conn.execute(
            "SELECT epoch, version FROM gateways_configversion WHERE scope = 'counter'"
        ).fetchone()
    published = cluster.redis.client()
    wait_until(lambda: int(published.hget(versions_key(epoch), "counter") or 0) == counter, 10)
    assert int(published.hget(versions_key(epoch), f"s:{gateway.id}")) == counter
