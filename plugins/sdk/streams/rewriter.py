"""The text filters of a chain over one streamed answer: the stream shape that reads it (events
of any of the three wire formats, or plain text), the rewriter, and the cut of a body no filter
reads."""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from typing import Protocol

from plugins.sdk.context import RequestContext, ResponseContext
from plugins.sdk.media_types import is_binary, media_type
from plugins.sdk.sse import DONE, SSEError, SSEEvent
from plugins.sdk.streams.anthropic import ANTHROPIC_EVENTS, AnthropicEvents
from plugins.sdk.streams.channels import Channel, FilterOwner, StreamCut, TextStream
from plugins.sdk.streams.events import error_events
from plugins.sdk.streams.openai_chat import OpenAIChatChunks
from plugins.sdk.streams.plain_text import PlainTextStream
from plugins.sdk.streams.responses import RESPONSES_DELTAS, ResponsesEvents
from plugins.sdk.streams.text_filter import TextFilter

logger = logging.getLogger(__name__)


class FilteringPlugin(FilterOwner, Protocol):
    """A plugin of a response stage, as the rewriter asks it for filters."""

    def stream_filter(
        self, request: RequestContext, response: ResponseContext
    ) -> TextFilter | None: ...


class EventTextStream(OpenAIChatChunks, AnthropicEvents, ResponsesEvents):
    """An SSE stream of any wire format: each event to the format it belongs to."""

    def event(self, event: SSEEvent) -> bytes:
        if event.data == DONE:
            return self.flush_all() + event.encode()
        payload = event.json()
        if not isinstance(payload, dict):
            if event.data:
                event.data = self.loose.complete(event.data)
            return event.encode()
        kind = payload.get("type")
        if isinstance(payload.get("choices"), list):
            return self.openai_chunk(event, payload)
        if kind in ANTHROPIC_EVENTS:
            self.anthropic = True
            return self.anthropic_event(event, payload)
        if kind in RESPONSES_DELTAS:
            return self.responses_delta(event, payload)
        prefix = b""
        if isinstance(kind, str) and kind.startswith("response.") and kind.endswith(".done"):
            prefix = self.flush_responses(payload)
        self.anthropic = self.anthropic or kind == "message_start"
        return prefix + self.rewritten(event, self.complete_strings(payload))

    def flush_all(self) -> bytes:
        if self.anthropic:
            return self.flush_anthropic(lambda key: True)
        responses = [key for key in self.channels if key[0] == "r"]
        held = b"".join(self.flush_responses({"output_index": key[1]}) for key in responses)
        return held + self.synthesised_openai_chunks()


def cut_chunks(
    chunks: Generator[bytes, None, bool], request: RequestContext, response: ResponseContext
) -> Generator[bytes, None, bool]:
    """A body no text filter reads, ended as a filtered one is when a chunk hook cuts it: an
    event stream with its error events (Anthropic's once the stream began as one), any other
    body with a broken transfer. Returns whether it was sent whole."""
    event_stream = media_type(response.headers.get("Content-Type", "")) == "text/event-stream"
    anthropic = False
    while True:
        try:
            chunk = next(chunks)
        except StopIteration as end:
            return bool(end.value)
        except StreamCut as cut:
            chunks.close()
            request.verdicts.append((cut.plugin, "stream", cut.decision))
            if not event_stream:
                raise ConnectionAbortedError(cut.message) from cut
            yield error_events(cut, anthropic)
            return False
        anthropic = anthropic or b"event: message_start" in chunk
        yield chunk


class StreamRewriter:
    """The text filters of a chain over one streamed answer."""

    def __init__(self, stream: TextStream, request: RequestContext) -> None:
        self.stream = stream
        self.request = request

    def rewrite(self, chunks: Generator[bytes, None, bool]) -> Generator[bytes, None, bool]:
        """The rewritten body; returns whether the upstream body ended and nothing was cut."""
        try:
            complete = yield from self._filtered(chunks)
            tail = self.stream.finish()
            if tail:
                yield tail
            return complete
        except SSEError as exc:
            logger.warning("unreadable event stream (request %s): %s", self.request.request_id, exc)
            chunks.close()
            yield self.stream.error(StreamCut("upstream stream unreadable", "gateway_error"))
            return False
        except StreamCut as cut:
            chunks.close()
            if cut.plugin:
                self.request.verdicts.append((cut.plugin, "stream", cut.decision))
            yield cut.pending + self.stream.error(cut)
            return False

    def _filtered(self, chunks: Generator[bytes, None, bool]) -> Generator[bytes, None, bool]:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration as end:
                return bool(end.value)
            out = self.stream.feed(chunk)
            if out:
                yield out


def stream_rewriter(
    plugins: Sequence[FilteringPlugin], request: RequestContext, response: ResponseContext
) -> StreamRewriter | None:
    """A rewriter when the answer is text (not binary: see plugins.sdk.media_types) and a plugin
    filters it; None otherwise."""
    content_type = response.headers.get("Content-Type", "")
    if not plugins or is_binary(content_type):
        return None

    def new_channel() -> Channel:
        filters: list[tuple[FilterOwner, TextFilter]] = []
        for plugin in plugins:
            text_filter = plugin.stream_filter(request, response)
            if text_filter is not None:
                filters.append((plugin, text_filter))
        return Channel(filters)

    first = new_channel()
    if not first.filters:
        return None
    media = media_type(content_type)
    if media == "text/event-stream":
        stream: TextStream = EventTextStream(new_channel, first)
    else:
        stream = PlainTextStream(new_channel, first, strict=not media)
    return StreamRewriter(stream, request)
