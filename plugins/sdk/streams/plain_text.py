"""A plain text answer sent in pieces: one channel over the whole body."""

from __future__ import annotations

import codecs
from collections.abc import Callable

from plugins.sdk.streams.channels import Channel, StreamCut, TextStream


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
