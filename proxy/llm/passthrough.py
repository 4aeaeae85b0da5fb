"""Passthrough targets of providers speaking OpenAI's format: a chat stream whose client did not
ask for its usage is asked for it, metered, and its usage-only chunk not relayed, as on
translated targets (the adapter's own stream, proxy.llm.openai.UsageStream)."""

from __future__ import annotations

import json

from plugins.sdk.context import RequestContext
from proxy.balancer import Target
from proxy.llm.adapters import ADAPTERS
from proxy.llm.base import Adapter
from proxy.llm.openai import OpenAIAdapter
from proxy.llm.usage import parse_json
from proxy.llm.wire import CHAT, Call, TargetOptions
from proxy.outgoing import OutgoingRequest

CHAT_PATH = "/chat/completions"


def metered_stream(
    target: Target,
    options: TargetOptions,
    model: str,
    context: RequestContext,
    outgoing: OutgoingRequest,
) -> tuple[Adapter, Call] | None:
    """The adapter and call whose stream translator meters the answer (None when the request
    is not such a stream); the outgoing body then asks for `stream_options.include_usage`."""
    adapter = ADAPTERS[target.provider]
    if not isinstance(adapter, OpenAIAdapter) or context.method != "POST":
        return None
    body = context.json_body()
    if not context.path.endswith(CHAT_PATH) or not isinstance(body, dict):
        return None
    call = Call(CHAT, body, model, target, options)
    sent = parse_json(outgoing.body)
    if not adapter.hides_usage(call) or not isinstance(sent, dict):
        return None
    stream_options = sent.get("stream_options")
    stream_options = stream_options if isinstance(stream_options, dict) else {}
    sent["stream_options"] = {**stream_options, "include_usage": True}
    outgoing.body = json.dumps(sent).encode()
    return adapter, call
