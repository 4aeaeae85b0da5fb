"""Provider translation both ways, on the adapters themselves: request bodies built from an
OpenAI request, answers mapped back, streams translated event by event."""

from __future__ import annotations

import base64
import functools
import json
import struct

import pytest

from plugins.sdk.context import LLMCall
from plugins.sdk.sse import SSEParser
from proxy.balancer import Target
from proxy.llm.adapters import ADAPTERS
from proxy.llm.usage import settle_usage
from proxy.llm.wire import CHAT, EMBEDDINGS, Call, InvalidRequest, TargetOptions
from tests.llm_mocks import anthropic as anthropic_mock
from tests.llm_mocks import bedrock as bedrock_mock
from tests.llm_mocks.replies import Reply

PNG = "data:image/png;base64,iVBORw0KGgo="
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is on these?"},
            {"type": "image_url", "image_url": {"url": PNG}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


def unmetered(usage):
    """Where a test reads no usage: a translator's usage goes nowhere."""


def call(provider: str, body: dict, endpoint: str = CHAT, **options) -> Call:
    target = Target(
        key="t",
        base_url="https://llm.example.com",
        provider=provider,
        models=("m",),
        default_model="m",
        credentials={"api_key": "k"},
    )
    return Call(endpoint, body, "m", target, TargetOptions(**options))


def chunks_of(stream: bytes) -> list:
    events = SSEParser().feed(stream)
    return [event.data if event.data == "[DONE]" else event.json() for event in events]


def test_anthropic_request_hoists_system_maps_images_tools_and_results():
    body = {
        "model": "m",
        "messages": CONVERSATION,
        "tools": [TOOL],
        "tool_choice": "required",
        "stop": "END",
        "temperature": 0.5,
    }
    built = ADAPTERS["anthropic"].chat_request(call("anthropic", body))
    assert built.path == "/v1/messages"
    assert built.body["system"] == "Be brief."
    assert built.body["max_tokens"] == 4096
    assert built.body["stop_sequences"] == ["END"]
    assert built.body["tool_choice"] == {"type": "any"}
    assert built.body["tools"][0]["input_schema"] == TOOL["function"]["parameters"]
    user, assistant, results = built.body["messages"]
    assert user["content"][1]["source"] == {
        "type": "base64",
        "media_type": "image/png",
        "data": "iVBORw0KGgo=",
    }
    assert user["content"][2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}
    assert assistant["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert results == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}],
    }


def test_gemini_request_maps_roles_system_images_and_function_responses():
    body = {"model": "m", "messages": CONVERSATION, "max_tokens": 50, "stream": True}
    built = ADAPTERS["google"].chat_request(call("google", body))
    assert built.path == "/v1beta/models/m:streamGenerateContent"
    assert built.query == {"alt": "sse"}
    assert built.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert built.body["generationConfig"] == {"maxOutputTokens": 50}
    user, model, result = built.body["contents"]
    assert [user["role"], model["role"], result["role"]] == ["user", "model", "user"]
    assert user["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert user["parts"][2]["fileData"]["fileUri"] == "https://example.com/cat.jpg"
    assert model["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]
    assert result["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}
    ]


def test_bedrock_request_is_a_converse_body():
    messages = [CONVERSATION[0], {"role": "user", "content": "hi"}, *CONVERSATION[2:]]
    body = {"model": "m", "messages": messages, "tools": [TOOL], "max_tokens": 9}
    built = ADAPTERS["bedrock"].chat_request(call("bedrock", body))
    assert built.path == "/model/m/converse"
    assert built.body["system"] == [{"text": "Be brief."}]
    assert built.body["inferenceConfig"] == {"maxTokens": 9}
    assert (
        built.body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
        == (TOOL["function"]["parameters"])
    )
    assert built.body["messages"][1]["content"][0]["toolUse"]["input"] == {"city": "Paris"}
    assert built.body["messages"][2]["content"][0]["toolResult"]["toolUseId"] == "call_1"
    with pytest.raises(InvalidRequest):  # Converse takes image bytes, not URLs
        ADAPTERS["bedrock"].chat_request(call("bedrock", {"model": "m", "messages": CONVERSATION}))


def test_azure_request_goes_to_the_models_deployment():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    built = ADAPTERS["azure"].chat_request(
        call("azure", body, deployments={"m": "prod"}, api_version="2024-06-01")
    )
    assert built.path == "/openai/deployments/prod/chat/completions"
    assert built.query == {"api-version": "2024-06-01"}


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_anthropic_json_answers_come_from_a_forced_tool(kind):
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    response_format = {"type": kind}
    if kind == "json_schema":
        response_format["json_schema"] = {"name": "x", "schema": schema}
    body = {"messages": [{"role": "user", "content": "json"}], "response_format": response_format}
    request = call("anthropic", body)
    built = ADAPTERS["anthropic"].chat_request(request)
    assert built.body["tool_choice"] == {"type": "tool", "name": "json_response"}
    tool_input = {"a": 1}
    answer = ADAPTERS["anthropic"].chat_answer(
        {
            "content": [
                {"type": "tool_use", "id": "t", "name": "json_response", "input": tool_input}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 3, "output_tokens": 2},
        },
        request,
    )
    assert json.loads(answer["choices"][0]["message"]["content"]) == tool_input
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_bedrock_json_answers_come_from_a_forced_tool_streamed_or_not():
    body = {
        "messages": [{"role": "user", "content": "json"}],
        "response_format": {"type": "json_object"},
    }
    request = call("bedrock", body)
    built = ADAPTERS["bedrock"].chat_request(request)
    assert built.body["toolConfig"]["toolChoice"] == {"tool": {"name": "json_response"}}
    answer = ADAPTERS["bedrock"].chat_answer(
        {
            "output": {
                "message": {"content": [{"toolUse": {"name": "json_response", "input": {"a": 1}}}]}
            },
            "stopReason": "tool_use",
        },
        request,
    )
    assert answer["choices"][0]["message"]["content"] == '{"a": 1}'
    assert answer["choices"][0]["finish_reason"] == "stop"
    raw = bedrock_stream(Reply("", "json_response"))
    translator = ADAPTERS["bedrock"].chat_stream(
        call("bedrock", {**body, "stream": True}), unmetered
    )
    chunks = chunks_of(translator.feed(raw) + translator.finish())
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert json.loads(text) == {"city": "Paris"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks[:-1])


def test_gemini_json_schema_becomes_its_response_schema():
    schema = {"type": "object"}
    body = {
        "messages": [{"role": "user", "content": "json"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    config = ADAPTERS["google"].chat_request(call("google", body)).body["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


def anthropic_stream(reply: Reply) -> bytes:
    return b"".join(anthropic_mock.stream({"model": "m"}, reply))


def bedrock_stream(reply: Reply) -> bytes:
    return b"".join(bedrock_mock.stream(reply))


STREAMS = {"anthropic": anthropic_stream, "bedrock": bedrock_stream}


@pytest.mark.parametrize("provider", STREAMS)
def test_stream_fed_byte_by_byte_gives_the_same_chunks(provider):
    raw = STREAMS[provider](Reply("hello there, world"))
    body = {"messages": [], "stream": True, "stream_options": {"include_usage": True}}
    whole = ADAPTERS[provider].chat_stream(call(provider, body), unmetered)
    at_once = whole.feed(raw) + whole.finish()
    llm = LLMCall(provider, "m")
    split = ADAPTERS[provider].chat_stream(
        call(provider, body), functools.partial(settle_usage, llm, pricing=None)
    )
    pieces = b"".join(split.feed(raw[i : i + 1]) for i in range(len(raw))) + split.finish()
    strip = [
        {**c, "id": "", "created": 0} if isinstance(c, dict) else c for c in chunks_of(at_once)
    ]
    assert strip == [
        {**c, "id": "", "created": 0} if isinstance(c, dict) else c for c in chunks_of(pieces)
    ]
    chunks = chunks_of(pieces)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-2])
    assert text == "hello there, world"
    assert chunks[-2]["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert chunks[-1] == "[DONE]"
    assert (llm.prompt_tokens, llm.completion_tokens, llm.total_tokens) == (11, 7, 18)


@pytest.mark.parametrize("provider", STREAMS)
def test_each_event_is_translated_as_it_arrives(provider):
    """No buffering: the first text delta is out as soon as its event is complete."""
    reply = Reply("XYZWVU")
    if provider == "anthropic":
        raw = anthropic_mock.stream({"model": "m"}, reply)
    else:
        raw = bedrock_mock.stream(reply)
    translator = ADAPTERS[provider].chat_stream(
        call(provider, {"messages": [], "stream": True}), unmetered
    )
    first_text = next(i for i, event in enumerate(raw) if b"XY" in event)
    out = b"".join(translator.feed(event) for event in raw[: first_text + 1])
    assert chunks_of(out)[-1]["choices"][0]["delta"] == {"content": "XY"}


def test_a_stream_cut_off_gets_no_done():
    raw = anthropic_stream(Reply("hello"))
    cut = raw[: raw.index(b"event: message_delta")]
    translator = ADAPTERS["anthropic"].chat_stream(call("anthropic", {"stream": True}), unmetered)
    out = translator.feed(cut) + translator.finish()
    assert b"[DONE]" not in out
    assert b"hello"[:1] in out


def test_an_error_event_mid_stream_ends_it_with_an_openai_error():
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    raw = anthropic_stream(Reply("hello")).split(b"event: content_block_stop")[0]
    raw += f"event: error\ndata: {json.dumps(error)}\n\n".encode()
    translator = ADAPTERS["anthropic"].chat_stream(call("anthropic", {"stream": True}), unmetered)
    chunks = chunks_of(translator.feed(raw) + translator.finish())
    assert chunks[-1] == {"error": {"message": "Overloaded", "type": "overloaded_error"}}


def test_bedrock_exception_message_ends_the_stream():
    start = bedrock_mock.message("messageStart", {"role": "assistant"})
    error = bedrock_mock.message("throttlingException", {"message": "Slow down"}, "exception")
    translator = ADAPTERS["bedrock"].chat_stream(call("bedrock", {"stream": True}), unmetered)
    chunks = chunks_of(translator.feed(start + error) + translator.finish())
    assert chunks[-1] == {"error": {"message": "Slow down", "type": "throttlingException"}}


def test_gemini_stream_ends_with_done_after_the_finish_reason():
    pieces = [
        {"candidates": [{"content": {"parts": [{"text": "he"}], "role": "model"}}]},
        {
            "candidates": [
                {"content": {"parts": [{"text": "llo"}], "role": "model"}, "finishReason": "STOP"}
            ],
            "usageMetadata": {
                "promptTokenCount": 4,
                "candidatesTokenCount": 2,
                "totalTokenCount": 6,
            },
        },
    ]
    raw = b"".join(f"data: {json.dumps(p)}\r\n\r\n".encode() for p in pieces)
    body = {"stream": True, "stream_options": {"include_usage": True}}
    translator = ADAPTERS["google"].chat_stream(call("google", body), unmetered)
    chunks = chunks_of(translator.feed(raw) + translator.finish())
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-2]) == "hello"
    assert chunks[-3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-2]["usage"]["total_tokens"] == 6
    assert chunks[-1] == "[DONE]"


def test_embeddings_in_base64_are_little_endian_float32():
    request = call("google", {"input": ["a"], "encoding_format": "base64"}, endpoint=EMBEDDINGS)
    answer = ADAPTERS["google"].embeddings_answer(
        {"embeddings": [{"values": [0.5, -1.0]}]}, request
    )
    raw = base64.b64decode(answer["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -1.0)
