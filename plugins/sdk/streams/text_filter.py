"""What a plugin writes to read a streamed answer: a TextFilter per text, StreamStop to cut it."""

from __future__ import annotations


class StreamStop(Exception):
    """Raised by a stream text filter to end a streamed answer at once: the client gets what
    was sent so far, then an error event with `message` and `type` (e.g. "guardrail")."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class TextFilter:
    """A plugin's view of one text of a streamed answer (one choice's content, one tool call's
    arguments, one content block), fed as the deltas arrive.

    `feed` returns the text that may be sent now: a filter may hold back a tail that could
    still grow into a match, and must give it back (processed) from `finish`, called once when
    that text ends. `complete` processes a self-contained string of an event that is not a
    delta (e.g. a final event repeating the whole text). Raise StreamStop to cut the stream;
    any other error cuts it too, with the plugin's `stream_error_message`."""

    def feed(self, text: str) -> str:
        return text

    def finish(self) -> str:
        return ""

    def complete(self, text: str) -> str:
        return text
