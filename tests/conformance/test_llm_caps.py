"""The Python `openai` SDK reading what the gateway adds beyond a plain answer: reasoning text
(`reasoning_content`), cached prompt tokens (`usage.prompt_tokens_details`) and `n` choices."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.test_llm_front_e2e import PROVIDERS
from tests.llm_mocks import replies

pytestmark = pytest.mark.e2e

THINKERS = ("anthropic", "bedrock", "google")
MARK = {"type": "ephemeral"}


@pytest.fixture(scope="module")
def client(front):
    return openai.OpenAI(
        base_url=f"{front.base_url}/v1",
        api_key=front.key,
        default_headers={"Host": front.host},
        max_retries=0,
        timeout=10,
    )


@pytest.mark.parametrize("provider", THINKERS)
def test_reasoning_content_streamed_and_in_the_message(client, provider):
    model, _, says, _ = PROVIDERS[provider]
    asked = {"model": model, "messages": [{"role": "user", "content": "why?"}]}
    answer = client.chat.completions.create(**asked, reasoning_effort="medium")
    assert answer.choices[0].message.reasoning_content == replies.THOUGHT
    assert answer.choices[0].message.content == f"{says} says: why?"
    stream = client.chat.completions.create(**asked, reasoning_effort="medium", stream=True)
    deltas = [chunk.choices[0].delta for chunk in stream if chunk.choices]
    reasoning = "".join(getattr(delta, "reasoning_content", None) or "" for delta in deltas)
    assert reasoning == replies.THOUGHT
    assert "".join(delta.content or "" for delta in deltas) == f"{says} says: why?"


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "google"])
def test_cached_prompt_tokens_in_the_usage(client, provider):
    """Marked for Anthropic's and Bedrock's caches; Gemini caches on its own."""
    text = {"type": "text", "text": f"{replies.CACHED}: the manual"}
    if provider in ("anthropic", "bedrock"):
        text["cache_control"] = MARK
    answer = client.chat.completions.create(
        model=PROVIDERS[provider][0],
        messages=[{"role": "user", "content": [text, {"type": "text", "text": "hello"}]}],
    )
    assert answer.usage.prompt_tokens_details.cached_tokens == replies.CACHED_TOKENS


def test_n_answers_streamed_as_choices(client):
    stream = client.chat.completions.create(
        model=PROVIDERS["google"][0],
        messages=[{"role": "user", "content": "twice"}],
        n=2,
        stream=True,
    )
    texts = ["", ""]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == ["gemini says: twice"] * 2


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_n_where_the_provider_answers_once_is_refused_naming_n(client, provider):
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=PROVIDERS[provider][0], messages=[{"role": "user", "content": "x"}], n=2
        )
    assert refused.value.param == "n"
