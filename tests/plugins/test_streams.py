"""Stream text filters: deltas of OpenAI, Anthropic and Responses events and plain text go
through plugin filters however the stream is cut, held text comes back before its end, and a
stop or a crash ends the stream with an error event (through the real proxy too)."""

from __future__ import annotations

import gzip
import json

import pytest
from requests.structures import CaseInsensitiveDict

from plugins.sdk.context import ResponseContext
from plugins.sdk.sse import SSEParser
from plugins.sdk.streams.rewriter import stream_rewriter
from tests.plugins.helpers import make_plugin, make_request

HOST = "api.localhost"


def openai_chunk(text: str, finish: str | None = None, index: int = 0) -> str:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": index, "delta": {"content": text}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n"


def anthropic_event(kind: str, **fields) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def text_delta(index: int, text: str) -> str:
    return anthropic_event(
        "content_block_delta", index=index, delta={"type": "text_delta", "text": text}
    )


OPENAI_STREAM = (
    "".join(
        [
            openai_chunk("my secr"),
            openai_chunk("et is "),
            openai_chunk("se"),
            openai_chunk("", "stop"),
        ]
    )
    + "data: [DONE]\n\n"
)
ANTHROPIC_STREAM = "".join(
    [
        anthropic_event("message_start", message={"id": "msg_1", "content": []}),
        anthropic_event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        text_delta(0, "a sec"),
        text_delta(0, "ret and a se"),
        anthropic_event("content_block_stop", index=0),
        anthropic_event("message_delta", delta={"stop_reason": "end_turn"}, usage={}),
        anthropic_event("message_stop"),
    ]
)


@pytest.fixture
def redact(sample_plugins):
    def build(**settings):
        return make_plugin("redact", settings, stage="post_response")

    return build


def rewrite(plugin, body: str, content_type: str, size: int) -> bytes:
    response = ResponseContext(200, CaseInsensitiveDict({"Content-Type": content_type}))
    rewriter = stream_rewriter((plugin,), make_request(), response)
    raw = body.encode()

    def chunks():
        for start in range(0, len(raw), size):
            yield raw[start : start + size]
        return True

    return b"".join(rewriter.rewrite(chunks()))


def events(body: bytes) -> list:
    parser = SSEParser()
    return parser.feed(body) + parser.finish()


def openai_text(body: bytes) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for event in events(body)
        if (payload := event.json())
        for choice in payload["choices"]
    )


def anthropic_text(body: bytes) -> str:
    return "".join(
        payload["delta"]["text"]
        for event in events(body)
        if (payload := event.json()) and payload["type"] == "content_block_delta"
    )


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_openai_deltas_are_filtered_across_chunk_and_event_boundaries(redact, size):
    body = rewrite(redact(), OPENAI_STREAM, "text/event-stream", size)
    assert openai_text(body) == "my [gone] is se"
    assert body.endswith(b"data: [DONE]\n\n")
    assert b"secr" not in body


def test_openai_text_held_at_the_end_comes_back_in_a_chunk_before_done(redact):
    body = rewrite(
        redact(), openai_chunk("ends with sec") + "data: [DONE]\n\n", "text/event-stream", 5
    )
    assert openai_text(body) == "ends with sec"
    assert [e.data for e in events(body)][-1] == "[DONE]"


def test_choices_and_tool_arguments_are_separate_texts(redact):
    chunk = {
        "object": "chat.completion.chunk",
        "choices": [
            {"index": 0, "delta": {"content": "sec"}, "finish_reason": None},
            {
                "index": 1,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"k":"sec'}}]},
                "finish_reason": None,
            },
        ],
    }
    tail = {
        "object": "chat.completion.chunk",
        "choices": [
            {
                "index": 1,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'ret"}'}}]},
            },
            {"index": 0, "delta": {"content": "ond"}, "finish_reason": "stop"},
        ],
    }
    stream = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(tail)}\n\ndata: [DONE]\n\n"
    body = rewrite(redact(), stream, "text/event-stream", 4)
    arguments = "".join(
        call["function"]["arguments"]
        for event in events(body)
        if (payload := event.json())
        for choice in payload["choices"]
        for call in choice["delta"].get("tool_calls", [])
    )
    assert arguments == '{"k":"[gone]"}'
    assert openai_text(body) == "second"


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_anthropic_text_deltas_are_filtered_and_flushed_before_block_stop(redact, size):
    body = rewrite(redact(), ANTHROPIC_STREAM, "text/event-stream; charset=utf-8", size)
    assert anthropic_text(body) == "a [gone] and a se"
    kinds = [event.event for event in events(body)]
    assert kinds.index("content_block_stop") > max(
        i for i, kind in enumerate(kinds) if kind == "content_block_delta"
    )
    assert kinds[-1] == "message_stop"


def test_strings_of_other_events_are_filtered_whole(redact):
    stream = 'data: {"type": "response.output_text.done", "output_index": 0, "text": "secret"}\n\n'
    body = rewrite(redact(), stream, "text/event-stream", 2)
    assert events(body)[0].json()["text"] == "[gone]"


def test_responses_deltas_are_filtered(redact):
    delta = {"type": "response.output_text.delta", "output_index": 0, "content_index": 0}
    done = {"type": "response.output_text.done", "output_index": 0, "text": "a secret b sec"}
    stream = "".join(
        f"event: {delta['type']}\ndata: {json.dumps({**delta, 'delta': text})}\n\n"
        for text in ("a se", "cret b", " sec")
    )
    stream += f"event: {done['type']}\ndata: {json.dumps(done)}\n\n"
    body = rewrite(redact(), stream, "text/event-stream", 3)
    deltas = [e.json() for e in events(body) if e.event == "response.output_text.delta"]
    assert "".join(d["delta"] for d in deltas) == "a [gone] b sec"
    assert events(body)[-1].json()["text"] == "a [gone] b sec"


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_plain_text_streams_are_filtered_and_utf8_is_never_cut(redact, size):
    body = rewrite(redact(), "héllo secret wörld secre", "text/plain; charset=utf-8", size)
    assert body.decode() == "héllo [gone] wörld secre"


def test_a_stop_ends_an_openai_stream_with_an_error_event_and_done(redact):
    body = rewrite(redact(stop_on="is"), OPENAI_STREAM, "text/event-stream", 1000)
    parsed = events(body)
    assert parsed[-2].json() == {"error": {"message": "content flagged: is", "type": "guardrail"}}
    assert parsed[-1].data == "[DONE]"
    assert openai_text(b"".join(e.encode() for e in parsed[:-2])) == "my "


def test_a_crash_ends_an_anthropic_stream_with_its_error_event(redact):
    body = rewrite(redact(crash_on="and"), ANTHROPIC_STREAM, "text/event-stream", 1000)
    last = events(body)[-1]
    assert last.event == "error"
    assert last.json() == {
        "type": "error",
        "error": {"type": "redact", "message": "redaction failed"},
    }
    assert b"and" not in body.split(b"event: error")[0].split(b"content_block_delta")[-1]


def test_binary_bodies_get_no_rewriter(redact):
    response = ResponseContext(200, CaseInsensitiveDict({"Content-Type": "image/png"}))
    assert stream_rewriter((redact(),), make_request(), response) is None


# Through the proxy, with a real upstream streaming the bytes in separate HTTP chunks.


def scripted(proxy_client, gateway, chunks, content_type="text/event-stream", gzip_it=False):
    script = {"chunks": chunks, "content_type": content_type, "gzip": gzip_it}
    response = proxy_client.post(
        "/scripted",
        json.dumps(script),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    return response, b"".join(response.streaming_content)


def redact_route(route, **settings):
    return route(
        plugin_chain=[
            {"name": "redact", "stage": "post_response", "priority": 1, "settings": settings}
        ]
    )


def test_proxy_masks_a_word_split_across_upstream_chunks(sample_plugins, route, proxy_client):
    gateway = redact_route(route)
    pieces = [openai_chunk("top sec"), openai_chunk("ret inside"), openai_chunk("", "stop")]
    response, body = scripted(proxy_client, gateway, [*pieces, "data: [DONE]\n\n"])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert openai_text(body) == "top [gone] inside"
    assert b"sec" not in body.replace(b"[gone]", b"")


def test_proxy_cuts_a_flagged_stream_with_an_error_event(sample_plugins, route, proxy_client):
    gateway = redact_route(route, stop_on="bad")
    pieces = [openai_chunk("fine "), openai_chunk("then bad"), openai_chunk(" words")]
    _, body = scripted(proxy_client, gateway, [*pieces, "data: [DONE]\n\n"])
    parsed = events(body)
    assert parsed[-2].json()["error"]["type"] == "guardrail"
    assert b"words" not in body


def test_proxy_decodes_a_gzip_text_stream_before_filtering(sample_plugins, route, proxy_client):
    gateway = redact_route(route)
    response, body = scripted(
        proxy_client, gateway, ["a sec", "ret b"], content_type="text/plain", gzip_it=True
    )
    assert "Content-Encoding" not in response
    assert body == b"a [gone] b"


def test_proxy_passes_a_gzip_stream_untouched_without_filters(route, proxy_client):
    gateway = route()
    response, body = scripted(
        proxy_client, gateway, ["a sec", "ret b"], content_type="text/plain", gzip_it=True
    )
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == b"a secret b"


def test_a_crash_in_a_plain_text_stream_breaks_the_transfer(redact):
    response = ResponseContext(200, CaseInsensitiveDict({"Content-Type": "text/plain"}))
    rewriter = stream_rewriter((redact(crash_on="boom"),), make_request(), response)

    def chunks():
        yield b"fine, "
        yield b"then boom"
        return True

    body = rewriter.rewrite(chunks())
    assert next(body) == b"fine, "
    with pytest.raises(ConnectionAbortedError):
        next(body)
