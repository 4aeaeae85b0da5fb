"""data_masking on streamed answers through gunicorn: values split across upstream chunks and
events are masked in OpenAI, Anthropic and plain text streams; tokens restored mid-stream."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json

import pytest

from plugins.sdk.sse import SSEParser
from tests.builders import routed_gateway

pytestmark = pytest.mark.e2e

SECRET = "a-long-enough-hmac-secret"
EMAIL = [{"entity": "email"}]
_names = itertools.count(1)


def gateway_with(server, upstream, *plugins: dict):
    subdomain = f"e2e-masking-{next(_names)}"
    gateway = routed_gateway(
        server.post,
        subdomain=subdomain,
        targets=[("127.0.0.1", upstream.port)],
        required_plugins=list(plugins),
    )
    return subdomain, gateway.key


def masking(stage: str, **settings) -> dict:
    return {"name": "data_masking", "stage": stage, "priority": 1, "settings": settings}


def scripted(server, upstream, plugins, chunks, content_type="text/event-stream", **extra):
    subdomain, key = gateway_with(server, upstream, *plugins)
    script = {"chunks": chunks, "content_type": content_type, **extra}
    response = server.proxy(subdomain, "/scripted", method="POST", key=key, json=script)
    assert response.status_code == 200
    return response.content


def events(body: bytes) -> list:
    parser = SSEParser()
    return parser.feed(body) + parser.finish()


def openai_chunk(text: str, finish: str | None = None) -> str:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return f"data: {json.dumps({'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"


def openai_text(body: bytes) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for event in events(body)
        if event.data != "[DONE]"
        for choice in event.json()["choices"]
    )


def anthropic_event(kind: str, **fields) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def text_delta(text: str) -> str:
    return anthropic_event(
        "content_block_delta", index=0, delta={"type": "text_delta", "text": text}
    )


SPLIT = ["reach me at jo", "hn.doe@exa", "mple.com today"]
MASKED = "reach me at [MASKED_EMAIL] today"


def test_openai_stream_masks_an_email_split_across_events(gateway_server, e2e_upstream):
    chunks = [openai_chunk(piece) for piece in SPLIT]
    chunks += [openai_chunk("", "stop"), "data: [DONE]\n\n"]
    body = scripted(
        gateway_server, e2e_upstream, [masking("post_response", predefined_entities=EMAIL)], chunks
    )
    assert openai_text(body) == MASKED
    assert events(body)[-1].data == "[DONE]"
    assert b"john" not in body
    assert b"exa" not in body


def test_anthropic_stream_masks_an_email_split_across_events(gateway_server, e2e_upstream):
    chunks = [
        anthropic_event("message_start", message={"id": "msg_1", "content": []}),
        anthropic_event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        *[text_delta(piece) for piece in SPLIT],
        anthropic_event("content_block_stop", index=0),
        anthropic_event("message_delta", delta={"stop_reason": "end_turn"}, usage={}),
        anthropic_event("message_stop"),
    ]
    # The event bytes themselves are cut mid-event too.
    raw = "".join(chunks)
    pieces = [raw[i : i + 37] for i in range(0, len(raw), 37)]
    body = scripted(
        gateway_server, e2e_upstream, [masking("post_response", predefined_entities=EMAIL)], pieces
    )
    parsed = events(body)
    text = "".join(e.json()["delta"]["text"] for e in parsed if e.event == "content_block_delta")
    assert text == MASKED
    assert [e.event for e in parsed][-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_plain_text_stream_masks_an_email_split_across_chunks(gateway_server, e2e_upstream):
    body = scripted(
        gateway_server,
        e2e_upstream,
        [masking("post_response", predefined_entities=EMAIL)],
        SPLIT,
        content_type="text/plain; charset=utf-8",
    )
    assert body.decode() == MASKED


def test_reversible_tokens_are_restored_inside_a_stream(gateway_server, e2e_upstream):
    """The request's email reaches the upstream as a token; the answer streams the token back
    cut across events, and the client reads its own email."""
    reversible = {"enabled": True, "secret": SECRET}
    plugins = [
        masking("pre_request", predefined_entities=EMAIL, reversible_hashing=reversible),
        masking("post_response", predefined_entities=EMAIL, reversible_hashing=reversible),
    ]
    digest = hmac.new(SECRET.encode(), b"jane@example.com", hashlib.sha256).hexdigest()[:8]
    token = f"<PII_EMAIL_{digest}>"
    answer = f"I will write to {token} now; also leak@example.org"
    chunks = [openai_chunk(answer[i : i + 5]) for i in range(0, len(answer), 5)]
    chunks += [openai_chunk("", "stop"), "data: [DONE]\n\n"]
    body = scripted(
        gateway_server, e2e_upstream, plugins, chunks, note="please mail jane@example.com"
    )
    seen = json.loads(e2e_upstream.seen[-1].body)
    assert seen["note"] == f"please mail {token}"  # the upstream never saw the email
    assert openai_text(body) == "I will write to jane@example.com now; also [MASKED_EMAIL]"
