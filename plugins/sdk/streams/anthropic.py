"""Anthropic Messages events: each content block's text, JSON input or thinking as texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.sdk.sse import SSEEvent, json_event
from plugins.sdk.streams.channels import ChannelKey
from plugins.sdk.streams.events import EventStream

ANTHROPIC_DELTA_FIELDS = ("text", "partial_json", "thinking")
# The events that make a stream Anthropic's and go through anthropic_event.
ANTHROPIC_EVENTS = ("content_block_delta", "content_block_stop", "message_delta", "message_stop")


class AnthropicEvents(EventStream):
    """The events of a message; held text is sent as a delta before the event ending its block
    (or the message)."""

    def anthropic_event(self, event: SSEEvent, payload: dict[str, Any]) -> bytes:
        kind, index = payload["type"], payload.get("index")
        if kind == "content_block_delta" and isinstance(payload.get("delta"), dict):
            delta = payload["delta"]
            for name in ANTHROPIC_DELTA_FIELDS:
                if isinstance(delta.get(name), str):
                    delta[name] = self.channel(("a", index, name)).feed(delta[name])
            return self.rewritten(event, payload)
        if kind == "content_block_stop":
            return self.flush_anthropic(lambda key: key[1] == index) + event.encode()
        return self.flush_anthropic(lambda key: True) + self.rewritten(
            event, self.complete_strings(payload)
        )

    def flush_anthropic(self, wanted: Callable[[ChannelKey], bool]) -> bytes:
        events = []
        for key in [key for key in self.channels if key[0] == "a" and wanted(key)]:
            held = self.flush(key)
            if held:
                delta_type = {"text": "text_delta", "partial_json": "input_json_delta"}
                delta = {"type": delta_type.get(key[2], f"{key[2]}_delta"), key[2]: held}
                payload = {"type": "content_block_delta", "index": key[1], "delta": delta}
                events.append(json_event(payload, event="content_block_delta").encode())
        return b"".join(events)
