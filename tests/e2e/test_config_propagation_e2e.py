"""A config change made through one process is seen by the very next request on every other
process (three gunicorn workers on two nodes sharing one database and the suite's Redis): a new
key admitted, a revoked key refused, a changed rule followed, with no wait in between."""

from __future__ import annotations

import os

import pytest
import requests

from tests.builders import created, routed_gateway
from tests.e2e.server import GatewayServer

pytestmark = pytest.mark.e2e

WORKERS = (2, 1)
# Every lookup is due for the Redis poll (the default waits CONFIG_CHECK_INTERVAL, 0.1 s, between
# a worker's polls): what is pinned is that the lookup that finds the poll due makes it.
ENV = {"GATEWAY_CONFIG_CHECK_INTERVAL": "0"}
ROUNDS = 4
REQUESTS_PER_NODE = 4  # each on a new connection: node a's two workers both answer some


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    redis_url = os.environ["TEST_REDIS_URL"]
    database = f"sqlite:///{tmp_path_factory.mktemp('propagation-db') / 'gateway.sqlite3'}"
    first = GatewayServer(
        tmp_path_factory.mktemp("node-a"), redis_url, WORKERS[0], database, **ENV
    ).start()
    second = GatewayServer(
        tmp_path_factory.mktemp("node-b"), redis_url, WORKERS[1], database, **ENV
    ).start(migrate=False)
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def gateway(nodes, e2e_upstream):
    return routed_gateway(
        nodes[0].post, subdomain="propagation", targets=[("127.0.0.1", e2e_upstream.port)]
    )


def statuses(nodes, key: str, path: str = "/x") -> set[int]:
    """The statuses of REQUESTS_PER_NODE requests on each node, each on a new connection."""
    return {
        node.proxy("propagation", path, key=key, session=requests.Session()).status_code
        for node in nodes
        for _ in range(REQUESTS_PER_NODE)
    }


def test_a_new_key_is_admitted_and_a_revoked_one_refused_by_the_next_request(nodes, gateway):
    assert statuses(nodes, gateway.key) == {200}  # every worker has the gateway cached
    keys = f"/api/v1/gateways/{gateway.id}/keys"
    for round_ in range(ROUNDS):
        key = created(nodes[round_ % 2].post, keys, {"name": f"new-{round_}"})
        assert statuses(nodes, key["key"]) == {200}, round_
        writer = nodes[(round_ + 1) % 2]
        revoked = writer.admin.delete(f"{writer.base_url}{keys}/{key['id']}", timeout=10)
        assert revoked.status_code == 204
        assert statuses(nodes, key["key"]) == {401}, round_


def test_a_changed_rule_is_followed_by_the_next_request(nodes, gateway):
    assert statuses(nodes, gateway.key, "/x") == {200}
    rule = f"/api/v1/gateways/{gateway.id}/rules/{gateway.rule['id']}"
    for round_, (old, new) in enumerate([("/x", "/moved"), ("/moved", "/x")] * 2):
        writer = nodes[round_ % 2]
        moved = writer.admin.patch(f"{writer.base_url}{rule}", json={"path": new}, timeout=10)
        assert moved.status_code == 200, moved.text
        assert statuses(nodes, gateway.key, new) == {200}, round_
        assert statuses(nodes, gateway.key, old) == {404}, round_
