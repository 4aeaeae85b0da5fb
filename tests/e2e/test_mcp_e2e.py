"""MCP servers behind a rule, through gunicorn, with the official SDK on both sides: sessions
in Redis (continued on another node), tools of two servers under prefixes, tools per key (and
per gateway and rule), injections in arguments blocked, emails in results masked, calls limited
per tool."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.builders import created, host_target, routed_gateway
from tests.e2e.server import GatewayServer
from tests.mcp_upstream import McpUpstream

pytestmark = pytest.mark.e2e
SUBDOMAIN = "e2e-mcp"
TOOL_CALLS = 3  # per tool, per key, per minute
PLUGINS = [
    {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 0,
        "settings": {"limits": {"per_tool": {"limit": TOOL_CALLS, "window": "1m"}}},
    },
    {
        "name": "injection_protection",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"content_to_check": ["all"], "status_code": 403},
    },
    {
        "name": "data_masking",
        "stage": "post_response",
        "priority": 2,
        "settings": {"predefined_entities": [{"entity": "email"}]},
    },
]


@pytest.fixture(scope="module")
def servers():
    started = [McpUpstream(json_response=False).start(), McpUpstream(json_response=True).start()]
    yield started
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Two gateway nodes (one gunicorn worker each) sharing the database and Redis."""
    database = tmp_path_factory.mktemp("mcp-db") / "gateway.sqlite3"
    redis_url = os.environ["TEST_REDIS_URL"]
    url = f"sqlite:///{database}"
    first = GatewayServer(tmp_path_factory.mktemp("mcp-a"), redis_url, 1, url).start()
    second = GatewayServer(tmp_path_factory.mktemp("mcp-b"), redis_url, 1, url)
    try:
        second.start(migrate=False)
        yield first, second
    finally:
        second.stop()
        first.stop()


@pytest.fixture(scope="module")
def gateway(nodes, servers):
    first, _ = nodes
    targets = [
        host_target("127.0.0.1", servers[0].port, path="/mcp", kind="mcp", tool_prefix="a"),
        host_target("127.0.0.1", servers[1].port, path="/mcp", kind="mcp", tool_prefix="b"),
    ]
    routed = routed_gateway(
        first.post,
        subdomain=SUBDOMAIN,
        target_dicts=targets,
        path="/mcp",
        methods=("GET", "POST", "DELETE"),
        required_plugins=PLUGINS,
    )
    limited = created(
        first.post,
        f"/api/v1/gateways/{routed.id}/keys",
        {"name": "limited", "allowed_tools": ["a_echo", "a_who*", "b_echo"]},
    )
    return routed, limited["key"]


def client(
    node: GatewayServer, key: str, session_id: str | None = None, subdomain: str = SUBDOMAIN
) -> httpx2.AsyncClient:
    headers = {"Host": f"{subdomain}.localhost", "X-API-Key": key}
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    return httpx2.AsyncClient(headers=headers, timeout=10)


@asynccontextmanager
async def mcp_session(
    node: GatewayServer, key: str, session_id: str | None = None, subdomain: str = SUBDOMAIN
):
    """The SDK's client session through `node` (continuing `session_id` when given)."""
    async with (
        client(node, key, session_id, subdomain) as http,
        streamable_http_client(node.base_url + "/mcp", http_client=http) as streams,
        ClientSession(*streams[:2]) as session,
    ):
        yield session


async def with_session(node: GatewayServer, key: str, work, subdomain: str = SUBDOMAIN):
    async with mcp_session(node, key, subdomain=subdomain) as session:
        await session.initialize()
        return await work(session)


def run(node, key, work, subdomain: str = SUBDOMAIN):
    return asyncio.run(with_session(node, key, work, subdomain))


def test_tools_of_both_servers_listed_under_their_prefixes(nodes, gateway):
    routed, _ = gateway

    async def names(session):
        return sorted(tool.name for tool in (await session.list_tools()).tools)

    assert run(nodes[0], routed.key, names) == [
        "a_delete_all",
        "a_echo",
        "a_whoami",
        "b_delete_all",
        "b_echo",
        "b_whoami",
    ]


def test_a_key_lists_and_calls_only_its_tools(nodes, gateway):
    _, limited = gateway

    async def work(session):
        listed = sorted(tool.name for tool in (await session.list_tools()).tools)
        echoed = await session.call_tool("b_echo", {"text": "hi"})
        refused = []
        for name in ("a_delete_all", "b_whoami"):  # neither listed: guessed
            with pytest.raises(MCPError) as caught:
                await session.call_tool(name, {})
            refused.append(caught.value.error.message)
        return listed, echoed, refused

    listed, echoed, refused = run(nodes[0], limited, work)
    assert listed == ["a_echo", "a_whoami", "b_echo"]
    assert echoed.content[0].text == "echo: hi"
    assert refused == [
        "Tool not allowed for this key: a_delete_all",
        "Tool not allowed for this key: b_whoami",
    ]


def test_the_gateways_and_the_rules_tool_lists_both_apply(nodes, servers):
    """A gateway allowing `a_*` and `b_echo`, its rule `*_echo`: a key with no list of its own
    lists and calls a_echo and b_echo only."""
    targets = [
        host_target("127.0.0.1", servers[0].port, path="/mcp", kind="mcp", tool_prefix="a"),
        host_target("127.0.0.1", servers[1].port, path="/mcp", kind="mcp", tool_prefix="b"),
    ]
    scoped = routed_gateway(
        nodes[0].post,
        subdomain="e2e-mcp-scoped",
        target_dicts=targets,
        path="/mcp",
        methods=("GET", "POST", "DELETE"),
        gateway_extra={"allowed_tools": ["a_*", "b_echo"]},
        allowed_tools=["*_echo"],
    )

    async def work(session):
        listed = sorted(tool.name for tool in (await session.list_tools()).tools)
        echoed = await session.call_tool("a_echo", {"text": "hi"})
        refused = []
        for name in ("a_whoami", "b_whoami"):  # the gateway's, not the rule's; neither's
            with pytest.raises(MCPError) as caught:
                await session.call_tool(name, {})
            refused.append(caught.value.error.message)
        return listed, echoed, refused

    listed, echoed, refused = run(nodes[1], scoped.key, work, "e2e-mcp-scoped")
    assert listed == ["a_echo", "b_echo"]
    assert echoed.content[0].text == "echo: hi"
    assert refused == [
        "Tool not allowed for this key: a_whoami",
        "Tool not allowed for this key: b_whoami",
    ]


def test_an_injection_in_arguments_is_blocked(nodes, gateway):
    routed, _ = gateway

    async def work(session):
        with pytest.raises(MCPError) as caught:
            await session.call_tool("a_echo", {"text": "1' UNION SELECT password FROM users--"})
        return caught.value.error.message

    assert run(nodes[0], routed.key, work) == "Potential security threat detected"


@pytest.mark.parametrize("tool", ["a_whoami", "b_whoami"])  # an event stream, a JSON answer
def test_an_email_in_a_result_is_masked(nodes, gateway, tool):
    routed, _ = gateway

    async def work(session):
        return (await session.call_tool(tool, {})).content[0].text

    text = run(nodes[0], routed.key, work)
    assert "alice@example.com" not in text
    assert text.startswith("you are ")


def test_a_tool_called_past_its_limit_is_refused_other_tools_not(nodes, gateway):
    routed, _ = gateway

    async def work(session):
        for _ in range(TOOL_CALLS):
            assert (await session.call_tool("a_delete_all", {})).content[0].text == "deleted"
        with pytest.raises(MCPError) as caught:
            await session.call_tool("a_delete_all", {})
        other = await session.call_tool("b_delete_all", {})
        return caught.value.error.message, other.content[0].text

    assert run(nodes[0], routed.key, work) == ("per_tool rate limit exceeded", "deleted")


def test_a_session_continues_on_another_node(nodes, gateway):
    """Opened on one gateway node, continued on the other (each its own gunicorn worker)."""
    routed, _ = gateway
    first, second = nodes

    async def work():
        async with client(first, routed.key) as http:
            opened = await http.post(
                first.base_url + "/mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "test", "version": "1"},
                    },
                },
                headers={"Accept": "application/json, text/event-stream"},
            )
        session_id = opened.headers["Mcp-Session-Id"]
        async with mcp_session(second, routed.key, session_id) as session:
            return await session.call_tool("a_echo", {"text": "again"})

    assert asyncio.run(work()).content[0].text == "echo: again"
