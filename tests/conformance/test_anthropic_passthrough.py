"""Anthropic's own SDK through a passthrough target: the gateway forwards the Messages API."""

from __future__ import annotations

import base64
import json

import anthropic
import pytest

from tests.conformance.conftest import COST, PNG, WEATHER_SCHEMA
from tests.llm_mocks import replies

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture(scope="module")
def client(native_front):
    return anthropic.Anthropic(
        base_url=native_front.base_url,
        api_key=native_front.key,
        default_headers={"Host": native_front.host},
        max_retries=0,
        timeout=10,
    )


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_chat(client):
    message = client.messages.create(model=MODEL, max_tokens=32, messages=ask("hello"))
    assert message.content[0].text == "anthropic says: hello"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 7)


def test_stream(client):
    with client.messages.stream(model=MODEL, max_tokens=32, messages=ask("flow")) as stream:
        assert "".join(stream.text_stream) == "anthropic says: flow"


def test_tool_arguments_streamed(client):
    pieces = []
    with client.messages.stream(
        model=MODEL, max_tokens=32, messages=ask("weather?"), tools=[WEATHER_TOOL]
    ) as stream:
        for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                pieces.append(event.delta.partial_json)
        final = stream.get_final_message()
    assert len(pieces) == 2
    assert json.loads("".join(pieces)) == replies.TOOL_ARGUMENTS
    assert (final.content[0].name, final.content[0].input) == (
        "get_weather",
        replies.TOOL_ARGUMENTS,
    )


def test_structured_output(client):
    message = client.messages.create(
        model=MODEL,
        max_tokens=32,
        messages=ask("where?"),
        output_config={"format": {"type": "json_schema", "schema": WEATHER_SCHEMA}},
    )
    assert json.loads(message.content[0].text) == replies.TOOL_ARGUMENTS


def test_image(client):
    data = PNG.split(",", 1)[1]
    assert base64.b64decode(data).startswith(b"\x89PNG")
    image = {"type": "base64", "media_type": "image/png", "data": data}
    content = [{"type": "text", "text": "what is it?"}, {"type": "image", "source": image}]
    message = client.messages.create(
        model=MODEL, max_tokens=32, messages=[{"role": "user", "content": content}]
    )
    assert message.content[0].text == "anthropic says: what is it?"


def test_gateway_error_shows_its_message(client):
    stranger = client.with_options(api_key="tg-not-a-key")
    with pytest.raises(anthropic.AuthenticationError) as refused:
        stranger.messages.create(model=MODEL, max_tokens=32, messages=ask("x"))
    assert "invalid API key" in refused.value.message
    assert set(refused.value.body["error"]) == {"message", "type", "param", "code"}


def test_stream_cut_mid_way_raises(client):
    with (
        pytest.raises(anthropic.APIError),
        client.messages.stream(
            model=MODEL, max_tokens=32, messages=ask(f"please {replies.CUT} now")
        ) as stream,
    ):
        list(stream.text_stream)


def test_stream_usage_and_cost(client, native_front):
    request_id = "conform-anthropic-usage"
    with client.messages.stream(
        model=MODEL,
        max_tokens=32,
        messages=ask("count"),
        extra_headers={"X-Request-ID": request_id},
    ) as stream:
        stream.get_final_message()
    llm = native_front.logged(request_id)["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (11, 7)
    assert llm["cost"] == pytest.approx(COST)
