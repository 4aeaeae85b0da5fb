"""LangChain's `ChatOpenAI` through the gateway, for every provider."""

from __future__ import annotations

import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from tests.conformance.conftest import COST, PNG, WEATHER_SCHEMA
from tests.e2e.test_llm_front_e2e import PROVIDERS, WEATHER_TOOL
from tests.llm_mocks import replies

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chat_model(front):
    def made(provider: str, **headers: str) -> ChatOpenAI:
        return ChatOpenAI(
            model=PROVIDERS[provider][0] if provider in PROVIDERS else provider,
            base_url=f"{front.base_url}/v1",
            api_key=front.key,
            default_headers={"Host": front.host, **headers},
            max_retries=0,
            timeout=10,
        )

    return made


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat(chat_model, provider):
    answer = chat_model(provider).invoke("hello")
    assert answer.content == f"{PROVIDERS[provider][2]} says: hello"
    assert answer.usage_metadata["input_tokens"] == 11
    assert answer.usage_metadata["output_tokens"] == 7


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream(chat_model, provider):
    text = "".join(chunk.content for chunk in chat_model(provider).stream("flow"))
    assert text == f"{PROVIDERS[provider][2]} says: flow"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tool_arguments_streamed(chat_model, provider):
    chunks = list(chat_model(provider).bind_tools([WEATHER_TOOL]).stream("weather?"))
    pieces = [piece for chunk in chunks for piece in chunk.tool_call_chunks if piece["args"]]
    gathered = sum(chunks[1:], chunks[0])
    assert [(call["name"], call["args"]) for call in gathered.tool_calls] == [
        ("get_weather", replies.TOOL_ARGUMENTS)
    ]
    assert len(pieces) >= 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_structured_output(chat_model, provider):
    schema = {"title": "place", **WEATHER_SCHEMA}
    structured = chat_model(provider).with_structured_output(schema, method="json_schema")
    assert structured.invoke("where?") == replies.TOOL_ARGUMENTS


@pytest.mark.parametrize("provider", PROVIDERS)
def test_image(chat_model, provider):
    content = [
        {"type": "text", "text": "what is it?"},
        {"type": "image_url", "image_url": {"url": PNG}},
    ]
    answer = chat_model(provider).invoke([HumanMessage(content=content)])
    assert answer.content == f"{PROVIDERS[provider][2]} says: what is it?"


def test_gateway_error_shows_its_message(chat_model):
    with pytest.raises(openai.BadRequestError) as refused:
        chat_model("gpt-9").invoke("x")
    assert "model 'gpt-9' is not available" in str(refused.value)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_cut_mid_way_raises(chat_model, provider):
    with pytest.raises(openai.APIError):
        list(chat_model(provider).stream(f"please {replies.CUT} now"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_usage_and_cost_without_include_usage(chat_model, front, provider):
    request_id = f"conform-langchain-usage-{provider}"
    list(chat_model(provider, **{"X-Request-ID": request_id}).stream("count"))
    llm = front.logged(request_id)["llm"]
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (11, 7)
    assert llm["cost"] == pytest.approx(COST)
