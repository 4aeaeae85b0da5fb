"""Usage normalised across providers' wire formats (JSON answers and streams), and its cost."""

from __future__ import annotations

import json

import pytest

from plugins.sdk.context import LLMCall
from proxy.llm.usage import (
    FINISH_REASONS,
    NORMALISED_NAMES,
    USAGE_FIELDS,
    Pricing,
    StreamMeter,
    UsageScanner,
    merge_usage,
    settle_usage,
    usage_counts,
)

OPENAI = {
    "object": "chat.completion",
    "choices": [],
    "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
}
RESPONSES = {
    "object": "response",
    "output": [],
    "usage": {"input_tokens": 9, "output_tokens": 12, "total_tokens": 21},
}
ANTHROPIC = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "Hi"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 9, "output_tokens": 12},
}
GEMINI = {
    "candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "index": 0}],
    "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 12, "totalTokenCount": 21},
    "modelVersion": "gemini-2.0-flash",
}
BEDROCK = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 9, "outputTokens": 12, "totalTokens": 21},
    "metrics": {"latencyMs": 120},
}
NORMALISED = {"prompt_tokens": 9, "completion_tokens": 12}


@pytest.mark.parametrize(
    "answer",
    [OPENAI, RESPONSES, ANTHROPIC, GEMINI, BEDROCK],
    ids=["openai", "responses", "anthropic", "gemini", "bedrock"],
)
def test_json_answers_of_every_provider_normalise_alike(answer):
    usage: dict[str, int] = {}
    merge_usage(usage, answer)
    assert {k: usage[k] for k in NORMALISED} == NORMALISED
    call = LLMCall("p", "m")
    settle_usage(call, usage, None)
    assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (9, 12, 21)


def sse(*events: dict, separator: str = "\n") -> bytes:
    return "".join(f"data: {json.dumps(e)}{separator * 2}" for e in events).encode()


ANTHROPIC_STREAM = (
    b"event: message_start\n"
    + sse({"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}})
    + b"event: content_block_delta\n"
    + sse({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}})
    + b"event: message_delta\n"
    + sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 12},
        }
    )
    + b"event: message_stop\n"
    + sse({"type": "message_stop"})
)
GEMINI_STREAM = sse(
    {**GEMINI, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}},
    GEMINI,
    separator="\r\n",
)
BEDROCK_STREAM_METADATA = sse(  # ConverseStream's metadata event, once decoded from its frames
    {"usage": {"inputTokens": 9, "outputTokens": 12, "totalTokens": 21}, "metrics": {}}
)


@pytest.mark.parametrize(
    "stream",
    [ANTHROPIC_STREAM, GEMINI_STREAM, BEDROCK_STREAM_METADATA],
    ids=["anthropic", "gemini", "bedrock-metadata"],
)
def test_stream_usage_is_the_last_reported_wherever_chunks_split(stream):
    for cut in range(1, len(stream), 7):
        scanner = UsageScanner()
        scanner.feed(stream[:cut])
        scanner.feed(stream[cut:])
        scanner.finish()
        call = LLMCall("p", "m")
        settle_usage(call, scanner.usage, None)
        assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (9, 12, 21)


def test_a_normalised_usage_is_read_as_merging_it_would_read_it():
    # usage_counts reads a usage of normalised names as it is (the stream meter's, settled
    # once per answer): no provider's field of such a name means another.
    assert all(USAGE_FIELDS.get(name, name) == name for name in NORMALISED_NAMES)
    usage = {name: 7 for name in NORMALISED_NAMES - {FINISH_REASONS}} | {"total_tokens": -1}
    merged = {name: value for name, value in usage.items() if isinstance(value, int)}
    merge_usage(merged, {"usage": usage})
    assert usage_counts({**usage, FINISH_REASONS: ["stop"]}) == merged
    details = {"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}}
    assert usage_counts(details) == {"prompt_tokens": 9, "cached_tokens": 4}  # lifted still


def test_cost_is_tokens_times_the_price_per_million():
    call = LLMCall("openai", "gpt-4o")
    settle_usage(call, {"prompt_tokens": 1000, "completion_tokens": 2000}, Pricing(2.5, 10))
    assert call.total_tokens == 3000
    assert call.cost == pytest.approx((1000 * 2.5 + 2000 * 10) / 1_000_000)


def test_no_usage_reported_means_no_tokens_and_no_cost():
    call = LLMCall("openai", "gpt-4o")
    settle_usage(call, {}, Pricing(2.5, 10))
    assert (call.total_tokens, call.cost) == (None, None)


def test_negative_or_non_integer_counts_are_ignored():
    usage: dict[str, int] = {}
    merge_usage(
        usage, {"usage": {"prompt_tokens": -3, "completion_tokens": "7", "total_tokens": True}}
    )
    assert usage == {}


def sse(*events: dict) -> bytes:
    return b"".join(f"data: {json.dumps(event)}\n\n".encode() for event in events)


@pytest.mark.parametrize(
    "stream",
    [
        sse(  # OpenAI's chunks, `usage: null` in each when it is asked for
            {"choices": [{"delta": {"role": "assistant", "content": ""}}], "usage": None},
            {"choices": [{"delta": {"content": "Hello, "}}], "usage": None},
            {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": "{}x"}}]}}]},
        ),
        sse(  # Responses: deltas count, what repeats them does not
            {"type": "response.created", "response": {"output": []}},
            {"type": "response.output_text.delta", "delta": "Hello, world"},
            {"type": "response.output_text.done", "text": "Hello, world"},
        ),
        sse(  # Anthropic's, its prompt reported at the start
            {"type": "message_start", "message": {"content": [], "usage": {"input_tokens": 3}}},
            {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hello, "}},
            {"type": "content_block_delta", "delta": {"partial_json": "world"}},
        ),
        sse(  # Gemini's: usage in every chunk
            {"candidates": [{"content": {"parts": [{"text": "Hello, world"}]}}]}
            | {"usageMetadata": {"promptTokenCount": 3}},
        ),
    ],
)
def test_a_cut_stream_settles_its_delivered_text_at_4_characters_a_token(stream):
    settled: list[dict] = []
    meter = StreamMeter(settled.append, lambda: 3)
    meter.wrap(None)(stream)
    meter.finish(cut=True)
    assert settled == [{"prompt_tokens": 3, "completion_tokens": 3}]  # 12 characters


def test_a_stream_ended_whole_without_usage_settles_nothing_estimated():
    settled: list[dict] = []
    meter = StreamMeter(settled.append, lambda: 3)
    meter.wrap(None)(sse({"choices": [{"delta": {"content": "Hello, world"}}]}))
    meter.finish()
    assert settled == [{}]


@pytest.mark.parametrize(
    ("stream", "reasons"),
    [
        (sse({"choices": [{"delta": {}, "finish_reason": "length"}]}), ["length"]),
        (sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}), ["end_turn"]),
        (sse({"candidates": [{"finishReason": "STOP"}, {"finishReason": "MAX_TOKENS"}]}),
         ["STOP", "MAX_TOKENS"]),
        (json.dumps({"choices": [{"finish_reason": "stop"}]}).encode(), ["stop"]),
    ],
)  # fmt: skip
def test_the_meter_settles_the_finish_reasons_the_answer_reports(stream, reasons):
    call = LLMCall("openai", "m")
    meter = StreamMeter(lambda usage: settle_usage(call, usage, None), lambda: 0)
    meter.wrap(None)(stream)
    meter.finish()
    assert call.finish_reasons == tuple(reasons)
