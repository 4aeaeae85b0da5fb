"""The filters over one text of a streamed answer (a channel), and the base of the stream shapes
that keep one channel per text."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from plugins.sdk.streams.text_filter import StreamStop, TextFilter

logger = logging.getLogger(__name__)

# A channel is one text of the answer: ("c", choice) content, ("t", choice, call) tool
# arguments, ("a", block, field) Anthropic block, ("r", item, part) Responses output,
# ("p",) a plain text body.
ChannelKey = tuple[Any, ...]


class FilterOwner(Protocol):
    """What a stream needs of the plugin behind a filter (plugins.base.Plugin has it)."""

    name: str
    instance_id: str
    stream_error_message: str


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


class Channel:
    """The filters of the plugins, in chain order, over one text of the answer."""

    def __init__(self, filters: list[tuple[FilterOwner, TextFilter]]) -> None:
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


def _guarded(plugin: FilterOwner, call: Callable[..., str], *args: str) -> str:
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
