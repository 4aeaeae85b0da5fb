"""Dollar budgets on two gateway nodes (gunicorn) sharing PostgreSQL and redis-server: 50
concurrent requests never spend past a budget worth 10 of them, the spend API matches what the
mock provider metered to the cent, and a budget's window resets."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.builders import created, provider_target, routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.services import PostgresServer, RedisServer, require_services, wait_until
from tests.llm_mocks import replies
from tests.llm_mocks.server import LLMMockServer

pytestmark = pytest.mark.e2e

MODEL = "gpt-4o-mini"
PRICING = {"input_per_million": 1000.0, "output_per_million": 2000.0}
COST = (replies.PROMPT_TOKENS * 1000 + replies.COMPLETION_TOKENS * 2000) / 1_000_000
# 44 characters are estimated at 11 prompt tokens; with max_tokens 7 the largest cost reserved
# is what the mock's answer (11 + 7 tokens) costs.
CHAT = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "x" * 4 * replies.PROMPT_TOKENS}],
    "max_tokens": replies.COMPLETION_TOKENS,
}
CONCURRENT = 50
AFFORDABLE = 10


@pytest.fixture(scope="module")
def mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    require_services()
    postgres = PostgresServer(max_connections=50).start()
    redis_server = RedisServer().start()
    servers = [
        GatewayServer(
            tmp_path_factory.mktemp(f"budget-node-{name}"),
            redis_server.url,
            workers=2,
            database_url=postgres.url,
        )
        for name in ("a", "b")
    ]
    try:
        servers[0].manage("migrate", "--noinput")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda node: node.start(migrate=False), servers))
        yield servers
    finally:
        for node in servers:
            if node.process:
                node.stop()
        redis_server.stop()
        postgres.stop()


@pytest.fixture(scope="module")
def gateway(nodes, mock):
    return routed_gateway(
        nodes[0].post,
        subdomain="budget",
        target_dicts=[
            provider_target(
                mock.port, model=MODEL, credentials={"api_key": replies.API_KEY}, pricing=PRICING
            )
        ],
        path="/v1/*",
    )


def budget_key(nodes, gateway, **budget) -> dict:
    return created(nodes[0].post, f"/api/v1/gateways/{gateway.id}/keys", {"name": "b", **budget})


def chat(node: GatewayServer, key: str) -> int:
    try:
        return node.proxy(
            "budget", "/v1/chat/completions", method="POST", key=key, json=CHAT
        ).status_code
    except requests.RequestException:
        return 599


def test_concurrent_requests_on_both_nodes_never_spend_past_the_budget(nodes, gateway, mock):
    key = budget_key(nodes, gateway, max_budget_usd=round(AFFORDABLE * COST, 6))
    seen_before = len(mock.seen)
    barrier = threading.Barrier(CONCURRENT)

    def one(i: int) -> int:
        barrier.wait()
        return chat(nodes[i % len(nodes)], key["key"])

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        statuses = list(pool.map(one, range(CONCURRENT)))
    metered = len(mock.seen) - seen_before  # answers the provider gave (each 11 + 7 tokens)
    assert sorted(set(statuses)) == [200, 402]
    assert statuses.count(200) == metered == AFFORDABLE  # admitted spend == the budget, no more
    assert statuses.count(402) == CONCURRENT - AFFORDABLE
    for node in nodes:  # both nodes read the same spend, flushed to PostgreSQL
        spent = node.admin.get(
            f"{node.base_url}/api/v1/gateways/{gateway.id}/keys/{key['id']}/spend", timeout=10
        ).json()
        assert round(spent["total"]["cost_usd"], 2) == round(metered * COST, 2)
        assert abs(spent["total"]["cost_usd"] - metered * COST) < 1e-9
        assert spent["total"]["requests"] == metered
        assert spent["budget"]["remaining_usd"] == pytest.approx(0, abs=1e-9)
    by_model = (
        nodes[1]
        .admin.get(
            f"{nodes[1].base_url}/api/v1/gateways/{gateway.id}/spend",
            params={"group_by": "model"},
            timeout=10,
        )
        .json()
    )
    assert by_model["spend"][0]["model"] == MODEL


def test_a_budgets_window_resets(nodes, gateway):
    """A budget of one request per 3-second window: refused once spent, admitted again in the
    next window (awaited by polling, on the other node)."""
    key = budget_key(nodes, gateway, max_budget_usd=round(COST, 6), budget_duration="3s")["key"]
    statuses = []
    while 402 not in statuses:  # a window boundary may fall between two requests
        statuses.append(chat(nodes[0], key))
        assert len(statuses) <= 4, statuses
    assert statuses[-2:] == [200, 402]
    waited = wait_until(lambda: chat(nodes[1], key) == 200, timeout=10, interval=0.2)
    assert waited <= 5  # within the next window (3 s), and the requests polling it
    assert chat(nodes[0], key) == 402  # the new window is spent too
