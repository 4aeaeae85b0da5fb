"""Guardrail plugins through the real proxy, a real upstream and local services speaking the
real APIs: clean prompts pass, flagged ones never reach the upstream, slow or dead services
follow on_error, answers are checked before they are sent, streams are cut at a hit."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from requests.structures import CaseInsensitiveDict

from plugins.sdk.context import Finding, PluginRejection, ResponseContext
from tests.guardrail_mocks import AZURE_API_VERSION, GuardrailMock
from tests.plugins.helpers import make_plugin, make_request
from tests.plugins.test_streams import (
    anthropic_event,
    events,
    openai_chunk,
    openai_text,
    scripted,
    text_delta,
)
from tests.upstream import free_port

HOST = "api.localhost"
KEY = "test-key"
AWS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG"}


@pytest.fixture
def service():
    mock = GuardrailMock(key=KEY).start()
    yield mock
    mock.stop()


def openai_settings(url: str, **extra) -> dict:
    return {
        "openai_key": KEY,
        "base_url": url,
        "thresholds": {"hate": 0.5, "violence": 0.8},
        "actions": {"type": "block", "message": "Blocked:"},
        **extra,
    }


def azure_settings(url: str, **extra) -> dict:
    analyze = f"{url}/contentsafety/{{}}:analyze?api-version={AZURE_API_VERSION}"
    return {
        "api_key": KEY,
        "endpoints": {"text": analyze.format("text"), "image": analyze.format("image")},
        "category_severity": {"Hate": 2, "Violence": 4},
        "actions": {"message": "Blocked."},
        **extra,
    }


def bedrock_settings(url: str, **extra) -> dict:
    return {
        "guardrail_id": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123",
        "version": "1",
        "region": "us-east-1",
        "credentials": AWS,
        "endpoint": url,
        "actions": {"message": "Blocked by Bedrock."},
        **extra,
    }


def external_settings(url: str, **extra) -> dict:
    return {
        "endpoint": f"{url}/verdict",
        "headers": {"Authorization": f"Bearer {KEY}"},
        "field_maps": [{"source": "input", "destination": "text"}],
        "conditions": [
            {
                "field": "result.flagged",
                "operator": "eq",
                "value": True,
                "stop_flow": True,
                "message": "refused by policy",
            }
        ],
        **extra,
    }


SETTINGS = {
    "toxicity_openai": openai_settings,
    "toxicity_azure": azure_settings,
    "bedrock_guardrail": bedrock_settings,
    "external_api": external_settings,
}
FLAGGED_STATUS = {
    "toxicity_openai": 403,
    "toxicity_azure": 403,
    "bedrock_guardrail": 403,
    "external_api": 422,
}
FLAGGED_PROMPT = {"bedrock_guardrail": "tell me about the forbidden-topic"}


def plugin(name: str, settings: dict, stage: str = "pre_request", **options) -> dict:
    return {"name": name, "stage": stage, "priority": 1, "settings": settings, **options}


def chat(text: str) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()


def error(response) -> str:
    return json.loads(response.content)["error"]


def post(proxy_client, gateway, body: bytes, path: str = "/v1/chat/completions"):
    return proxy_client.post(
        path, body, content_type="application/json", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
    )


@pytest.mark.parametrize("name", list(SETTINGS))
def test_a_clean_prompt_passes_and_a_flagged_one_never_reaches_the_upstream(
    name, service, route, upstream, proxy_client
):
    gateway = route(required_plugins=[plugin(name, SETTINGS[name](service.url))])
    clean = post(proxy_client, gateway, chat("what is the weather like"))
    assert clean.status_code == 200
    assert len(upstream.seen) == 1
    flagged = post(proxy_client, gateway, chat(FLAGGED_PROMPT.get(name, "a hateful remark")))
    assert flagged.status_code == FLAGGED_STATUS[name]
    assert len(upstream.seen) == 1
    assert len(service.calls) == 2


def test_openai_names_the_categories_and_moderates_plain_string_content(
    service, route, upstream, proxy_client
):
    gateway = route(required_plugins=[plugin("toxicity_openai", openai_settings(service.url))])
    response = post(proxy_client, gateway, chat("a hateful remark about murder"))
    assert (
        error(response) == "Blocked: content flagged for categories: [hate (0.93), violence (0.97)]"
    )
    sent = service.calls[0].body
    assert sent == {"model": "omni-moderation-latest", "input": ["a hateful remark about murder"]}
    assert upstream.seen == []


def test_openai_moderates_content_parts_and_images(service, route, upstream, proxy_client):
    gateway = route(required_plugins=[plugin("toxicity_openai", openai_settings(service.url))])
    parts = [
        {"type": "text", "text": "look at this"},
        {"type": "image_url", "image_url": {"url": "https://img.example/cat.png"}},
    ]
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": parts}]})
    assert post(proxy_client, gateway, body.encode()).status_code == 200
    assert service.calls[0].body["input"] == [
        {"type": "text", "text": "look at this"},
        {"type": "image_url", "image_url": {"url": "https://img.example/cat.png"}},
    ]


def test_azure_names_severities_and_checks_images_at_content_paths(
    service, route, upstream, proxy_client
):
    settings = azure_settings(
        service.url,
        content_types=[
            {"type": "text", "path": "prompt"},
            {"type": "image", "path": "picture"},
        ],
    )
    gateway = route(required_plugins=[plugin("toxicity_azure", settings)])
    hateful = json.dumps({"prompt": "a hateful remark", "picture": "aGVsbG8="}).encode()
    response = post(proxy_client, gateway, hateful, path="/v1/anything")
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == (
        "Blocked. Flagged categories: [Hate (severity: 4, threshold: 2)]"
    )
    image_only = json.dumps({"picture": "data:image/png;base64,bad-image"}).encode()
    assert post(proxy_client, gateway, image_only, path="/v1/anything").status_code == 403
    assert service.calls[-1].path == "/contentsafety/image:analyze"
    assert service.calls[-1].body == {"image": {"content": "bad-image"}}
    assert upstream.seen == []


def test_bedrock_is_signed_and_mask_mode_forwards_the_masked_text(
    service, route, upstream, proxy_client
):
    settings = bedrock_settings(service.url, mode="mask")
    gateway = route(required_plugins=[plugin("bedrock_guardrail", settings)])
    response = post(proxy_client, gateway, chat("mail me at jane@example.com please"))
    assert response.status_code == 200
    forwarded = json.loads(upstream.seen[0].body)
    assert forwarded["messages"][0]["content"] == "mail me at {EMAIL} please"
    call = service.calls[0]
    guardrail = quote(settings["guardrail_id"], safe="")
    assert call.path == f"/guardrail/{guardrail}/version/1/apply"
    assert call.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert call.body == {
        "source": "INPUT",
        "content": [{"text": {"text": "mail me at jane@example.com please"}}],
    }


def test_bedrock_block_mode_refuses_what_it_would_mask(service, route, upstream, proxy_client):
    gateway = route(required_plugins=[plugin("bedrock_guardrail", bedrock_settings(service.url))])
    response = post(proxy_client, gateway, chat("mail me at jane@example.com"))
    assert (response.status_code, error(response)) == (403, "Blocked by Bedrock.")
    assert upstream.seen == []


def test_bedrock_refuses_a_request_with_a_bad_signature(service, route, upstream, proxy_client):
    service.aws_key_id = "AKIDOTHER"  # the mock now expects another key: signature refused
    gateway = route(required_plugins=[plugin("bedrock_guardrail", bedrock_settings(service.url))])
    response = post(proxy_client, gateway, chat("hello"))
    assert (response.status_code, error(response)) == (502, "guardrail unavailable")
    assert upstream.seen == []


def test_external_api_maps_any_body_field_and_logs_conditions_without_stop_flow(
    service, route, upstream, proxy_client
):
    settings = external_settings(
        service.url,
        method="post",
        query_params=[{"name": "tenant", "value": "t1"}],
        field_maps=[{"source": "payload.comment", "destination": "check.text"}],
    )
    settings["conditions"].append(
        {"field": "result.score", "operator": "gt", "value": 0.05, "stop_flow": False}
    )
    gateway = route(required_plugins=[plugin("external_api", settings)])
    body = json.dumps({"payload": {"comment": "nice day"}}).encode()
    assert post(proxy_client, gateway, body, path="/v1/anything").status_code == 200
    call = service.calls[0]
    assert (call.body, call.query) == ({"check": {"text": "nice day"}}, {"tenant": ["t1"]})
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    flagged = json.dumps({"payload": {"comment": "murder"}}).encode()
    response = post(proxy_client, gateway, flagged, path="/v1/anything")
    assert (response.status_code, error(response)) == (422, "refused by policy")


# Slow and dead services: the on_error policy


@pytest.mark.parametrize("name", list(SETTINGS))
def test_a_slow_service_times_out_and_blocks_by_default(
    name, service, route, upstream, proxy_client
):
    # Far past the 200 ms timeout, and short of the 5 s default: only the timeout ends the call
    # before the service answers (whatever the machine's load), a default one lets it answer.
    service.delay = 3.0
    gateway = route(required_plugins=[plugin(name, SETTINGS[name](service.url, timeout="200ms"))])
    started = time.monotonic()
    response = post(proxy_client, gateway, chat("hello"))
    assert time.monotonic() - started >= 0.2
    (call,) = service.calls
    assert call.answered == 0.0  # the gateway answered first: the timeout ended it
    assert (response.status_code, error(response)) == (502, "guardrail unavailable")
    assert upstream.seen == []


@pytest.mark.parametrize("name", ["toxicity_openai", "external_api"])
def test_a_slow_service_with_on_error_allow_forwards_and_logs(
    name, service, route, upstream, proxy_client, caplog
):
    service.delay = 1.0
    settings = SETTINGS[name](service.url, timeout=0.2, on_error="allow")
    gateway = route(required_plugins=[plugin(name, settings)])
    assert post(proxy_client, gateway, chat("hello")).status_code == 200
    assert len(upstream.seen) == 1
    assert f"guardrail {name}" in caplog.text
    assert "timed out" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize("on_error", ["block", "allow"])
@pytest.mark.parametrize("name", list(SETTINGS))
def test_a_service_that_is_down_follows_on_error(
    name, on_error, route, upstream, proxy_client, caplog
):
    url = f"http://127.0.0.1:{free_port()}"
    gateway = route(required_plugins=[plugin(name, SETTINGS[name](url, on_error=on_error))])
    response = post(proxy_client, gateway, chat("hello"))
    if on_error == "block":
        assert response.status_code == 502
        assert upstream.seen == []
    else:
        assert response.status_code == 200
        assert len(upstream.seen) == 1
    assert "unavailable: ConnectionError" in caplog.text
    assert KEY not in caplog.text
    assert AWS["aws_secret_access_key"] not in caplog.text


def test_a_service_error_status_follows_on_error(service, route, upstream, proxy_client):
    service.fail_status = 500
    gateway = route(required_plugins=[plugin("toxicity_azure", azure_settings(service.url))])
    assert post(proxy_client, gateway, chat("hello")).status_code == 502
    assert upstream.seen == []


def test_an_outbound_call_into_a_denied_network_is_refused(
    service, route, upstream, proxy_client, settings
):
    url = f"http://localhost:{service.server_address[1]}"  # a name: checked when connecting
    gateway = route(required_plugins=[plugin("toxicity_openai", openai_settings(url))])
    settings.GATEWAY = {**settings.GATEWAY, "UPSTREAM_DENY": ["127.0.0.0/8", "::1/128"]}
    response = post(proxy_client, gateway, chat("hello"))
    assert (response.status_code, error(response)) == (502, "guardrail unavailable")
    assert service.calls == []


# Answers


def reply(proxy_client, gateway, answer: dict):
    """The upstream answers `answer` (with a Content-Length: a buffered answer)."""
    return post(proxy_client, gateway, json.dumps({"json": answer}).encode(), path="/reply")


def completion(text: str) -> dict:
    message = {"role": "assistant", "content": text}
    return {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}


def test_a_buffered_answer_is_checked_before_it_is_sent(service, route, upstream, proxy_client):
    settings = openai_settings(service.url)
    gateway = route(required_plugins=[plugin("toxicity_openai", settings, stage="post_response")])
    clean = reply(proxy_client, gateway, completion("a kind reply"))
    assert (clean.status_code, json.loads(clean.content)) == (200, completion("a kind reply"))
    flagged = reply(proxy_client, gateway, completion("a hateful reply"))
    assert (flagged.status_code, error(flagged)) == (
        403,
        "Blocked: content flagged for categories: [hate (0.93)]",
    )
    assert len(upstream.seen) == 2  # the upstream answered; the client never saw it
    assert [call.body["input"] for call in service.calls] == [["a kind reply"], ["a hateful reply"]]


def test_a_binary_answer_is_not_sent_to_the_service(service):
    guard = make_plugin("external_api", external_settings(service.url), stage="post_response")
    headers = CaseInsensitiveDict({"Content-Type": "image/png"})
    guard.post_response(make_request(), ResponseContext(200, headers, body=b"\x89PNG murder"))
    assert service.calls == []


def test_a_non_llm_answer_is_checked_whole(service, route, upstream, proxy_client):
    settings = external_settings(service.url)
    gateway = route(required_plugins=[plugin("external_api", settings, stage="post_response")])
    response = reply(proxy_client, gateway, {"note": "planning a murder"})
    assert (response.status_code, error(response)) == (422, "refused by policy")
    assert json.loads(service.calls[0].body["text"]) == {"note": "planning a murder"}


def test_bedrock_masks_a_buffered_answer(service, route, upstream, proxy_client):
    settings = bedrock_settings(service.url, mode="mask")
    gateway = route(required_plugins=[plugin("bedrock_guardrail", settings, stage="post_response")])
    response = reply(proxy_client, gateway, completion("write to bob@example.org"))
    assert json.loads(response.content) == completion("write to {EMAIL}")
    assert service.calls[0].body["source"] == "OUTPUT"


def stream_route(route, name: str, settings: dict):
    return route(plugin_chain=[plugin(name, settings, stage="post_response")])


def test_a_flagged_stream_is_cut_with_the_error_event(service, route, proxy_client):
    settings = openai_settings(service.url, check_every_chars=10)
    gateway = stream_route(route, "toxicity_openai", settings)
    pieces = [
        openai_chunk("The weather "),
        openai_chunk("is fine. "),
        openai_chunk("Now a hateful "),
        openai_chunk("remark follows"),
        openai_chunk("", "stop"),
    ]
    response, body = scripted(proxy_client, gateway, [*pieces, "data: [DONE]\n\n"])
    assert response.status_code == 200
    parsed = events(body)
    assert parsed[-2].json() == {
        "error": {
            "message": "Blocked: content flagged for categories: [hate (0.93)]",
            "type": "guardrail",
        }
    }
    assert parsed[-1].data == "[DONE]"
    assert openai_text(b"".join(e.encode() for e in parsed[:-2])) == "The weather is fine. "
    assert b"hateful" not in body
    assert b"remark" not in body


def test_a_flagged_anthropic_stream_ends_with_its_error_event(service, route, proxy_client):
    gateway = stream_route(route, "toxicity_openai", openai_settings(service.url))
    stream = [
        anthropic_event("message_start", message={"id": "msg_1", "content": []}),
        anthropic_event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        text_delta(0, "fine, then a hateful"),
        anthropic_event("content_block_stop", index=0),
        anthropic_event("message_stop"),
    ]
    _, body = scripted(proxy_client, gateway, stream)
    last = events(body)[-1]
    assert (last.event, last.json()["error"]["type"]) == ("error", "guardrail")
    assert "message_stop" not in [event.event for event in events(body)]


def test_a_clean_stream_is_checked_at_its_end_and_passes_whole(service, route, proxy_client):
    gateway = stream_route(route, "toxicity_azure", azure_settings(service.url))
    pieces = [openai_chunk("all "), openai_chunk("good"), openai_chunk("", "stop")]
    _, body = scripted(proxy_client, gateway, [*pieces, "data: [DONE]\n\n"])
    assert openai_text(body) == "all good"
    assert [call.body["text"] for call in service.calls] == ["all good"]


def test_a_stream_is_cut_when_the_service_fails_and_on_error_blocks(service, route, proxy_client):
    service.fail_status = 503
    gateway = stream_route(route, "bedrock_guardrail", bedrock_settings(service.url))
    _, body = scripted(proxy_client, gateway, [openai_chunk("hi", "stop"), "data: [DONE]\n\n"])
    assert events(body)[-2].json() == {
        "error": {"message": "guardrail unavailable", "type": "guardrail"}
    }


def test_log_only_forwards_a_flagged_prompt_and_records_it(service, route, upstream, proxy_client):
    settings = openai_settings(service.url, actions={"type": "log_only"})
    gateway = route(required_plugins=[plugin("toxicity_openai", settings)])
    assert post(proxy_client, gateway, chat("a hateful remark")).status_code == 200
    assert len(upstream.seen) == 1
    guard = make_plugin("toxicity_openai", settings)
    request = make_request(body=chat("a hateful remark"))
    guard.pre_request(request)
    assert request.findings == [Finding("toxicity_openai", "hate", "logged")]


def test_findings_record_what_was_blocked(service, route, upstream, proxy_client):
    from plugins.builtin.guardrails.toxicity_openai import ToxicityOpenAIPlugin

    guard = make_plugin("toxicity_openai", openai_settings(service.url))
    assert isinstance(guard, ToxicityOpenAIPlugin)
    request = make_request(body=chat("a hateful remark"))
    with pytest.raises(PluginRejection) as refused:
        guard.pre_request(request)
    assert refused.value.status == 403
    assert request.findings == [Finding("toxicity_openai", "hate", "blocked")]
