"""Passive health shared through Redis by gunicorn workers and nodes: a target one process cooled
down is skipped by every other one."""

from __future__ import annotations

import os

import pytest

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer
from tests.openai_upstream import OpenAIServer

pytestmark = pytest.mark.e2e

BODY = {"model": "gpt-a", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """Two gunicorn nodes (2 workers and 1) on one SQLite database and the suite's Redis."""
    redis_url = os.environ["TEST_REDIS_URL"]
    database = f"sqlite:///{tmp_path_factory.mktemp('shared-db') / 'gateway.sqlite3'}"
    first = GatewayServer(
        tmp_path_factory.mktemp("node-a"), redis_url, workers=2, database_url=database
    ).start()
    second = GatewayServer(
        tmp_path_factory.mktemp("node-b"), redis_url, workers=1, database_url=database
    ).start(migrate=False)
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def providers():
    servers = [OpenAIServer().start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


def chat(node: GatewayServer, key: str) -> tuple[int, str]:
    response = node.proxy(
        "shared-health", "/v1/chat/completions", method="POST", key=key, json=BODY
    )
    return response.status_code, response.headers.get("X-Gateway-Model", "")


def test_a_target_cooled_down_by_one_process_is_skipped_by_all(two_nodes, providers):
    first, second = two_nodes
    failing, backup = providers
    failing.behaviour.status = 503
    gateway = routed_gateway(
        first.post,
        subdomain="shared-health",
        path="/v1/*",
        targets=[failing.target("gpt-a"), backup.target("gpt-b", priority=1)],
        health_checks={"passive": True, "threshold": 1, "interval": 60},
    )
    assert chat(first, gateway.key) == (200, "gpt-b")  # failed over; the failure cools it down
    assert len(failing.seen) == 1
    answers = [chat(node, gateway.key) for node in (first, second) for _ in range(8)]
    assert set(answers) == {(200, "gpt-b")}
    assert len(failing.seen) == 1  # no other worker of either node tried it
    assert len(backup.seen) == 17
