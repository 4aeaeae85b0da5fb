"""What clients ask of the LLM front beyond a plain answer, on the real proxy path against the
schema-checking mock providers: prompt caching (marks translated, cached tokens reported and
priced), `n` answers (served or refused), `response_format` beside user tools, and reasoning
(`reasoning_effort` in, `reasoning_content` and reasoning tokens out)."""

from __future__ import annotations

import json

import pytest

from plugins.sdk.sse import SSEParser
from tests.builders import llm_chat, provider_target
from tests.e2e.test_llm_front_e2e import WEATHER_TOOL
from tests.e2e.test_llm_front_e2e import provider_target as front_target
from tests.llm_mocks import replies
from tests.observability.conftest import finished, lines

MODELS = {"anthropic": "claude-sonnet", "bedrock": "anthropic.claude-3-haiku-20240307-v1:0"}
MODELS["google"] = "gemini-flash"
# Claude's list prices: input, output, cache reads and cache writes per million tokens.
PRICING = {
    "input_per_million": 3,
    "output_per_million": 15,
    "cached_input_per_million": 0.3,
    "cache_write_per_million": 3.75,
}
MARK = {"type": "ephemeral"}
CACHED_CALL = {
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "rules", "cache_control": MARK}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a long document", "cache_control": MARK},
                {"type": "text", "text": "hello"},
            ],
        },
    ],
    "tools": [{**WEATHER_TOOL, "cache_control": MARK}],
    "tool_choice": "none",
}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA}}


@pytest.fixture
def access_log_file(settings, tmp_path):
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}
    return path


@pytest.fixture
def front(mock, llm_gateway):
    """A gateway whose targets are the mock's Anthropic, Bedrock and Gemini."""
    return llm_gateway([front_target(p, mock.url) for p in ("anthropic", "bedrock", "google")])


def chat(proxy_client, gateway, provider: str, body: dict):
    return llm_chat(proxy_client, gateway, {"model": MODELS[provider], **body})


def chunks(response) -> list[dict]:
    parser = SSEParser()
    body = b"".join(response.streaming_content)
    return [e.json() for e in parser.feed(body) + parser.finish() if e.data != "[DONE]"]


def request_line(path) -> dict:
    (line,) = [line for line in lines(path) if line["type"] == "request"]
    return line


# 5. Prompt caching.


def test_anthropic_cache_marks_survive_translation(mock, front, proxy_client):
    response = chat(proxy_client, front, "anthropic", CACHED_CALL)
    assert response.status_code == 200, response.content
    sent = json.loads(mock.last("/v1/messages").body)
    assert sent["system"] == [{"type": "text", "text": "rules", "cache_control": MARK}]
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "a long document", "cache_control": MARK},
        {"type": "text", "text": "hello"},
    ]
    assert sent["tools"][0]["cache_control"] == MARK


def test_bedrock_cache_points_follow_the_marked_blocks(mock, front, proxy_client):
    response = chat(proxy_client, front, "bedrock", CACHED_CALL)
    assert response.status_code == 200, response.content
    sent = json.loads(mock.last("/converse").body)
    point = {"cachePoint": {"type": "default"}}
    assert sent["system"] == [{"text": "rules"}, point]
    assert sent["messages"][0]["content"] == [{"text": "a long document"}, point, {"text": "hello"}]
    assert sent["toolConfig"]["tools"][1] == point


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_cached_anthropic_call_costs_cache_reads_and_writes_at_their_prices(
    mock, llm_gateway, proxy_client, access_log_file, stream
):
    front = llm_gateway([{**front_target("anthropic", mock.url), "pricing": PRICING}])
    body = {**CACHED_CALL, "stream": stream, "stream_options": {"include_usage": True}}
    if not stream:
        del body["stream_options"]
    response = chat(proxy_client, front, "anthropic", body)
    usage = chunks(response)[-1]["usage"] if stream else response.json()["usage"]
    cached, written = replies.CACHED_TOKENS, replies.CACHE_WRITE_TOKENS
    assert usage["prompt_tokens"] == replies.PROMPT_TOKENS + cached + written
    assert usage["prompt_tokens_details"] == {
        "cached_tokens": cached,
        "cache_write_tokens": written,
    }
    uncached = replies.PROMPT_TOKENS * 3 + cached * 0.3 + written * 3.75
    right = (uncached + replies.COMPLETION_TOKENS * 15) / 1_000_000
    line = request_line(access_log_file)
    assert line["llm"]["cost"] == pytest.approx(right)
    everything_at_input_price = ((usage["prompt_tokens"]) * 3 + 7 * 15) / 1_000_000
    assert everything_at_input_price / right == pytest.approx(1.65)  # the overstatement fixed


@pytest.mark.parametrize(
    "asked",
    [{}, {"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}],
    ids=["json", "stream", "stream-with-usage"],
)
def test_openai_cached_tokens_cost_the_cached_price(
    mock, llm_gateway, proxy_client, access_log_file, asked
):
    """OpenAI's own `prompt_tokens_details.cached_tokens`, read from the answer passed on, the
    usage chunk the gateway asked for, or the client's."""
    gateway = llm_gateway([{**front_target("openai", mock.url), "pricing": PRICING}])
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": replies.CACHED}]}
    finished(llm_chat(proxy_client, gateway, {**body, **asked}))  # passed on as it comes
    cached = replies.CACHED_TOKENS
    right = (replies.PROMPT_TOKENS * 3 + cached * 0.3 + replies.COMPLETION_TOKENS * 15) / 1e6
    assert request_line(access_log_file)["llm"]["cost"] == pytest.approx(right)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", ["bedrock", "google"])
def test_cached_tokens_of_bedrock_and_gemini_are_in_the_usage_details(
    front, proxy_client, provider, stream
):
    body = {**CACHED_CALL, "stream": stream}
    body["messages"] = [{"role": "user", "content": f"{replies.CACHED}: hello"}]
    if stream:
        body["stream_options"] = {"include_usage": True}
    if provider == "bedrock":  # Bedrock caches where the request marks it
        body["messages"][0]["cache_control"] = MARK
    response = chat(proxy_client, front, provider, body)
    usage = chunks(response)[-1]["usage"] if stream else response.json()["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == replies.CACHED_TOKENS
    assert usage["prompt_tokens"] >= replies.PROMPT_TOKENS + replies.CACHED_TOKENS


def test_cache_prices_are_validated_like_the_others(api, transactional_db, mock, llm_gateway):
    gateway = llm_gateway([provider_target(mock.port, "claude", "anthropic", pricing=PRICING)])
    stored = gateway.upstream["targets"][0]["pricing"]
    assert stored["cached_input_per_million"] == 0.3
    assert stored["cache_write_per_million"] == 3.75
    base = f"/api/v1/gateways/{gateway.id}/upstreams"
    bad = provider_target(mock.port, pricing={**PRICING, "cache_write_per_million": -1})
    response = api.post(base, {"name": "bad", "targets": [bad]}, format="json")
    assert response.status_code == 400
    assert "cache_write_per_million" in json.dumps(response.json())


def test_a_bad_cache_mark_is_a_400_naming_the_field(front, proxy_client):
    body = {"messages": [{"role": "user", "content": "hi", "cache_control": {"type": "forever"}}]}
    response = chat(proxy_client, front, "anthropic", body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


# 6. n answers.


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_n_above_one_is_refused_naming_n_where_the_provider_answers_once(
    front, proxy_client, provider
):
    response = chat(
        proxy_client, front, provider, {"messages": [{"role": "user", "content": "hi"}], "n": 2}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"


def test_gemini_streams_n_answers_each_as_its_choice(mock, front, proxy_client):
    body = {"messages": [{"role": "user", "content": "twice"}], "n": 2, "stream": True}
    response = chat(proxy_client, front, "google", body)
    assert json.loads(mock.last(":streamGenerateContent").body)["generationConfig"] == {
        "candidateCount": 2
    }
    texts, finished = {0: "", 1: ""}, {}
    for chunk in chunks(response):
        for choice in chunk["choices"]:
            texts[choice["index"]] += choice["delta"].get("content") or ""
            if choice["finish_reason"]:
                finished[choice["index"]] = choice["finish_reason"]
    assert texts == {0: "gemini says: twice", 1: "gemini says: twice"}
    assert finished == {0: "stop", 1: "stop"}


def test_the_token_rate_limiter_reserves_n_answers(mock, llm_gateway, proxy_client):
    limiter = {
        "name": "token_rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limit": 300, "window": "1m"},
    }
    gateway = llm_gateway([front_target("google", mock.url)], required_plugins=[limiter])
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    assert chat(proxy_client, gateway, "google", body).status_code == 200
    response = chat(proxy_client, gateway, "google", {**body, "n": 3})  # 300 more: over
    assert response.status_code == 429
    assert len(mock.seen) == 1


# 7. response_format beside user tools.


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_user_tools_stay_callable_beside_a_response_format(
    mock, front, proxy_client, provider, stream
):
    body = {
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [WEATHER_TOOL],
        "response_format": RESPONSE_FORMAT,
        "stream": stream,
    }
    response = chat(proxy_client, front, provider, body)
    if stream:
        deltas = [c["choices"][0] for c in chunks(response) if c["choices"]]
        calls = [d["delta"]["tool_calls"][0] for d in deltas if d["delta"].get("tool_calls")]
        assert calls[0]["function"]["name"] == "get_weather"
        assert deltas[-1]["finish_reason"] == "tool_calls"
    else:
        (choice,) = response.json()["choices"]
        assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
        assert choice["finish_reason"] == "tool_calls"
    sent = json.loads(mock.seen[-1].body)
    if provider == "anthropic":
        assert [t["name"] for t in sent["tools"]] == ["get_weather", "json_response"]
        assert "tool_choice" not in sent
    else:
        tools = sent["toolConfig"]["tools"]
        assert [t["toolSpec"]["name"] for t in tools] == ["get_weather", "json_response"]
        assert "toolChoice" not in sent["toolConfig"]


# Reasoning.


THINKING = {
    "anthropic": lambda sent: sent["thinking"],
    "bedrock": lambda sent: sent["additionalModelRequestFields"]["thinking"],
    "google": lambda sent: sent["generationConfig"]["thinkingConfig"],
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "google"])
def test_reasoning_effort_asks_for_thinking_and_its_text_comes_back(
    mock, front, proxy_client, provider, stream
):
    body = {"messages": [{"role": "user", "content": "think"}], "reasoning_effort": "low"}
    body |= {"stream": stream, "stream_options": {"include_usage": True}} if stream else {}
    response = chat(proxy_client, front, provider, body)
    assert response.status_code == 200
    sent = json.loads(mock.seen[-1].body)
    if provider == "google":
        assert THINKING[provider](sent) == {"thinkingBudget": 2048, "includeThoughts": True}
    else:
        assert THINKING[provider](sent) == {"type": "enabled", "budget_tokens": 2048}
    if stream:
        parsed = chunks(response)
        deltas = [c["choices"][0]["delta"] for c in parsed if c["choices"]]
        reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
        content = "".join(d.get("content") or "" for d in deltas)
        usage = parsed[-1]["usage"]
    else:
        message = response.json()["choices"][0]["message"]
        reasoning, content = message["reasoning_content"], message["content"]
        usage = response.json()["usage"]
    assert reasoning == replies.THOUGHT
    assert content.endswith("says: think")
    if provider == "google":  # the one that counts its thinking apart
        assert usage["completion_tokens_details"] == {"reasoning_tokens": replies.THOUGHT_TOKENS}
        assert usage["completion_tokens"] == replies.COMPLETION_TOKENS


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_claude_goes_without_thinking_inside_a_tool_loop(mock, front, proxy_client, provider):
    """Claude wants the tool-calling turn back with its signed thinking block, which OpenAI's
    messages do not carry: the request after a tool call goes without thinking."""
    call = {"id": "call_1", "type": "function"}
    call["function"] = {"name": "get_weather", "arguments": json.dumps(replies.TOOL_ARGUMENTS)}
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    body = {"messages": messages, "tools": [WEATHER_TOOL], "reasoning_effort": "low"}
    response = chat(proxy_client, front, provider, body)
    assert response.status_code == 200, response.content
    assert "read the tool result: sunny" in response.json()["choices"][0]["message"]["content"]
    sent = json.loads(mock.seen[-1].body)
    assert "thinking" not in sent
    assert "additionalModelRequestFields" not in sent


@pytest.mark.parametrize(
    ("provider", "extra", "param"),
    [
        ("anthropic", {"reasoning_effort": "extreme"}, "reasoning_effort"),
        ("google", {"reasoning_effort": 3}, "reasoning_effort"),
        ("anthropic", {"reasoning_effort": "high", "max_tokens": 500}, "max_tokens"),
    ],
)
def test_unusable_reasoning_settings_are_a_400_naming_the_field(
    front, proxy_client, provider, extra, param
):
    body = {"messages": [{"role": "user", "content": "think"}], **extra}
    response = chat(proxy_client, front, provider, body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_bedrock_models_other_than_claude_take_no_reasoning_effort(mock, llm_gateway, proxy_client):
    target = front_target("bedrock", mock.url) | {"models": ["amazon.nova-pro-v1:0"]}
    gateway = llm_gateway([target | {"default_model": "amazon.nova-pro-v1:0"}])
    body = {"model": "amazon.nova-pro-v1:0", "messages": [{"role": "user", "content": "x"}]}
    response = llm_chat(proxy_client, gateway, {**body, "reasoning_effort": "low"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "reasoning_effort"
    assert mock.seen == []
