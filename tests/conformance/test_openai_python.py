"""The Python `openai` SDK through the gateway, for every provider."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conformance.conftest import COST, PNG, WEATHER_SCHEMA
from tests.e2e.test_llm_front_e2e import PROVIDERS, WEATHER_TOOL
from tests.llm_mocks import replies

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(front):
    return openai.OpenAI(
        base_url=f"{front.base_url}/v1",
        api_key=front.key,
        default_headers={"Host": front.host},
        max_retries=0,
        timeout=10,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.choices[0].message.content == f"{says} says: hello"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 7)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_names_the_selected_provider(client, provider):
    raw = client.chat.completions.with_raw_response.create(
        model=PROVIDERS[provider][0], messages=[{"role": "user", "content": "who?"}]
    )
    assert raw.headers.get("X-Selected-Provider") == provider


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "flow"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"{says} says: flow"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_arguments_streamed(client, provider):
    stream = client.chat.completions.create(
        model=PROVIDERS[provider][0],
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, pieces = "", []
    for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name += delta.function.name or ""
            pieces.append(delta.function.arguments or "")
    assert name == "get_weather"
    assert json.loads("".join(pieces)) == replies.TOOL_ARGUMENTS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output(client, provider):
    answer = client.chat.completions.create(
        model=PROVIDERS[provider][0],
        messages=[{"role": "user", "content": "where?"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "place", "schema": WEATHER_SCHEMA, "strict": True},
        },
    )
    assert json.loads(answer.choices[0].message.content) == replies.TOOL_ARGUMENTS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_image(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    content = [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": PNG}},
    ]
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}]
    )
    assert answer.choices[0].message.content == f"{says} says: what is it?"


def test_gateway_error_shows_its_message(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert "model 'gpt-9' is not available" in refused.value.message
    assert set(refused.value.body) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_cut_mid_way_raises(client, provider):
    stream = client.chat.completions.create(
        model=PROVIDERS[provider][0],
        messages=[{"role": "user", "content": f"please {replies.CUT} now"}],
        stream=True,
    )
    with pytest.raises(openai.APIError):
        list(stream)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_usage_and_cost_without_include_usage(client, front, provider):
    request_id = f"conform-py-usage-{provider}"
    stream = client.chat.completions.create(
        model=PROVIDERS[provider][0],
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        extra_headers={"X-Request-ID": request_id},
    )
    list(stream)
    llm = front.logged(request_id)["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (11, 7)
    assert llm["cost"] == pytest.approx(COST)
