"""The OpenAI-compatible front on the real proxy path: plugins see OpenAI's shapes whatever the
provider, usage lands on the request's LLM call, the model picks its target, a retry on another
provider is translated for it, and the front refuses what it does not serve."""

from __future__ import annotations

import json

import pytest

from tests.builders import llm_chat
from tests.e2e.test_llm_front_e2e import provider_target
from tests.upstream import free_port

HOST = "llm.localhost"
HELLO = [{"role": "user", "content": "hello"}]


def plugin(name: str, stage: str) -> dict:
    return {"name": name, "stage": stage, "priority": 1, "settings": {}}


def test_response_plugins_see_an_openai_completion_from_gemini(
    sample_plugins, mock, llm_gateway, proxy_client
):
    gateway = llm_gateway(
        [provider_target("google", mock.url)],
        plugin_chain=[plugin("shout", "post_response"), plugin("llm_recorder", "post_response")],
    )
    response = llm_chat(proxy_client, gateway, {"model": "gemini-flash", "messages": HELLO})
    assert response.status_code == 200
    assert b'"OBJECT": "CHAT.COMPLETION"' in response.content  # shouted: OpenAI's shape
    assert b'"CONTENT": "GEMINI SAYS: HELLO"' in response.content
    assert b"CANDIDATES" not in response.content
    assert response["X-LLM"] == "google gemini-flash 11 7"


def test_chunk_hooks_see_openai_chunks_from_anthropic(
    sample_plugins, mock, llm_gateway, proxy_client
):
    gateway = llm_gateway(
        [provider_target("anthropic", mock.url)], plugin_chain=[plugin("shout", "post_response")]
    )
    response = llm_chat(
        proxy_client, gateway, {"model": "claude-sonnet", "messages": HELLO, "stream": True}
    )
    assert response.streaming
    assert response["Content-Type"].startswith("text/event-stream")
    body = b"".join(response.streaming_content)
    assert b'"OBJECT":"CHAT.COMPLETION.CHUNK"' in body
    assert b"MESSAGE_START" not in body
    assert body.endswith(b"DATA: [DONE]\n\n")


def test_the_model_picks_its_target(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target(p, mock.url) for p in ("openai", "anthropic")])
    for _ in range(4):  # round-robin would alternate; the model decides
        response = llm_chat(proxy_client, gateway, {"model": "claude-sonnet", "messages": HELLO})
        assert json.loads(response.content)["model"] == "claude-sonnet"
    assert all(seen.path == "/v1/messages" for seen in mock.seen)


def test_a_retry_on_another_provider_is_translated_for_it(mock, llm_gateway, proxy_client):
    dead = provider_target("openai", f"http://127.0.0.1:{free_port()}")
    gateway = llm_gateway([dead, provider_target("anthropic", mock.url)], retry_attempts=1)
    response = llm_chat(proxy_client, gateway, {"model": "gpt-4o-mini", "messages": HELLO})
    assert response.status_code == 200
    answer = json.loads(response.content)
    assert answer["model"] == "claude-sonnet"  # the fallback's own default model
    assert answer["choices"][0]["message"]["content"] == "anthropic says: hello"
    assert json.loads(mock.last("/v1/messages").body)["model"] == "claude-sonnet"


def test_provider_errors_are_openai_errors(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("anthropic", mock.url)])
    mock.fail_status = 529
    response = llm_chat(proxy_client, gateway, {"model": "claude-sonnet", "messages": HELLO})
    assert response.status_code == 529
    assert json.loads(response.content)["error"]["message"] == "mock failure"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/messages"), ("GET", "/v1/chat/completions")]
)
def test_the_front_serves_only_the_openai_endpoints(mock, llm_gateway, proxy_client, method, path):
    gateway = llm_gateway([provider_target("anthropic", mock.url)])
    response = proxy_client.generic(
        method, path, b"{}", HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {gateway.key}"
    )
    assert response.status_code == 404
    assert mock.seen == []


def test_models_are_listed_without_calling_a_provider(
    mock, llm_gateway, proxy_client, django_assert_num_queries
):
    gateway = llm_gateway([provider_target(p, mock.url) for p in ("openai", "anthropic")])
    request = {"HTTP_HOST": HOST, "HTTP_AUTHORIZATION": f"Bearer {gateway.key}"}
    proxy_client.get("/v1/models", **request)  # the snapshot is built
    with django_assert_num_queries(0):
        response = proxy_client.get("/v1/models", **request)
    listed = json.loads(response.content)
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == [
        "gpt-4o-mini",
        "text-embedding-3-small",
        "claude-sonnet",
    ]
    assert mock.seen == []


def test_passthrough_targets_refuse_bodies_that_are_not_json(mock, llm_gateway, proxy_client):
    target = {**provider_target("anthropic", mock.url), "mode": "passthrough"}
    gateway = llm_gateway([target])
    refused = proxy_client.post(
        "/v1/messages",
        b"{oops",
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert (refused.status_code, json.loads(refused.content)) == (
        400,
        {
            "error": {
                "message": "invalid request body",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
    )
    assert mock.seen == []
