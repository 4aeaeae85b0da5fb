"""Stream translators: a provider's streamed answer in, OpenAI `chat.completion.chunk` SSE out,
event by event as the bytes arrive (nothing is held back beyond one unfinished event)."""

from __future__ import annotations

from plugins.base import LLMCall
from plugins.sse import SSEEvent, SSEParser
from proxy.llm.wire import Call, ChunkWriter, record_usage


class StreamTranslator:
    """Feed it the upstream body as it arrives; each call returns the client's bytes so far."""

    def __init__(self, call: Call, llm: LLMCall | None) -> None:
        self.call = call
        self.out = ChunkWriter(call)
        self.llm = llm
        self.usage: dict[str, int] | None = None
        self.finish_reason: str | None = None
        self.started = False
        self.closed = False

    def feed(self, data: bytes) -> bytes:
        raise NotImplementedError(".feed() must be overridden")

    def finish(self) -> bytes:
        """The upstream body ended: what is still owed to the client. `[DONE]` only follows an
        answer the provider finished; a cut-off stream stays cut off."""
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
        """The usage chunk when asked for, and `[DONE]`; the usage goes on the request's call."""
        if self.closed:
            return b""
        self.closed = True
        record_usage(self.llm, self.usage)
        return self.out.close(self.usage)

    def fail(self, message: str, kind: str = "upstream_error") -> bytes:
        """The provider reported an error mid-stream: an OpenAI error event ends the stream."""
        self.closed = True
        return self.out.error(message, kind)


class SSETranslator(StreamTranslator):
    """A provider that streams server-sent events: `event()` translates one of them."""

    def __init__(self, call: Call, llm: LLMCall | None) -> None:
        super().__init__(call, llm)
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
