"""MCP rules in process: the admin shape (targets of kind mcp, keys' allowed_tools), the gateway's
sessions (bound to the key that opened them), a tool revoked on the next call, the key and the
client's headers never sent to a server, tool globs; each tool call counted, logged and traced."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY

from observability.metrics import pending
from observability.tracing.providers import tracers
from proxy.mcp.tools import tool_allowed
from tests.builders import host_target
from tests.mcp_upstream import McpUpstream
from tests.observability.collector import CLIENT, INTERNAL, STATUS_ERROR, Collector, traceparent

HOST = "tools.localhost"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


@pytest.fixture(scope="module")
def mcp_server():
    server = McpUpstream(json_response=True).start()
    yield server
    server.stop()


@pytest.fixture
def mcp_gateway(route, mcp_server):
    def build(port: int = mcp_server.port, **target):
        return route(
            subdomain="tools",
            targets=[host_target("127.0.0.1", port, path="/mcp", kind="mcp", **target)],
            path="/mcp",
            methods=("GET", "POST", "DELETE"),
        )

    return build


def rpc(client, key: str, message: dict, session: str | None = None, **headers):
    extra = {"HTTP_MCP_SESSION_ID": session} if session else {}
    return client.post(
        "/mcp",
        json.dumps(message),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=key,
        HTTP_ACCEPT="application/json, text/event-stream",
        **extra,
        **headers,
    )


def call(id: int, name: str, arguments: dict | None = None) -> dict:
    params = {"name": name, "arguments": arguments or {}}
    return {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}


def opened(client, key: str) -> str:
    response = rpc(client, key, INITIALIZE)
    assert response.status_code == 200, response.content
    return response["Mcp-Session-Id"]


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"host": "127.0.0.1", "port": 9, "tool_prefix": "a"}, "tool_prefix"),
        ({"host": "127.0.0.1", "port": 9, "kind": "ftp"}, "kind"),
        ({"host": "127.0.0.1", "port": 9, "kind": "mcp", "tool_prefix": "a b"}, "tool_prefix"),
    ],
)
def test_mcp_target_fields_are_validated(api, target, field):
    gateway = api.post("/api/v1/gateways", {"name": "g", "subdomain": "g"}, format="json").json()
    response = api.post(
        f"/api/v1/gateways/{gateway['id']}/upstreams",
        {"name": "u", "targets": [target]},
        format="json",
    )
    assert response.status_code == 400
    assert field in response.json()["fields"]["targets"]["0"]


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ([{"host": "a.test", "kind": "mcp"}, {"host": "b.test"}], "kind"),
        ([{"host": "a.test", "kind": "mcp"}, {"host": "b.test", "kind": "mcp"}], "tool_prefix"),
    ],
)
def test_an_upstream_is_all_mcp_servers_each_prefixed_or_none(api, targets, field):
    gateway = api.post("/api/v1/gateways", {"name": "g", "subdomain": "g"}, format="json").json()
    response = api.post(
        f"/api/v1/gateways/{gateway['id']}/upstreams",
        {"name": "u", "targets": targets},
        format="json",
    )
    assert response.status_code == 400
    assert field in json.dumps(response.json()["fields"]["targets"])


def test_allowed_tools_are_validated(api):
    gateway = api.post("/api/v1/gateways", {"name": "g", "subdomain": "g"}, format="json").json()
    response = api.post(
        f"/api/v1/gateways/{gateway['id']}/keys",
        {"name": "k", "allowed_tools": ["ok_*", "no spaces"]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["allowed_tools"]


def test_a_revoked_tool_is_refused_on_the_next_call(api, mcp_gateway, proxy_client):
    gateway = mcp_gateway()
    session = opened(proxy_client, gateway.key)
    answer = rpc(proxy_client, gateway.key, call(2, "echo", {"text": "hi"}), session)
    assert answer.json()["result"]["content"][0]["text"] == "echo: hi"
    key_id = api.get(f"/api/v1/gateways/{gateway.id}/keys").json()["results"][0]["id"]
    patched = api.patch(
        f"/api/v1/gateways/{gateway.id}/keys/{key_id}", {"allowed_tools": ["who*"]}, format="json"
    )
    assert patched.status_code == 200, patched.content

    refused = rpc(proxy_client, gateway.key, call(3, "echo", {"text": "hi"}), session)
    listed = rpc(
        proxy_client, gateway.key, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, session
    )

    assert refused.status_code == 403
    assert refused.json() == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {"code": -32001, "message": "Tool not allowed for this key: echo"},
    }
    assert [tool["name"] for tool in listed.json()["result"]["tools"]] == ["whoami"]


def test_a_session_is_continued_only_with_the_key_that_opened_it(api, mcp_gateway, proxy_client):
    gateway = mcp_gateway()
    other = api.post(f"/api/v1/gateways/{gateway.id}/keys", {"name": "other"}, format="json")
    session = opened(proxy_client, gateway.key)

    stolen = rpc(proxy_client, other.json()["key"], call(2, "echo", {"text": "x"}), session)
    missing = rpc(proxy_client, gateway.key, call(3, "echo", {"text": "x"}))

    assert stolen.status_code == 404
    assert stolen.json()["error"]["message"] == "Session not found"
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == -32600


def test_an_unknown_tool_and_a_batch_are_json_rpc_errors(mcp_gateway, proxy_client):
    gateway = mcp_gateway()
    session = opened(proxy_client, gateway.key)

    unknown = rpc(proxy_client, gateway.key, {**call(2, "nope"), "params": {}}, session)
    batch = rpc(proxy_client, gateway.key, [call(3, "echo")], session)  # type: ignore[arg-type]

    assert unknown.json()["error"] == {"code": -32602, "message": "Unknown tool: None"}
    assert batch.status_code == 400
    assert batch.json()["error"]["code"] == -32600


def test_the_server_gets_its_credentials_never_the_clients_key(mcp_gateway, upstream, proxy_client):
    """An echoing upstream as the MCP server: what it was sent is recorded."""
    gateway = mcp_gateway(
        upstream.port, credentials={"header_name": "X-Server-Token", "header_value": "s3cret"}
    )
    rpc(proxy_client, gateway.key, INITIALIZE, HTTP_COOKIE="sid=1", HTTP_AUTHORIZATION="Bearer x")

    seen = upstream.seen[-1].headers
    assert seen["X-Server-Token"] == "s3cret"
    for name in ("X-API-Key", "Authorization", "Cookie", "X-Forwarded-For"):
        assert name not in seen


@pytest.mark.parametrize(
    ("name", "allowed", "expected"),
    [
        ("a_echo", None, True),
        ("a_echo", (), False),
        ("a_echo", ("a_*",), True),
        ("b_echo", ("a_*",), False),
        ("a_echo", ("a_ech",), False),
        ("a?", ("a?",), True),
        ("ab", ("a?",), False),
        ("a[b]", ("a[b]*",), True),
    ],
)
def test_tool_globs(name, allowed, expected):
    assert tool_allowed(name, allowed) is expected


def calls_counted(outcome: str, tool: str) -> float:
    pending.flush()
    labels = {"gateway": "tools", "server": "trace", "tool": tool, "outcome": outcome}
    return REGISTRY.get_sample_value("gateway_mcp_tool_calls_total", labels) or 0.0


@pytest.fixture
def collector():
    server = Collector().start()
    yield server
    tracers.reset()
    server.stop()


def test_each_tool_call_is_counted_logged_and_traced(
    api, mcp_gateway, proxy_client, collector, settings, tmp_path
):
    log = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(log)}
    gateway = mcp_gateway(tool_prefix="trace")
    telemetry = {"exporters": [{"name": "otlp", "settings": {"endpoint": collector.url}}]}
    patched = api.patch(f"/api/v1/gateways/{gateway.id}", {"telemetry": telemetry}, format="json")
    assert patched.status_code == 200, patched.content
    key_id = api.get(f"/api/v1/gateways/{gateway.id}/keys").json()["results"][0]["id"]
    api.patch(
        f"/api/v1/gateways/{gateway.id}/keys/{key_id}",
        {"allowed_tools": ["trace_echo"]},
        format="json",
    )
    counted = [
        ("allowed", "trace_echo"),
        ("error", "trace_echo"),
        ("refused", "trace_whoami"),
        ("refused", "other"),
    ]
    before = [calls_counted(*labels) for labels in counted]
    session = opened(proxy_client, gateway.key)
    parent, trace_id, _ = traceparent()

    answers = [
        rpc(proxy_client, gateway.key, message, session, HTTP_TRACEPARENT=parent)
        for message in (
            call(2, "trace_echo", {"text": "hi"}),
            call(3, "trace_echo"),  # no text: the server's error
            call(4, "trace_whoami"),  # not the key's
            call(5, "trace_" + "x" * 5000),  # a client's name: logged cut, counted as other
        )
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 403, 403]
    logged = [json.loads(line).get("mcp") for line in log.read_text().splitlines()][-4:]
    assert [(e["server"], e["tool"], e["outcome"]) for e in logged] == [
        ("trace", "trace_echo", "allowed"),
        ("trace", "trace_echo", "error"),
        ("trace", "trace_whoami", "refused"),
        ("trace", ("trace_" + "x" * 5000)[:128], "refused"),
    ]
    assert all(e["duration_ms"] > 0 for e in logged)
    after = [calls_counted(*labels) for labels in counted]
    assert [now - was for now, was in zip(after, before, strict=True)] == [1] * 4
    tracers.flush()
    traced = collector.await_trace(trace_id, 4 * 2 + 2)  # SERVER and tool spans, CLIENT ones
    assert len([s for s in traced if s.kind == CLIENT]) == 2  # the calls the server got
    spans = [s for s in traced if s.kind == INTERNAL]
    assert sorted((s.name, s.attributes["gateway.mcp.outcome"]) for s in spans) == [
        ("execute_tool trace_echo", "allowed"),
        ("execute_tool trace_echo", "error"),
        ("execute_tool trace_whoami", "refused"),
        (f"execute_tool {('trace_' + 'x' * 5000)[:128]}", "refused"),
    ]
    assert {s.status for s in spans if s.attributes["gateway.mcp.outcome"] == "error"} == {
        STATUS_ERROR
    }
    assert {len(s.attributes["gen_ai.tool.name"]) for s in spans} == {10, 12, 128}
