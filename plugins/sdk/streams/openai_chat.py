"""OpenAI chat completion chunks: each choice's content and tool call arguments as texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugins.sdk.sse import SSEEvent, json_event
from plugins.sdk.streams.channels import Channel
from plugins.sdk.streams.events import EventStream


class OpenAIChatChunks(EventStream):
    """The chunks of a chat completion; held text goes into the chunk that ends its choice, or
    into chunks made like the last one when the stream ends first."""

    def __init__(self, new_channel: Callable[[], Channel], first: Channel) -> None:
        super().__init__(new_channel, first)
        self.last_chunk: dict[str, Any] | None = None  # template of synthesised chunks

    def openai_chunk(self, event: SSEEvent, payload: dict[str, Any]) -> bytes:
        for choice in payload["choices"]:
            if isinstance(choice, dict) and isinstance(choice.get("delta"), dict):
                self.openai_choice(choice.get("index", 0), choice["delta"], choice)
        self.last_chunk = payload
        return self.rewritten(event, payload)

    def openai_choice(self, index: Any, delta: dict[str, Any], choice: dict[str, Any]) -> None:
        if isinstance(delta.get("content"), str):
            delta["content"] = self.channel(("c", index)).feed(delta["content"])
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                key = ("t", index, call.get("index", 0))
                function["arguments"] = self.channel(key).feed(function["arguments"])
        if choice.get("finish_reason"):
            self.flush_choice(index, delta)

    def flush_choice(self, index: Any, delta: dict[str, Any]) -> None:
        """The choice ends: its held text goes into this chunk's delta."""
        for key in [key for key in self.channels if key[:2] in (("c", index), ("t", index))]:
            held = self.flush(key)
            if not held:
                continue
            if key[0] == "c":
                delta["content"] = (delta.get("content") or "") + held
            else:
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": key[2], "function": {"arguments": held}})

    def synthesised_openai_chunks(self) -> bytes:
        chunks = []
        for index in dict.fromkeys(key[1] for key in self.channels if key[0] in ("c", "t")):
            delta: dict[str, Any] = {}
            self.flush_choice(index, delta)
            if delta:
                template = {k: v for k, v in (self.last_chunk or {}).items() if k != "usage"}
                template["choices"] = [{"index": index, "delta": delta, "finish_reason": None}]
                chunks.append(json_event(template).encode())
        return b"".join(chunks)
