"""The base of an SSE answer read as text: events parsed as they arrive, each rewritten by its
wire format (plugins.sdk.streams.openai_chat, .anthropic, .responses), and the error events that
end a cut stream."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gateway_project.json_strings import map_strings
from plugins.sdk.sse import DONE, SSEEvent, SSEParser, json_event
from plugins.sdk.streams.channels import Channel, StreamCut, TextStream


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class EventStream(TextStream):
    """An SSE stream: text deltas through channels, other strings through `complete`, held
    text given back before the event that ends its text."""

    def __init__(self, new_channel: Callable[[], Channel], first: Channel) -> None:
        super().__init__(new_channel, first)
        self.parser = SSEParser()
        self.anthropic = False  # the stream is Anthropic's: its cut ends with its error event
        self.loose = new_channel()  # filters' `complete` over strings of other events

    def feed(self, chunk: bytes) -> bytes:
        return self.events(self.parser.feed(chunk))

    def finish(self) -> bytes:
        return self.events([*self.parser.finish(), None])

    def events(self, events: list[SSEEvent | None]) -> bytes:
        """The events rewritten (None: the end of the stream); on a cut, what the events before
        it made is kept on the cut, to be sent before the error event."""
        out = []
        try:
            for event in events:
                out.append(self.flush_all() if event is None else self.event(event))
        except StreamCut as cut:
            cut.pending = b"".join(out)
            raise
        return b"".join(out)

    def error(self, cut: StreamCut) -> bytes:
        return error_events(cut, self.anthropic)

    def event(self, event: SSEEvent) -> bytes:
        """One event rewritten, with the text held for the texts it ends."""
        raise NotImplementedError

    def flush_all(self) -> bytes:
        """The stream ended: the text every channel still holds, as events of its format."""
        raise NotImplementedError

    @staticmethod
    def rewritten(event: SSEEvent, payload: Any) -> bytes:
        event.data = _dumps(payload)
        return event.encode()

    def complete_strings(self, value: Any) -> Any:
        """Every string of a non-delta event through the filters' `complete`."""
        return map_strings(value, self.loose.complete)


def error_events(cut: StreamCut, anthropic: bool, done: bool = True) -> bytes:
    """The events that end an event stream after a cut: Anthropic's error event, or OpenAI's
    error chunk and (`done`) [DONE]."""
    if anthropic:
        error = {"type": "error", "error": {"type": cut.kind, "message": cut.message}}
        return json_event(error, event="error").encode()
    error_event = json_event({"error": {"message": cut.message, "type": cut.kind}}).encode()
    return error_event + SSEEvent(DONE).encode() if done else error_event
