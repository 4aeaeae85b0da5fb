"""The Python `openai` SDK's Responses API (`client.responses.create` / `.stream` / `.parse`)
through the gateway, for every provider: OpenAI and Azure answer through their own Responses
API, the others through the chat adapters; the conversation is the gateway's."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from tests.builders import created, routed_gateway
from tests.conformance.conftest import COST, PRICING
from tests.e2e.test_llm_front_e2e import PROVIDERS, provider_target
from tests.llm_mocks import replies

pytestmark = pytest.mark.e2e

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
# Where each provider's request lands on the mock (its own API, or the chat adapter's).
PATHS = {
    "openai": "/v1/responses",
    "azure": "/openai/v1/responses",
    "mistral": "/mistral/v1/chat/completions",
    "anthropic": "/v1/messages",
    "google": "/v1beta/models/gemini-flash",
    "bedrock": "/converse",
}


class Place(BaseModel):
    city: str


@pytest.fixture(scope="module")
def gateway(conformance_server, provider_mock):
    targets = [
        {**provider_target(provider, provider_mock.url), "pricing": PRICING}
        for provider in PROVIDERS
    ]
    return routed_gateway(
        conformance_server.post, subdomain="conform-responses", target_dicts=targets, path="/v1/*"
    )


def sdk(server, key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.base_url}/v1",
        api_key=key,
        default_headers={"Host": "conform-responses.localhost"},
        max_retries=0,
        timeout=10,
    )


@pytest.fixture(scope="module")
def client(conformance_server, gateway):
    return sdk(conformance_server, gateway.key)


@pytest.fixture(scope="module")
def other_client(conformance_server, gateway):
    path = f"/api/v1/gateways/{gateway.id}/keys"
    return sdk(conformance_server, created(conformance_server.post, path, {"name": "other"})["key"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_text(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    answer = client.responses.create(model=model, input="hello")
    assert answer.output_text == f"{says} says: hello"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (11, 7)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    with client.responses.stream(model=model, input="flow") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == f"{says} says: flow"
    assert final.output_text == f"{says} says: flow"
    assert final.usage.total_tokens == 18


@pytest.mark.parametrize("provider", PROVIDERS)
def test_function_call_output_round_trip(client, provider, provider_mock):
    model, _, says, _ = PROVIDERS[provider]
    first = client.responses.create(model=model, input="weather?", tools=[WEATHER])
    call = next(item for item in first.output if item.type == "function_call")
    assert (call.name, json.loads(call.arguments)) == ("get_weather", replies.TOOL_ARGUMENTS)
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    assert second.output_text.startswith(f"{says} read the tool result: ")
    assert "sunny" in second.output_text  # Gemini's mock reads the result as an object


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output(client, provider):
    answer = client.responses.parse(model=PROVIDERS[provider][0], input="where?", text_format=Place)
    assert answer.output_parsed == Place(**replies.TOOL_ARGUMENTS)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_three_turns_send_the_whole_history(client, provider, provider_mock):
    model, _, says, _ = PROVIDERS[provider]
    previous = None
    for word in ("one", "two", "three"):
        answer = client.responses.create(model=model, input=word, previous_response_id=previous)
        previous = answer.id
    assert answer.output_text == f"{says} says: three"
    sent = provider_mock.last(PATHS[provider]).body.decode()
    for text in ("one", f"{says} says: one", "two", f"{says} says: two", "three"):
        assert json.dumps(text)[1:-1] in sent


@pytest.mark.parametrize("provider", PROVIDERS)
def test_another_key_is_refused(client, other_client, provider):
    model = PROVIDERS[provider][0]
    answer = client.responses.create(model=model, input="mine")
    with pytest.raises(openai.NotFoundError):
        other_client.responses.create(model=model, input="x", previous_response_id=answer.id)
    with pytest.raises(openai.NotFoundError):
        other_client.responses.retrieve(answer.id)
    assert client.responses.retrieve(answer.id).id == answer.id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_store_false(client, provider):
    answer = client.responses.create(model=PROVIDERS[provider][0], input="gone", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(answer.id)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_stream_ends_in_response_failed(client, provider):
    stream = client.responses.create(
        model=PROVIDERS[provider][0], input=f"please {replies.CUT} now", stream=True
    )
    kinds = [event.type for event in stream]
    assert kinds[-1] == "response.failed"
    assert "response.completed" not in kinds


def test_usage_and_cost_are_logged(client, front):
    stream = client.responses.create(
        model=PROVIDERS["anthropic"][0],
        input="count",
        stream=True,
        extra_headers={"X-Request-ID": "conform-responses-usage"},
    )
    list(stream)
    llm = front.logged("conform-responses-usage")["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (11, 7)
    assert llm["cost"] == pytest.approx(COST)
