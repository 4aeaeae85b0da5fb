"""Replays of the content-security attacks on streams and chains (items 4, 9 and 10): streamed
answers of any text type are masked like buffered ones, binary ones pass untouched; a chain
that lets an outbound guardrail see text before a rewrite is refused at write; a chunk hook
that crashes cuts the stream unless its plugin fails open."""

from __future__ import annotations

import json

import pytest
from requests.structures import CaseInsensitiveDict

from plugins.models import PluginConfig
from plugins.registry import registry
from plugins.sdk.context import ResponseContext
from plugins.sdk.sse import SSEParser
from tests.guardrail_mocks import GuardrailMock
from tests.plugins.helpers import make_plugin, make_request

HOST = "api.localhost"
EMAIL = "john.doe@example.com"
SPLIT = ["reach me at jo", "hn.doe@exa", "mple.com today"]
MASKED = "reach me at [MASKED_EMAIL] today"
MASK_EMAILS = {"predefined_entities": [{"entity": "email"}]}
GUARDRAIL_KEY = "guardrail-key"


def masking(stage: str = "post_response", priority: int = 1, **options) -> dict:
    return {
        "name": "data_masking",
        "stage": stage,
        "priority": priority,
        "settings": MASK_EMAILS,
        **options,
    }


def guardrail(url: str, priority: int = 2, **options) -> dict:
    settings = {
        "endpoint": f"{url}/verdict",
        "headers": {"Authorization": f"Bearer {GUARDRAIL_KEY}"},
        "field_maps": [{"source": "input", "destination": "text"}],
        "conditions": [
            {"field": "result.flagged", "operator": "eq", "value": True, "stop_flow": True}
        ],
    }
    return {
        "name": "external_api",
        "stage": "pre_request",
        "priority": priority,
        "settings": settings,
        **options,
    }


def scripted(proxy_client, gateway, script: dict):
    return proxy_client.post(
        "/scripted",
        json.dumps(script),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )


def events(body: bytes) -> list:
    parser = SSEParser()
    return parser.feed(body) + parser.finish()


def openai_chunk(text: str) -> str:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": None}
    return f"data: {json.dumps({'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"


def broken_transfer(response, match: str) -> bytes:
    """What the client read of a streamed answer before its transfer broke (it must break)."""
    received: list[bytes] = []

    def read() -> None:
        received.extend(response.streaming_content)

    with pytest.raises(ConnectionAbortedError, match=match):
        read()
    return b"".join(received)


def fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["fields"]


@pytest.fixture
def service():
    mock = GuardrailMock(key=GUARDRAIL_KEY).start()
    yield mock
    mock.stop()


# Item 4: streamed answers of any text type are masked; binary types pass untouched.

TEXT_STREAM_TYPES = [
    "application/javascript",
    "application/yaml",
    "application/graphql",
    "application/rss+xml",
    "image/svg+xml",
    None,  # no Content-Type: text when it decodes as UTF-8
]


@pytest.mark.parametrize("content_type", TEXT_STREAM_TYPES)
def test_item4_a_streamed_answer_of_any_text_type_is_masked(content_type, route, proxy_client):
    gateway = route(plugin_chain=[masking()])
    response = scripted(proxy_client, gateway, {"chunks": SPLIT, "content_type": content_type})
    body = b"".join(response.streaming_content)
    assert body.decode() == MASKED


def test_item4_a_binary_stream_passes_byte_identical(route, proxy_client):
    gateway = route(plugin_chain=[masking()])
    raw = ["\x89PNG\r\n\x1a\n\x00\xff", f"{EMAIL}\xfe\x80"]
    response = scripted(proxy_client, gateway, {"raw_chunks": raw, "content_type": "image/png"})
    assert b"".join(response.streaming_content) == "".join(raw).encode("latin-1")


def test_item4_an_undecodable_stream_without_content_type_is_cut(route, proxy_client):
    gateway = route(plugin_chain=[masking()])
    raw = ["fine so far ", f"\xff\xfe then {EMAIL}"]
    response = scripted(proxy_client, gateway, {"raw_chunks": raw, "content_type": None})
    assert EMAIL.encode() not in broken_transfer(response, "data masking failed")


@pytest.mark.parametrize("content_type", ["application/x-yaml", "application/toml", ""])
def test_item4_a_buffered_answer_of_any_text_type_is_masked(content_type):
    plugin = make_plugin("data_masking", MASK_EMAILS, stage="post_response")
    headers = {"Content-Type": content_type} if content_type else {}
    response = ResponseContext(200, CaseInsensitiveDict(headers), body=f"to: {EMAIL}".encode())
    plugin.post_response(make_request(), response)
    assert response.body == b"to: [MASKED_EMAIL]"


# Item 9: no outbound call sees request text before a rewrite.


def test_item9_masking_parallel_beside_a_guardrail_is_refused(service, route, api):
    gateway = route()
    chain = [
        masking("pre_request", priority=1, parallel=True),
        guardrail(service.url, priority=1, parallel=True),
    ]
    path = f"/api/v1/gateways/{gateway.gateway['id']}/rules/{gateway.rule['id']}"
    message = " ".join(
        fields(api.patch(path, {"plugin_chain": chain}, format="json"))["plugin_chain"]
    )
    assert "data_masking" in message
    assert "external_api" in message


def test_item9_a_guardrail_prioritised_before_masking_is_refused(service, api, upstream):
    chain = [masking("pre_request", priority=5), guardrail(service.url, priority=0)]
    payload = {"name": "g", "subdomain": "g", "required_plugins": chain}
    message = " ".join(
        fields(api.post("/api/v1/gateways", payload, format="json"))["required_plugins"]
    )
    assert "data_masking" in message
    assert "external_api" in message


def test_item9_a_gateway_guardrail_before_a_rule_masking_is_refused(service, route, api):
    gateway = route(required_plugins=[guardrail(service.url)])
    path = f"/api/v1/gateways/{gateway.gateway['id']}/rules/{gateway.rule['id']}"
    response = api.patch(path, {"plugin_chain": [masking("pre_request")]}, format="json")
    message = " ".join(fields(response)["plugin_chain"])
    assert "data_masking" in message
    assert "external_api" in message
    # ... and the other way round: the guardrail added to a gateway whose rule masks.
    other = route(subdomain="other", plugin_chain=[masking("pre_request")])
    path = f"/api/v1/gateways/{other.gateway['id']}"
    response = api.patch(path, {"required_plugins": [guardrail(service.url)]}, format="json")
    message = " ".join(fields(response)["required_plugins"])
    assert "data_masking" in message
    assert "external_api" in message


def test_item9_the_plugins_endpoint_refuses_a_guardrail_beside_sanitising(service, route, api):
    gateway = route()
    sanitize = {
        "name": "code_sanitation",
        "stage": "pre_request",
        "priority": 1,
        "parallel": True,
        "settings": {
            "apply_all_languages": True,
            "content_to_check": ["body"],
            "action": "sanitize",
        },
    }
    payload = {
        "type": "rule",
        "id": gateway.rule["id"],
        "plugins": [sanitize, guardrail(service.url, priority=1, parallel=True)],
    }
    message = json.dumps(fields(api.post("/api/v1/plugins", payload, format="json")))
    assert "code_sanitation" in message
    assert "external_api" in message
    payload["plugins"][0]["settings"]["action"] = "block"  # blocking rewrites nothing
    assert api.post("/api/v1/plugins", payload, format="json").status_code == 204


def assert_guardrail_saw_masked_text(service, proxy_client, gateway) -> None:
    """A chat prompt with an email through `gateway` is answered, and the guardrail service
    received it masked."""
    prompt = {"model": "m", "messages": [{"role": "user", "content": f"mail {EMAIL} now"}]}
    response = proxy_client.post(
        "/v1/chat/completions",
        json.dumps(prompt),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert response.status_code == 200
    sent = json.dumps(service.calls[0].body)
    assert "[MASKED_EMAIL]" in sent
    assert EMAIL not in sent


def test_item9_the_guardrail_service_receives_masked_text(service, route, proxy_client):
    gateway = route(plugin_chain=[masking("pre_request", priority=1), guardrail(service.url)])
    assert_guardrail_saw_masked_text(service, proxy_client, gateway)


def test_item9_the_django_admin_refuses_a_guardrail_beside_masking(service, admin_client):
    rows = [
        masking("pre_request", priority=1, parallel="on"),
        guardrail(service.url, priority=1, parallel="on"),
    ]
    data = {"name": "admin-made", "subdomain": "admin-made", "status": "active"}
    data.update({"required_plugins-TOTAL_FORMS": "2", "required_plugins-INITIAL_FORMS": "0"})
    for index, row in enumerate(rows):
        row = {**row, "enabled": "on", "position": "0", "settings": json.dumps(row["settings"])}
        data.update({f"required_plugins-{index}-{key}": value for key, value in row.items()})
    response = admin_client.post("/admin/gateways/gateway/add/", data)
    assert response.status_code == 200  # the form again, with its errors
    page = response.content.decode().replace("&#x27;", "'")
    assert "'data_masking' rewrites the request" in page
    assert "'external_api'" in page
    assert not PluginConfig.objects.exists()


def test_item9_a_chain_stored_before_the_rule_still_masks_first(service, route, proxy_client):
    """A stored chain that breaks the rule (written before it existed: straight to the rows)
    runs with the rewriter first: the guardrail service still receives masked text."""
    gateway = route()
    for entry in [
        guardrail(service.url, priority=1, parallel=True),
        masking("pre_request", priority=1, parallel=True),
    ]:
        settings = registry.get(entry["name"]).validated_settings(entry["settings"])
        PluginConfig.objects.create(rule_id=gateway.rule["id"], **{**entry, "settings": settings})
    assert_guardrail_saw_masked_text(service, proxy_client, gateway)


# Item 10: a chunk hook that crashes cuts the stream unless its plugin fails open.

CHUNKS = [openai_chunk("fine "), openai_chunk("then boom"), openai_chunk(" after")]


@pytest.fixture
def access_log(settings, tmp_path):
    """The verdicts of each access-log line written during the test."""
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}

    def verdicts() -> list[list[str]]:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        return [line["verdicts"] for line in lines if line["type"] == "request"]

    return verdicts


def test_item10_a_crashing_chunk_hook_cuts_the_stream(
    sample_plugins, route, proxy_client, access_log
):
    crasher = {"name": "chunk_crasher", "stage": "post_response", "priority": 1}
    gateway = route(plugin_chain=[crasher])
    script = {"chunks": [*CHUNKS, "data: [DONE]\n\n"]}
    body = b"".join(scripted(proxy_client, gateway, script).streaming_content)
    assert b"fine " in body
    assert b"boom" not in body
    assert b"after" not in body
    errors = [event.json()["error"] for event in events(body) if "error" in (event.json() or {})]
    assert errors == [{"message": "chunk hook failed", "type": "chunk_crasher"}]
    assert access_log()[-1] == ["chunk_crasher:stream:fail"]


def test_item10_a_cut_anthropic_stream_ends_with_its_error_event(
    sample_plugins, route, proxy_client
):
    crasher = {"name": "chunk_crasher", "stage": "post_response", "priority": 1}
    gateway = route(plugin_chain=[crasher])
    start = {"type": "message_start", "message": {"id": "msg_1", "content": []}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    script = {
        "chunks": [
            f"event: message_start\ndata: {json.dumps(start)}\n\n",
            f"event: content_block_delta\ndata: {json.dumps({**delta, 'text': 'boom'})}\n\n",
        ]
    }
    body = b"".join(scripted(proxy_client, gateway, script).streaming_content)
    last = events(body)[-1]
    assert b"boom" not in body
    assert (last.event, last.json()["error"]["type"]) == ("error", "chunk_crasher")


def test_item10_a_crashing_chunk_hook_cuts_a_plain_text_stream(sample_plugins, route, proxy_client):
    crasher = {"name": "chunk_crasher", "stage": "post_response", "priority": 1}
    gateway = route(plugin_chain=[crasher])
    script = {"chunks": ["fine ", "then boom", " after"], "content_type": "text/plain"}
    response = scripted(proxy_client, gateway, script)
    assert broken_transfer(response, "chunk hook failed") == b"fine "


def test_item10_a_chunk_hook_that_fails_open_passes_the_chunk(
    sample_plugins, route, proxy_client, access_log
):
    crasher = {
        "name": "chunk_crasher",
        "stage": "post_response",
        "priority": 1,
        "settings": {"fail_open": True},
    }
    gateway = route(plugin_chain=[crasher])
    script = {"chunks": [*CHUNKS, "data: [DONE]\n\n"]}
    body = b"".join(scripted(proxy_client, gateway, script).streaming_content)
    assert body == "".join([*CHUNKS, "data: [DONE]\n\n"]).encode()
    assert access_log()[-1] == [
        "chunk_crasher:stream:fail_open",
        "chunk_crasher:post_response:continue",
    ]
