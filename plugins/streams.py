"""Streamed answers as text: each delta of an SSE stream (OpenAI chat chunks, Anthropic and
Responses events) or a plain text stream goes through the plugins' text filters as it arrives,
and the events are written again around what the filters let through."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Callable, Generator
from typing import Any

from plugins.base import Plugin, RequestContext, ResponseContext, StreamStop, TextFilter
from plugins.media_types import is_binary, media_type
from plugins.sse import DONE, SSEError, SSEEvent, SSEParser, json_event

logger = logging.getLogger(__name__)

ANTHROPIC_DELTA_FIELDS = ("text", "partial_json", "thinking")
RESPONSES_DELTAS = ("response.output_text.delta", "response.function_call_arguments.delta")
# A channel is one text of the answer: ("c", choice) content, ("t", choice, call) tool
# arguments, ("a", block, field) Anthropic block, ("r", item, part) Responses output.
ChannelKey = tuple[Any, ...]


class StreamCut(Exception):
    """The stream must end now with an error event: `plugin` stopped it ("reject") or
    crashed ("fail")."""

    def __init__(self, message: str, kind: str, plugin: str = "", decision: str = "fail") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.plugin = plugin
        self.decision = decision
        self.pending = b""  # what the events before the cut, in the same chunk, made


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class Channel:
    """The filters of the plugins, in chain order, over one text of the answer."""

    def __init__(self, filters: list[tuple[Plugin, TextFilter]]) -> None:
        self.filters = filters

    def feed(self, text: str) -> str:
        for plugin, text_filter in self.filters:
            text = _guarded(plugin, text_filter.feed, text)
        return text

    def finish(self) -> str:
        """What the filters held back, each filter's rest passed through the ones after it."""
        text = ""
        for plugin, text_filter in self.filters:
            held = _guarded(plugin, text_filter.feed, text) if text else ""
            text = held + _guarded(plugin, text_filter.finish)
        return text

    def complete(self, text: str) -> str:
        for plugin, text_filter in self.filters:
            text = _guarded(plugin, text_filter.complete, text)
        return text


def _guarded(plugin: Plugin, call: Callable[..., str], *args: str) -> str:
    try:
        return call(*args)
    except StreamStop as stop:
        raise StreamCut(stop.message, stop.kind, plugin.name, "reject") from stop
    except Exception as exc:
        logger.exception(
            "plugin %s (%s) failed on a streamed answer", plugin.name, plugin.instance_id
        )
        raise StreamCut(plugin.stream_error_message, plugin.name, plugin.name) from exc


class TextStream:
    """Base of the two stream shapes: bytes in, bytes out, one Channel per text."""

    def __init__(self, new_channel: Callable[[], Channel], first: Channel) -> None:
        self.new_channel = new_channel
        self.channels: dict[ChannelKey, Channel] = {}
        self.spare: Channel | None = first  # made to learn whether any plugin filters

    def channel(self, key: ChannelKey) -> Channel:
        if key not in self.channels:
            spare, self.spare = self.spare, None
            self.channels[key] = spare or self.new_channel()
        return self.channels[key]

    def flush(self, key: ChannelKey) -> str:
        channel = self.channels.pop(key, None)
        return channel.finish() if channel is not None else ""

    def feed(self, chunk: bytes) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        raise NotImplementedError

    def error(self, cut: StreamCut) -> bytes:
        """The bytes that end the stream after a cut."""
        raise NotImplementedError


class PlainTextStream(TextStream):
    """A text body sent in pieces: decoded incrementally as UTF-8, one channel. A body of no
    declared type (`strict`) must decode: bytes that do not cut the stream with the first
    filtering plugin's stream error (it may be binary, and the filters could not read it)."""

    def __init__(self, new_channel: Callable[[], Channel], first: Channel, strict: bool) -> None:
        super().__init__(new_channel, first)
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict" if strict else "replace")
        self.owner = first.filters[0][0]

    def decode(self, chunk: bytes, final: bool = False) -> str:
        try:
            return self.decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            owner = self.owner
            raise StreamCut(owner.stream_error_message, owner.name, owner.name) from exc

    def feed(self, chunk: bytes) -> bytes:
        return self.channel(("p",)).feed(self.decode(chunk)).encode()

    def finish(self) -> bytes:
        channel = self.channel(("p",))
        return (channel.feed(self.decode(b"", final=True)) + self.flush(("p",))).encode()

    def error(self, cut: StreamCut) -> bytes:
        # Plain text has no error event: the connection is dropped before the body's end, so
        # the client sees a broken transfer rather than a complete answer.
        raise ConnectionAbortedError(cut.message)


class EventTextStream(TextStream):
    """An SSE stream: text deltas through channels, other strings through `complete`, held
    text given back before the event that ends its text."""

    def __init__(self, new_channel: Callable[[], Channel], first: Channel) -> None:
        super().__init__(new_channel, first)
        self.parser = SSEParser()
        self.anthropic = False
        self.last_chunk: dict[str, Any] | None = None  # template of synthesised OpenAI chunks
        self.last_delta: dict[str, Any] = {}  # template of synthesised Responses deltas
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
        if kind in ("content_block_delta", "content_block_stop", "message_delta", "message_stop"):
            self.anthropic = True
            return self.anthropic_event(event, payload)
        if kind in RESPONSES_DELTAS:
            return self.responses_delta(event, payload)
        prefix = b""
        if isinstance(kind, str) and kind.startswith("response.") and kind.endswith(".done"):
            prefix = self.flush_responses(payload)
        self.anthropic = self.anthropic or kind == "message_start"
        return prefix + self.rewritten(event, self.complete_strings(payload))

    @staticmethod
    def rewritten(event: SSEEvent, payload: Any) -> bytes:
        event.data = _dumps(payload)
        return event.encode()

    def complete_strings(self, value: Any) -> Any:
        """Every string of a non-delta event through the filters' `complete`."""
        if isinstance(value, str):
            return self.loose.complete(value)
        if isinstance(value, dict):
            return {key: self.complete_strings(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.complete_strings(item) for item in value]
        return value

    # OpenAI chat completion chunks

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

    # Anthropic Messages events

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

    # OpenAI Responses events

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

    def flush_all(self) -> bytes:
        if self.anthropic:
            return self.flush_anthropic(lambda key: True)
        responses = [key for key in self.channels if key[0] == "r"]
        held = b"".join(self.flush_responses({"output_index": key[1]}) for key in responses)
        return held + self.synthesised_openai_chunks()


def error_events(cut: StreamCut, anthropic: bool, done: bool = True) -> bytes:
    """The events that end an event stream after a cut: Anthropic's error event, or OpenAI's
    error chunk and (`done`) [DONE]."""
    if anthropic:
        error = {"type": "error", "error": {"type": cut.kind, "message": cut.message}}
        return json_event(error, event="error").encode()
    error_event = json_event({"error": {"message": cut.message, "type": cut.kind}}).encode()
    return error_event + SSEEvent(DONE).encode() if done else error_event


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
    plugins: tuple[Plugin, ...], request: RequestContext, response: ResponseContext
) -> StreamRewriter | None:
    """A rewriter when the answer is text (not binary: see plugins.media_types) and a plugin
    filters it; None otherwise."""
    content_type = response.headers.get("Content-Type", "")
    if not plugins or is_binary(content_type):
        return None

    def new_channel() -> Channel:
        filters = []
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
