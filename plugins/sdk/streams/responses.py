"""OpenAI Responses events: each output item's text and function call arguments as texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.sdk.sse import SSEEvent, json_event
from plugins.sdk.streams.channels import Channel
from plugins.sdk.streams.events import EventStream

RESPONSES_DELTAS = ("response.output_text.delta", "response.function_call_arguments.delta")


class ResponsesEvents(EventStream):
    """The events of a response; held text is sent as a delta like the last one before the
    `.done` event of its output item."""

    def __init__(self, new_channel: Callable[[], Channel], first: Channel) -> None:
        super().__init__(new_channel, first)
        self.last_delta: dict[str, Any] = {}  # template of synthesised deltas

    def responses_delta(self, event: SSEEvent, payload: dict[str, Any]) -> bytes:
        if isinstance(payload.get("delta"), str):
            key = ("r", payload.get("output_index"), payload.get("content_index"))
            payload["delta"] = self.channel(key).feed(payload["delta"])
            self.last_delta = payload
        return self.rewritten(event, payload)

    def flush_responses(self, payload: dict[str, Any]) -> bytes:
        events = []
        item = payload.get("output_index")
        for key in [key for key in self.channels if key[0] == "r" and key[1] == item]:
            held = self.flush(key)
            if held:
                delta = {**self.last_delta, "delta": held, "content_index": key[2]}
                events.append(json_event(delta, event=delta.get("type", "")).encode())
        return b"".join(events)
