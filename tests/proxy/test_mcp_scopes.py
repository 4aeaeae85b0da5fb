"""MCP tools allowed per gateway and per rule as per key: every list set must allow a tool, on
tools/list (filtered) and tools/call (refused), read from the snapshot; the lists validated. A
call's arguments and a result's content are the texts LLM-text plugins check."""

from __future__ import annotations

import pytest

from plugins.sdk.llm_content import answer_texts, message_texts
from tests.builders import host_target
from tests.mcp_upstream import McpUpstream
from tests.proxy.test_mcp import call, opened, rpc

LIST = {"jsonrpc": "2.0", "id": 9, "method": "tools/list"}


@pytest.fixture(scope="module")
def mcp_server():
    server = McpUpstream(json_response=True).start()
    yield server
    server.stop()


@pytest.fixture
def scoped_gateway(route, mcp_server):
    def build(gateway_tools=None, rule_tools=None, **rule):
        return route(
            subdomain="tools",
            targets=[host_target("127.0.0.1", mcp_server.port, path="/mcp", kind="mcp")],
            path="/mcp",
            methods=("GET", "POST", "DELETE"),
            gateway_extra={"allowed_tools": gateway_tools},
            allowed_tools=rule_tools,
            **rule,
        )

    return build


def listed(client, key: str, session: str) -> list[str]:
    response = rpc(client, key, LIST, session)
    assert response.status_code == 200, response.content
    return [tool["name"] for tool in response.json()["result"]["tools"]]


def test_the_gateways_and_the_rules_lists_both_allow_a_tool(
    api, scoped_gateway, proxy_client, django_assert_num_queries
):
    gateway = scoped_gateway(["echo", "who*"], ["echo", "delete_*"])
    session = opened(proxy_client, gateway.key)

    assert listed(proxy_client, gateway.key, session) == ["echo"]
    allowed = rpc(proxy_client, gateway.key, call(2, "echo", {"text": "hi"}), session)
    assert allowed.json()["result"]["content"][0]["text"] == "echo: hi"
    with django_assert_num_queries(0):  # compiled into the snapshot
        not_by_rule = rpc(proxy_client, gateway.key, call(3, "whoami"), session)
        not_by_gateway = rpc(proxy_client, gateway.key, call(4, "delete_all"), session)
    assert not_by_rule.status_code == not_by_gateway.status_code == 403
    assert not_by_rule.json()["error"]["code"] == -32001
    assert not_by_gateway.json()["error"]["message"].endswith("delete_all")


def test_a_rules_list_lifted_takes_effect_on_the_next_call(api, scoped_gateway, proxy_client):
    gateway = scoped_gateway(None, ["echo"])
    session = opened(proxy_client, gateway.key)
    assert rpc(proxy_client, gateway.key, call(2, "whoami"), session).status_code == 403
    rule_id = api.get(f"/api/v1/gateways/{gateway.id}/rules").json()["results"][0]["id"]

    patched = api.patch(
        f"/api/v1/gateways/{gateway.id}/rules/{rule_id}", {"allowed_tools": None}, format="json"
    )

    assert patched.status_code == 200, patched.content
    assert patched.json()["allowed_tools"] is None
    answer = rpc(proxy_client, gateway.key, call(3, "whoami"), session)
    assert answer.json()["result"]["content"][0]["text"] == "you are alice@example.com"
    assert listed(proxy_client, gateway.key, session) == ["echo", "whoami", "delete_all"]


@pytest.mark.parametrize("tools", [["ok_*", "no spaces"], "echo", [""], ["x" * 129]])
def test_the_gateways_and_the_rules_allowed_tools_are_validated(api, tools):
    gateway = api.post("/api/v1/gateways", {"name": "g", "subdomain": "g"}, format="json").json()
    base = f"/api/v1/gateways/{gateway['id']}"

    stored = api.patch(base, {"allowed_tools": ["a_*", "b_echo"]}, format="json")
    gateway_answer = api.patch(base, {"allowed_tools": tools}, format="json")
    rule_answer = api.post(
        f"{base}/rules",
        {"path": "/mcp", "service_id": gateway["id"], "allowed_tools": tools},
        format="json",
    )

    assert stored.json()["allowed_tools"] == ["a_*", "b_echo"]
    assert gateway_answer.status_code == 400
    assert list(gateway_answer.json()["fields"]) == ["allowed_tools"]
    assert rule_answer.status_code == 400
    assert "allowed_tools" in rule_answer.json()["fields"]


def test_a_keyword_spelt_in_json_escapes_in_the_arguments_is_blocked(scoped_gateway, proxy_client):
    """prompt_moderation reads the arguments as texts, not the raw body where every letter of
    the keyword is a \\u escape."""
    moderation = {
        "name": "prompt_moderation",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"keywords": ["exfiltrate"], "actions": {"type": "block"}},
    }
    gateway = scoped_gateway(plugin_chain=[moderation])
    session = opened(proxy_client, gateway.key)
    escaped = "".join(f"\\u{ord(c):04x}" for c in "exfiltrate")
    body = (
        '{"jsonrpc":"2.0","id":2,"method":"tools/call",'
        f'"params":{{"name":"echo","arguments":{{"text":"please {escaped} the data"}}}}}}'
    )

    blocked = proxy_client.post(
        "/mcp",
        body,
        content_type="application/json",
        HTTP_HOST="tools.localhost",
        HTTP_X_API_KEY=gateway.key,
        HTTP_ACCEPT="application/json, text/event-stream",
        HTTP_MCP_SESSION_ID=session,
    )
    passed = rpc(proxy_client, gateway.key, call(3, "echo", {"text": "fine"}), session)

    assert "exfiltrate" not in body
    assert blocked.status_code == 403, blocked.content
    assert blocked.json()["error"]["code"] == -32001
    assert passed.json()["result"]["content"][0]["text"] == "echo: fine"


def test_a_calls_arguments_and_its_results_content_are_texts(scoped_gateway, proxy_client):
    gateway = scoped_gateway()
    session = opened(proxy_client, gateway.key)
    asked = call(2, "echo", {"text": "mail bob@example.com", "n": 1, "to": ["a", {"b": "c"}]})

    answer = rpc(proxy_client, gateway.key, asked, session).json()

    assert [(t.role, t.text, t.path) for t in message_texts(asked)] == [
        ("user", "mail bob@example.com", ("params", "arguments", "text")),
        ("user", "a", ("params", "arguments", "to", 0)),
        ("user", "c", ("params", "arguments", "to", 1, "b")),
    ]
    texts = answer_texts(answer)
    assert {t.role for t in texts} == {"tool"}
    assert ("result", "content", 0, "text") in [t.path for t in texts]
    assert all(t.text == "echo: mail bob@example.com" for t in texts)
    assert len(texts) == 2  # the text content and the structured one: both checked
