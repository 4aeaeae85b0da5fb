"""The Responses API on the translating front, in process against the mock providers: answers
and events in the Responses shapes from every provider, the conversation kept in Redis (scoped
to the gateway and the key, bounded, `store: false`), the stored responses' endpoints, plugins
on `input`, fallback, and the fields the front refuses (400 naming them)."""

from __future__ import annotations

import json

import pytest

from tests.builders import created, in_process_post, llm_chat
from tests.e2e.test_llm_front_e2e import PROVIDERS, WEATHER_TOOL, provider_target
from tests.llm_mocks import replies
from tests.plugins.sample_plugins import LLM_CALLS
from tests.upstream import free_port

HOST = "llm.localhost"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def respond(proxy_client, gateway, body: dict, key: str | None = None):
    return proxy_client.post(
        "/v1/responses",
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_AUTHORIZATION=f"Bearer {key or gateway.key}",
    )


def stored(proxy_client, gateway, path: str, method: str = "get", key: str | None = None):
    return getattr(proxy_client, method)(
        f"/v1/responses/{path}",
        HTTP_HOST=HOST,
        HTTP_AUTHORIZATION=f"Bearer {key or gateway.key}",
    )


def events_of(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


@pytest.fixture
def every_provider(mock, llm_gateway):
    return llm_gateway([provider_target(p, mock.url) for p in PROVIDERS])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_text_answer_from_every_provider(every_provider, mock, proxy_client, provider):
    model, _, says, path = PROVIDERS[provider]
    response = respond(proxy_client, every_provider, {"model": model, "input": "hello"})
    assert response.status_code == 200, response.content
    answer = json.loads(response.content)
    assert answer["object"] == "response"
    assert answer["status"] == "completed"
    assert answer["output"][0]["content"][0]["text"] == f"{says} says: hello"
    assert (answer["usage"]["input_tokens"], answer["usage"]["output_tokens"]) == (11, 7)
    own = provider in ("openai", "azure")
    assert mock.seen[-1].path.endswith("/responses") == own  # else the chat adapters'


def test_a_stream_is_translated_into_responses_events(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("anthropic", mock.url)])
    body = {"model": "claude-sonnet", "input": "flow", "stream": True}
    events = events_of(respond(proxy_client, gateway, body))
    kinds = [event["type"] for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == "anthropic says: flow"
    assert events[-1]["response"]["usage"]["output_tokens"] == 7


def test_function_call_arguments_are_streamed_as_their_events(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("google", mock.url)])
    body = {"model": "gemini-flash", "input": "weather?", "tools": [TOOL], "stream": True}
    events = events_of(respond(proxy_client, gateway, body))
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert (added["item"]["type"], added["item"]["name"]) == ("function_call", "get_weather")
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert json.loads(done["arguments"]) == replies.TOOL_ARGUMENTS


def test_a_three_turn_conversation_sends_the_whole_history(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("anthropic", mock.url)])
    first = json.loads(
        respond(proxy_client, gateway, {"model": "claude-sonnet", "input": "one"}).content
    )
    second = respond(
        proxy_client,
        gateway,
        {"model": "claude-sonnet", "input": "two", "previous_response_id": first["id"]},
    )
    third = respond(
        proxy_client,
        gateway,
        {
            "model": "claude-sonnet",
            "input": "three",
            "previous_response_id": json.loads(second.content)["id"],
        },
    )
    assert third.status_code == 200
    sent = json.loads(mock.last("/v1/messages").body)["messages"]
    texts = [block["text"] for message in sent for block in message["content"]]
    assert texts == [
        "one",
        "anthropic says: one",
        "two",
        "anthropic says: two",
        "three",
    ]


def test_a_conversation_continues_after_a_fallback_to_another_provider(
    mock, llm_gateway, proxy_client
):
    dead = provider_target("openai", f"http://127.0.0.1:{free_port()}")
    gateway = llm_gateway([dead, provider_target("anthropic", mock.url)], retry_attempts=1)
    first = respond(proxy_client, gateway, {"model": "gpt-4o-mini", "input": "one"})
    assert first.status_code == 200, first.content
    answer = json.loads(first.content)
    assert answer["model"] == "claude-sonnet"
    follow = {"model": "gpt-4o-mini", "input": "two", "previous_response_id": answer["id"]}
    assert respond(proxy_client, gateway, follow).status_code == 200
    sent = json.loads(mock.last("/v1/messages").body)["messages"]
    assert [m["content"][0]["text"] for m in sent][:2] == ["one", "anthropic says: one"]


def test_another_key_cannot_read_or_continue_a_response(mock, llm_gateway, api, proxy_client):
    gateway = llm_gateway([provider_target("mistral", mock.url)])
    other = created(in_process_post(api), f"/api/v1/gateways/{gateway.id}/keys", {"name": "b"})
    answer = json.loads(
        respond(proxy_client, gateway, {"model": "mistral-small", "input": "a"}).content
    )
    follow = {"model": "mistral-small", "input": "b", "previous_response_id": answer["id"]}
    refused = respond(proxy_client, gateway, follow, key=other["key"])
    assert refused.status_code == 404
    assert json.loads(refused.content)["error"]["param"] == "previous_response_id"
    assert stored(proxy_client, gateway, answer["id"], key=other["key"]).status_code == 404
    assert stored(proxy_client, gateway, answer["id"], "delete", other["key"]).status_code == 404
    assert stored(proxy_client, gateway, answer["id"]).status_code == 200  # still the owner's


def test_stored_responses_are_read_listed_and_deleted(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("bedrock", mock.url)])
    model = PROVIDERS["bedrock"][0]
    body = {"model": model, "input": [{"role": "user", "content": "hi"}], "metadata": {"a": "b"}}
    answer = json.loads(respond(proxy_client, gateway, body).content)
    read = json.loads(stored(proxy_client, gateway, answer["id"]).content)
    assert read == answer
    assert read["metadata"] == {"a": "b"}
    items = json.loads(stored(proxy_client, gateway, f"{answer['id']}/input_items").content)
    assert (items["object"], items["data"][0]["content"]) == ("list", "hi")
    deleted = json.loads(stored(proxy_client, gateway, answer["id"], "delete").content)
    assert deleted == {"id": answer["id"], "object": "response.deleted", "deleted": True}
    assert stored(proxy_client, gateway, answer["id"]).status_code == 404


def test_store_false_keeps_nothing(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("openai", mock.url)])
    body = {"model": "gpt-4o-mini", "input": "secret", "store": False}
    answer = json.loads(respond(proxy_client, gateway, body).content)
    assert stored(proxy_client, gateway, answer["id"]).status_code == 404
    follow = {"model": "gpt-4o-mini", "input": "b", "previous_response_id": answer["id"]}
    assert respond(proxy_client, gateway, follow).status_code == 404


def test_a_conversation_past_the_bound_is_413(mock, llm_gateway, proxy_client, settings):
    settings.GATEWAY = {**settings.GATEWAY, "RESPONSES_MAX_BYTES": 2048}
    gateway = llm_gateway([provider_target("anthropic", mock.url)])
    body = {"model": "claude-sonnet", "input": "x" * 1500}
    answer = json.loads(respond(proxy_client, gateway, body).content)
    follow = {"model": "claude-sonnet", "input": "more", "previous_response_id": answer["id"]}
    refused = respond(proxy_client, gateway, follow)
    assert refused.status_code == 413
    assert len(mock.seen) == 1


def test_a_cut_stream_ends_in_response_failed(mock, llm_gateway, proxy_client):
    gateway = llm_gateway([provider_target("google", mock.url)])
    body = {"model": "gemini-flash", "input": f"please {replies.CUT}", "stream": True}
    events = events_of(respond(proxy_client, gateway, body))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    assert "response.completed" not in [event["type"] for event in events]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tools": [{"type": "web_search_preview"}]}, "tools[0].type"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format"),
        ({"background": True}, "background"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0]",
        ),
    ],
)
def test_what_cannot_be_honoured_is_400_naming_it(mock, llm_gateway, proxy_client, body, field):
    gateway = llm_gateway([provider_target("anthropic", mock.url)])
    response = respond(proxy_client, gateway, {"model": "claude-sonnet", "input": "hi", **body})
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["message"].startswith(field)
    assert mock.seen == []


def test_detectors_read_input_and_instructions(mock, llm_gateway, proxy_client):
    moderation = {
        "name": "prompt_moderation",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"keywords": ["ransomware"], "actions": {"type": "block"}},
    }
    gateway = llm_gateway([provider_target("anthropic", mock.url)], plugin_chain=[moderation])
    clean = respond(proxy_client, gateway, {"model": "claude-sonnet", "input": "hi"})
    assert clean.status_code == 200
    for body in (
        {"input": "write ransomware"},
        {"input": "hi", "instructions": "you sell ransomware"},
        {"input": [{"role": "user", "content": [{"type": "input_text", "text": "ransomware"}]}]},
    ):
        response = respond(proxy_client, gateway, {"model": "claude-sonnet", **body})
        assert response.status_code == 403
    assert len(mock.seen) == 1  # the clean one


def test_usage_and_the_call_are_settled(sample_plugins, mock, llm_gateway, proxy_client):
    recorder = {"name": "llm_recorder", "stage": "post_response", "priority": 1, "settings": {}}
    gateway = llm_gateway([provider_target("anthropic", mock.url)], plugin_chain=[recorder])
    body = {"model": "claude-sonnet", "input": "hello", "stream": True}
    response = respond(proxy_client, gateway, body)
    events_of(response)
    call = LLM_CALLS[response["X-Request-ID"]]
    assert (call.provider, call.prompt_tokens, call.completion_tokens) == ("anthropic", 11, 7)


# TrustGate E2's provider_options.api on openai targets: which provider API a request uses.


def openai_target(mock, api: str) -> dict:
    return {**provider_target("openai", mock.url), "provider_options": {"api": api}}


def test_a_chat_request_goes_to_the_responses_api_when_the_target_says_so(
    mock, llm_gateway, proxy_client
):
    gateway = llm_gateway([openai_target(mock, "responses")])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    answer = json.loads(llm_chat(proxy_client, gateway, body).content)
    assert mock.seen[-1].path == "/v1/responses"
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "openai says: hello"
    assert (answer["usage"]["prompt_tokens"], answer["usage"]["completion_tokens"]) == (11, 7)
    streamed = llm_chat(proxy_client, gateway, {**body, "stream": True, "tools": [WEATHER_TOOL]})
    chunks = [
        json.loads(line[6:])
        for line in b"".join(streamed.streaming_content).decode().splitlines()
        if line.startswith("data: {")
    ]
    calls = [c for chunk in chunks for c in chunk["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "get_weather"
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == replies.TOOL_ARGUMENTS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_responses_request_goes_to_chat_completions_when_the_target_says_so(
    mock, llm_gateway, proxy_client
):
    gateway = llm_gateway([openai_target(mock, "completions")])
    answer = json.loads(
        respond(proxy_client, gateway, {"model": "gpt-4o-mini", "input": "hi"}).content
    )
    assert mock.seen[-1].path == "/v1/chat/completions"
    assert answer["output"][0]["content"][0]["text"] == "openai says: hi"


@pytest.mark.parametrize(
    ("target", "status", "why"),
    [
        ({"provider": "openai", "provider_options": {"api": "responses"}}, 201, ""),
        (
            {"provider": "anthropic", "provider_options": {"api": "responses"}},
            400,
            "Only openai targets take it.",
        ),
        (
            {"provider": "openai", "provider_options": {"api": "assistants"}},
            400,
            "is not a valid choice",
        ),
    ],
)
def test_provider_options_are_validated(transactional_db, api, mock, target, status, why):
    gateway = api.post("/api/v1/gateways", {"name": "g", "subdomain": "g"}, format="json").data
    given = {**provider_target(target["provider"], mock.url), **target}
    response = api.post(
        f"/api/v1/gateways/{gateway['id']}/upstreams",
        {"name": "u", "targets": [given]},
        format="json",
    )
    assert response.status_code == status
    if status == 400:
        assert why in json.dumps(response.data), response.data


def test_masking_applies_to_input_and_instructions(mock, llm_gateway, proxy_client):
    masking = {
        "name": "data_masking",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"predefined_entities": [{"entity": "email"}]},
    }
    gateway = llm_gateway([provider_target("bedrock", mock.url)], plugin_chain=[masking])
    body = {
        "model": PROVIDERS["bedrock"][0],
        "instructions": "reply to ann@example.com",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "bob@example.com"}]}],
    }
    assert respond(proxy_client, gateway, body).status_code == 200
    sent = mock.seen[-1].body.decode()
    assert "example.com" not in sent
    assert "[MASKED_EMAIL]" in sent
