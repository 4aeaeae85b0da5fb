"""Server-sent events: an incremental parser of a byte stream, and the encoder of one event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# One event (all its lines) larger than this ends the stream: nothing legitimate is that big.
MAX_EVENT_BYTES = 4 * 1024 * 1024
DONE = "[DONE]"


class SSEError(ValueError):
    """The stream is not a well-formed, bounded event stream."""


@dataclass
class SSEEvent:
    """One event: its `data` lines joined by newlines, its `event` name, `id` and `retry`."""

    data: str = ""
    event: str = ""
    id: str | None = None
    retry: str | None = None

    def json(self) -> Any:
        """The data as JSON; None for `[DONE]`, an empty data or data that is not JSON."""
        if not self.data or self.data == DONE:
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    def encode(self) -> bytes:
        if not self.event and self.id is None and self.retry is None and "\n" not in self.data:
            return b"data: " + self.data.encode() + b"\n\n"  # the usual one-line event
        lines = []
        if self.event:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        lines.extend(f"data: {line}" for line in self.data.split("\n"))
        return ("\n".join(lines) + "\n\n").encode()


# Built once: json.dumps with separators builds an encoder per call.
COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def json_event(payload: Any, event: str = "") -> SSEEvent:
    """An event whose data is `payload` as compact JSON."""
    return SSEEvent(data=COMPACT_JSON.encode(payload), event=event)


class SSEParser:
    """Feed it the body as it arrives; it returns the events completed so far (WHATWG rules:
    LF, CRLF or CR line ends, `:` comments ignored, one optional space after the colon)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: str | None = None
        self._size = 0
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._pending_cr = chunk.endswith(b"\r")
        data = self._buffer + chunk
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > MAX_EVENT_BYTES:
            raise SSEError("event stream line too long")
        events = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def finish(self) -> list[SSEEvent]:
        """The stream ended: a last event without its blank line still counts."""
        events = self.feed(b"\n") if self._buffer else []
        if self._data or self._event:
            events.append(self._dispatch())
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            return self._dispatch() if (self._data or self._event) else None
        self._size += len(raw)
        if self._size > MAX_EVENT_BYTES:
            raise SSEError("event too large")
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        elif name == "retry":
            self._retry = value
        return None

    def _dispatch(self) -> SSEEvent:
        event = SSEEvent("\n".join(self._data), self._event, self._id, self._retry)
        self._data, self._event, self._id, self._retry, self._size = [], "", None, None, 0
        return event
