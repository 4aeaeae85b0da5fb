"""The OpenAI SDK against the gateway under gunicorn, reaching every provider's mock; the
Anthropic SDK through a passthrough target."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.builders import routed_gateway
from tests.llm_mocks import replies
from tests.llm_mocks.openai import VECTOR
from tests.llm_mocks.server import LLMMockServer

pytestmark = pytest.mark.e2e

# provider -> (chat model, embeddings model or None, what its mock says, path it is asked on)
PROVIDERS = {
    "openai": ("gpt-4o-mini", "text-embedding-3-small", "openai", "/v1/chat/completions"),
    "mistral": ("mistral-small", "mistral-embed", "mistral", "/mistral/v1/chat/completions"),
    "azure": ("gpt-4o", "ada-embed", "azure:prod-4o", "/openai/deployments/prod-4o/chat"),
    "anthropic": ("claude-sonnet", None, "anthropic", "/v1/messages"),
    "google": ("gemini-flash", "text-embedding-004", "gemini", "/v1beta/models/gemini-flash"),
    "bedrock": ("anthropic.claude-3-haiku-20240307-v1:0", None, "bedrock", "/converse"),
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def provider_target(provider: str, base_url: str) -> dict:
    chat, embed, _, _ = PROVIDERS[provider]
    target = {
        "provider": "gemini" if provider == "google" else provider,  # the alias is accepted
        "base_url": f"{base_url}/mistral/v1" if provider == "mistral" else base_url,
        "models": [chat, embed] if embed else [chat],
        "default_model": chat,
        "credentials": {"api_key": replies.API_KEY},
    }
    if provider == "azure":
        target |= {"deployments": {chat: "prod-4o"}, "api_version": "2024-10-21"}
    if provider == "bedrock":
        target["credentials"] = {
            "aws_access_key_id": replies.AWS_ACCESS_KEY_ID,
            "aws_secret_access_key": replies.AWS_SECRET_ACCESS_KEY,
            "aws_region": replies.AWS_REGION,
        }
    return target


@pytest.fixture(scope="module")
def mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def front(gateway_server, mock):
    """One rule `/v1/*` whose upstream has a target per provider: the model picks the target."""
    return routed_gateway(
        gateway_server.post,
        subdomain="e2e-llm",
        target_dicts=[provider_target(p, mock.url) for p in PROVIDERS],
        path="/v1/*",
    )


@pytest.fixture(scope="module")
def client(gateway_server, front):
    return openai.OpenAI(
        base_url=f"{gateway_server.base_url}/v1",
        api_key=front.key,
        default_headers={"Host": "e2e-llm.localhost"},
        max_retries=0,
        timeout=10,
    )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat_reaches_every_provider(client, mock, provider):
    model, _, says, path = PROVIDERS[provider]
    answer = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
        ],
        temperature=0.2,
        max_completion_tokens=64,
        stop=["END"],
    )
    assert answer.object == "chat.completion"
    assert answer.model == model
    assert answer.choices[0].message.content == f"{says} says: hello"
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (11, 7)
    assert answer.usage.total_tokens == 18
    assert path in mock.last(path).path


def test_anthropic_gets_messages_api_body(client, mock):
    client.chat.completions.create(
        model="claude-sonnet",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        stop="END",
    )
    seen = mock.last("/v1/messages")
    body = json.loads(seen.body)
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096
    assert body["stop_sequences"] == ["END"]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in seen.headers  # the gateway key never goes upstream


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_reaches_every_provider(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "stream please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"{says} says: stream please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 18
    assert all(c.object == "chat.completion.chunk" for c in chunks)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_call_round_trip(client, provider):
    model = PROVIDERS[provider][0]
    question = [{"role": "user", "content": "weather in Paris?"}]
    first = client.chat.completions.create(model=model, messages=question, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == replies.TOOL_ARGUMENTS
    follow_up = [
        *question,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model=model, messages=follow_up, tools=[WEATHER_TOOL])
    assert "read the tool result" in second.choices[0].message.content
    assert "sunny" in second.choices[0].message.content


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_tool_call(client, provider):
    model = PROVIDERS[provider][0]
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, json.loads(arguments), finish) == (
        "get_weather",
        replies.TOOL_ARGUMENTS,
        "tool_calls",
    )


@pytest.mark.parametrize("provider", [p for p, spec in PROVIDERS.items() if spec[1]])
def test_embeddings(client, provider):
    model = PROVIDERS[provider][1]
    answer = client.embeddings.create(model=model, input=["one", "two"])
    assert [item.index for item in answer.data] == [0, 1]
    assert answer.data[1].embedding == pytest.approx(VECTOR)


def test_embeddings_refused_where_the_provider_has_none(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="claude-sonnet", input="one")
    assert refused.value.body["message"] == "embeddings are not available from provider anthropic"


def test_models_list_names_every_target_model(client):
    listed = {model.id: model.owned_by for model in client.models.list()}
    assert listed["claude-sonnet"] == "anthropic"
    assert listed["text-embedding-004"] == "google"
    assert len(listed) == sum(2 if spec[1] else 1 for spec in PROVIDERS.values())


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"model": "gpt-4o-mini", "prompt": "x"}', b'{"messages": []}']
)
def test_malformed_body_is_400(gateway_server, front, mock, body):
    before = len(mock.seen)
    response = gateway_server.proxy(
        "e2e-llm",
        "/v1/chat/completions",
        method="POST",
        key=front.key,
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "invalid request body"
    assert len(mock.seen) == before


def test_unknown_model_is_400_naming_the_allowed_ones(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    message = refused.value.body["message"]
    assert message.startswith("model 'gpt-9' is not available; allowed models: ")
    assert "claude-sonnet" in message


def test_provider_error_reaches_the_sdk_in_openai_shape(gateway_server, mock):
    """A Bedrock target signing with the wrong secret: the mock refuses the signature."""
    target = provider_target("bedrock", mock.url)
    target["credentials"]["aws_secret_access_key"] = "not-the-secret"
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-llm-badsig", target_dicts=[target], path="/v1/*"
    )
    client = openai.OpenAI(
        base_url=f"{gateway_server.base_url}/v1",
        api_key=gateway.key,
        default_headers={"Host": "e2e-llm-badsig.localhost"},
        max_retries=0,
    )
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(
            model=target["default_model"], messages=[{"role": "user", "content": "x"}]
        )
    assert "signature" in str(refused.value)
    assert refused.value.body["type"] == "AccessDeniedException"


def test_anthropic_sdk_through_a_passthrough_target(gateway_server, mock):
    target = {**provider_target("anthropic", mock.url), "mode": "passthrough"}
    gateway = routed_gateway(
        gateway_server.post, subdomain="e2e-llm-native", target_dicts=[target], path="/v1/*"
    )
    client = anthropic.Anthropic(
        base_url=gateway_server.base_url,
        api_key=gateway.key,  # sent as x-api-key: the gateway's key, replaced upstream
        default_headers={"Host": "e2e-llm-native.localhost"},
        max_retries=0,
    )
    message = client.messages.create(
        model="claude-sonnet", max_tokens=32, messages=[{"role": "user", "content": "native"}]
    )
    assert message.content[0].text == "anthropic says: native"
    assert mock.last("/v1/messages").headers["x-api-key"] == replies.API_KEY
    with client.messages.stream(
        model="claude-sonnet", max_tokens=32, messages=[{"role": "user", "content": "flow"}]
    ) as stream:
        assert "".join(stream.text_stream) == "anthropic says: flow"
