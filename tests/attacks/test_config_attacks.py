"""Replays of the config-propagation and database attacks of issue 15 (items 3 and 5)."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from gateway_project.embedded_redis import ensure_embedded_redis, stop_embedded_redis
from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import PostgresServer, RedisServer, require_services, wait_until
from tests.upstream import UpstreamServer

pytestmark = pytest.mark.e2e


def statuses(
    server: GatewayServer, subdomain: str, key: str, count: int, threads: int
) -> list[int | str]:
    """`count` concurrent GETs, each on a new connection (so spread over the workers): each
    one's status, or the client's exception (its type and text) where it got none."""

    def one(_: int) -> int | str:
        try:
            response = server.proxy(subdomain, "/x", key=key)
        except requests.RequestException as error:
            return f"{type(error).__name__}: {error}"
        return response.status_code

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture(scope="module")
def e2e_upstream():
    server = UpstreamServer().start()
    yield server
    server.stop()


@pytest.fixture
def fragile_redis():
    directory = Path(tempfile.mkdtemp(prefix="gw-attack-redis-"))
    yield directory, ensure_embedded_redis(directory)
    stop_embedded_redis(directory)
    shutil.rmtree(directory, ignore_errors=True)


def test_item3_gateway_disabled_during_a_redis_outage_stops_serving_when_redis_returns(
    fragile_redis, e2e_upstream, tmp_path
):
    """Was: every worker kept serving the disabled gateway until the next admin write."""
    directory, url = fragile_redis
    server = GatewayServer(tmp_path, url, workers=2).start()
    try:
        gateway = routed_gateway(
            server.post, subdomain="outage", targets=[("127.0.0.1", e2e_upstream.port)]
        )
        assert set(statuses(server, "outage", gateway.key, 12, threads=4)) == {200}
        stop_embedded_redis(directory)
        response = server.admin.patch(
            f"{server.base_url}/api/v1/gateways/{gateway.id}", json={"status": "inactive"}
        )
        assert response.status_code == 200
        ensure_embedded_redis(directory)
        wait_until(
            lambda: set(statuses(server, "outage", gateway.key, 12, threads=4)) == {404},
            timeout=15,
        )
        assert response.headers["X-Config-Propagation"] == "delayed"
    finally:
        server.stop()


@pytest.fixture
def small_postgres():
    """A PostgreSQL that allows 20 connections, and a redis-server."""
    require_services()
    postgres = PostgresServer(max_connections=20).start()
    redis_server = RedisServer().start()
    yield postgres, redis_server
    redis_server.stop()
    postgres.stop()


def test_item5_bursts_after_a_cold_start_and_a_write_never_exhaust_postgres(
    small_postgres, e2e_upstream, tmp_path
):
    """Was: each in-flight request rebuilt the snapshot on its own connection ("too many
    clients" 500s for 201-400 of a 400-request burst) and the connections stayed open."""
    postgres, redis_server = small_postgres
    server = GatewayServer(tmp_path, redis_server.url, workers=2, database_url=postgres.url)
    server.start()
    try:
        gateway = routed_gateway(
            server.post, subdomain="burst", targets=[("127.0.0.1", e2e_upstream.port)]
        )
        assert Counter(statuses(server, "burst", gateway.key, 400, threads=200)) == {200: 400}
        wait_until(lambda: postgres.connections_to_database() == 0, timeout=10)
        renamed = server.admin.patch(
            f"{server.base_url}/api/v1/gateways/{gateway.id}", json={"name": "renamed"}
        )
        assert renamed.status_code == 200
        assert Counter(statuses(server, "burst", gateway.key, 400, threads=200)) == {200: 400}
        wait_until(lambda: postgres.connections_to_database() == 0, timeout=10)
    finally:
        server.stop()
