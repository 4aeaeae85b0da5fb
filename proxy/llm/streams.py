"""Stream translators: a provider's streamed answer in, OpenAI `chat.completion.chunk` SSE out
(written by ChunkWriter), event by event as the bytes arrive (nothing is held back beyond one
unfinished event)."""

from __future__ import annotations

import time
from typing import Any

from plugins.sdk.sse import COMPACT_JSON, SSEEvent, SSEParser, json_event
from proxy.llm.wire import Call, Settle, new_id

DONE_EVENT = b"data: [DONE]\n\n"


class ChunkWriter:
    """The `chat.completion.chunk` events of one streamed answer, as SSE bytes."""

    def __init__(self, call: Call) -> None:
        self.model = call.model
        self.include_usage = call.include_usage
        self.created = int(time.time())
        self.id = new_id("chatcmpl-")

    @property
    def id(self) -> str:
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        """The envelope of every chunk is encoded once: each chunk only encodes its delta."""
        self._id = value
        head = {"id": value, "object": "chat.completion.chunk", "created": self.created}
        head["model"] = self.model
        self._prefix = b"data: " + COMPACT_JSON.encode(head)[:-1].encode()
        self._prefix += b',"choices":[{"index":'
        self._suffix = b"}]" + (b',"usage":null' if self.include_usage else b"") + b"}\n\n"

    def chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None, index: int = 0
    ) -> bytes:
        """A chunk of choice `index` (several when the request asked for `n` answers)."""
        finish = COMPACT_JSON.encode(finish_reason).encode()
        return (
            self._prefix
            + str(index).encode()
            + b',"delta":'
            + COMPACT_JSON.encode(delta).encode()
            + b',"logprobs":null,"finish_reason":'
            + finish
            + self._suffix
        )

    def role(self, choice: int = 0) -> bytes:
        return self.chunk({"role": "assistant", "content": ""}, index=choice)

    def text(self, text: str, choice: int = 0) -> bytes:
        return self.chunk({"content": text}, index=choice) if text else b""

    def reasoning(self, text: str, choice: int = 0) -> bytes:
        """Reasoning text, as `reasoning_content` deltas (DeepSeek's and vLLM's name)."""
        return self.chunk({"reasoning_content": text}, index=choice) if text else b""

    def tool_start(
        self, index: int, call_id: str, name: str, arguments: str = "", choice: int = 0
    ) -> bytes:
        function = {"name": name, "arguments": arguments}
        return self.chunk(
            {
                "tool_calls": [
                    {"index": index, "id": call_id, "type": "function", "function": function}
                ]
            },
            index=choice,
        )

    def tool_arguments(self, index: int, arguments: str) -> bytes:
        if not arguments:
            return b""
        return self.chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})

    def finish(self, finish_reason: str, choice: int = 0) -> bytes:
        return self.chunk({}, finish_reason, choice)

    def close(self, usage: dict[str, int] | None) -> bytes:
        """The usage chunk (when the client asked for it), then `[DONE]`."""
        if not self.include_usage:
            return DONE_EVENT
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }
        return json_event(payload).encode() + DONE_EVENT

    @staticmethod
    def error(message: str, kind: str = "upstream_error") -> bytes:
        """An error event as OpenAI streams them (the SDKs raise on it)."""
        return json_event({"error": {"message": message, "type": kind}}).encode()


class StreamTranslator:
    """Feed it the upstream body as it arrives; each call returns the client's bytes so far."""

    def __init__(self, call: Call, settle: Settle) -> None:
        self.call = call
        self.out = ChunkWriter(call)
        self.settle = settle
        self.usage: dict[str, int] | None = None
        self.finish_reason: str | None = None
        self.started = False
        self.closed = False

    def feed(self, data: bytes) -> bytes:
        raise NotImplementedError(".feed() must be overridden")

    def finish(self) -> bytes:
        """The upstream body ended: what is still owed to the client. `[DONE]` only follows an
        answer the provider finished; a stream left unfinished is ended with `fail`'s error
        event (see proxy.orchestrator.broken_ending)."""
        raise NotImplementedError(".finish() must be overridden")

    def start(self) -> bytes:
        """The first chunk (the assistant role), once."""
        if self.started:
            return b""
        self.started = True
        return self.out.role()

    def end(self, finish_reason: str) -> bytes:
        self.finish_reason = finish_reason
        return self.start() + self.out.finish(finish_reason)

    def close(self) -> bytes:
        """The usage chunk when asked for, and `[DONE]`; the usage is settled on the exchange."""
        if self.closed:
            return b""
        self.closed = True
        self.settle(self.usage)
        return self.out.close(self.usage)

    def fail(self, message: str, kind: str = "upstream_error") -> bytes:
        """The provider reported an error mid-stream, or its stream broke off: an OpenAI error
        event ends the stream (no `[DONE]`); the usage reported so far is settled."""
        if self.closed:
            return b""
        self.closed = True
        self.settle(self.usage)
        return self.out.error(message, kind)


class SSETranslator(StreamTranslator):
    """A provider that streams server-sent events: `event()` translates one of them."""

    def __init__(self, call: Call, settle: Settle) -> None:
        super().__init__(call, settle)
        self.parser = SSEParser()

    def feed(self, data: bytes) -> bytes:
        return b"".join(self.event(event) for event in self.parser.feed(data) if not self.closed)

    def finish(self) -> bytes:
        out = b"".join(self.event(event) for event in self.parser.finish() if not self.closed)
        if self.finish_reason is not None:
            out += self.close()
        return out

    def event(self, event: SSEEvent) -> bytes:
        raise NotImplementedError(".event() must be overridden")
