"""Masking and token restoring over a streamed text: only a bounded tail that could still grow
into a match is held back; everything before it is masked and sent at once."""

from __future__ import annotations

import re
from collections.abc import Callable

from plugins.builtin.data_masking.errors import scrubbed
from plugins.builtin.data_masking.masker import CONTEXT_WINDOW, Hits, Masker, restore_tokens
from plugins.sdk.streams.text_filter import TextFilter

HOLD = 256  # characters kept back: the longest value that may still be growing
STEP = 32  # text is let go in pieces of at least this much: fewer scans of the held tail
MAX_HOLD = 8192  # a match still growing past HOLD (a PEM key) is held up to this
WORD_BACKTRACK = 64  # a cut moves back at most this far to fall between words
TOKEN_PREFIX = re.compile(r"<(?:P(?:I(?:I(?:_[A-Za-z0-9_]{0,40})?)?)?)?$")
TOKEN_MAX = 60


class MaskingFilter(TextFilter):
    """One text of a streamed answer through the masker."""

    def __init__(self, masker: Masker, hits: Hits, on_hits: Callable[[], None]) -> None:
        self.masker = masker
        self.hits = hits
        self.on_hits = on_hits
        self.held = ""
        self.before = ""  # the end of the text sent so far: context words of what follows

    @scrubbed
    def feed(self, text: str) -> str:
        buffer = self.held + text
        limit = len(buffer) - HOLD
        if limit < STEP:
            self.held = buffer
            return ""
        cut = self.cut(buffer, limit)
        self.held = buffer[cut:]
        return self._send(buffer[:cut])

    @scrubbed
    def finish(self) -> str:
        held, self.held = self.held, ""
        return self._send(held)

    @scrubbed
    def complete(self, text: str) -> str:
        masked = self.masker.mask(text, self.hits)
        self.on_hits()
        return masked

    def _send(self, text: str) -> str:
        if not text:
            return ""
        masked = self.masker.mask(text, self.hits, context=self.before)
        self.before = (self.before + text)[-CONTEXT_WINDOW:]
        self.on_hits()
        return masked

    def cut(self, buffer: str, limit: int) -> int:
        """Where to stop sending: at most `limit`, never inside a match or a word."""
        spans = self.masker.candidate_spans(buffer)
        cut = limit
        for _ in range(8):
            previous = cut
            for start, end in spans:
                if start < cut < end:
                    cut = start
            cut = between_words(buffer, cut)
            if cut == previous:
                break
        if cut <= 0 and len(buffer) > MAX_HOLD:
            return limit  # a value longer than MAX_HOLD: mask what there is of it
        return cut


def between_words(text: str, cut: int) -> int:
    """`cut`, moved back to just after a whitespace when it falls inside a word."""
    if cut <= 0 or cut >= len(text) or text[cut - 1].isspace() or text[cut].isspace():
        return cut
    floor = max(0, cut - WORD_BACKTRACK)
    for index in range(cut - 1, floor - 1, -1):
        if text[index].isspace():
            return index + 1
    return cut


class RestoringFilter(TextFilter):
    """Tokens of the request put back; a tail that may be the start of a token is held."""

    def __init__(self, tokens: dict[str, str], restored: Callable[[], None]) -> None:
        self.tokens = tokens
        self.restored = restored
        self.held = ""

    @scrubbed
    def feed(self, text: str) -> str:
        buffer = self.held + text
        start = buffer.rfind("<", max(0, len(buffer) - TOKEN_MAX))
        if start >= 0 and TOKEN_PREFIX.match(buffer, start):
            self.held = buffer[start:]
            buffer = buffer[:start]
        else:
            self.held = ""
        return restore_tokens(buffer, self.tokens, self.restored)

    @scrubbed
    def finish(self) -> str:
        held, self.held = self.held, ""
        return restore_tokens(held, self.tokens, self.restored)

    @scrubbed
    def complete(self, text: str) -> str:
        return restore_tokens(text, self.tokens, self.restored)


class ChainedFilter(TextFilter):
    """`first`, then `second` over what it lets through."""

    def __init__(self, first: TextFilter, second: TextFilter) -> None:
        self.first = first
        self.second = second

    @scrubbed
    def feed(self, text: str) -> str:
        return self.second.feed(self.first.feed(text))

    @scrubbed
    def finish(self) -> str:
        return self.second.feed(self.first.finish()) + self.second.finish()

    @scrubbed
    def complete(self, text: str) -> str:
        return self.second.complete(self.first.complete(text))
