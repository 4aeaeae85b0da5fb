"""Input normalisation before matching: URL-decoded twice, HTML entities, compatibility forms,
no invisibles, format characters or combining marks, ASCII digits; mapped back when asked."""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from urllib.parse import unquote

# Invisible characters an attacker can slip inside a keyword (zero-width, joiners, BOM, soft
# hyphen, bidi controls); removed.
INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u3164\ufeff\uffa0"
)
# Cyrillic and Greek letters drawn like Latin ones (`ѕеlеct`), read as the Latin letter.
LOOK_ALIKES = {
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
DROPPED_CATEGORIES = ("Cf", "Mn")  # format characters (soft hyphen, U+180E...), combining marks
MAX_FOLDED = 100_000  # characters whose folded form is kept: bounded whatever a client sends
NON_ASCII = re.compile(r"[^\x00-\x7f]+")
NON_ASCII_SPLIT = re.compile(r"([^\x00-\x7f]+)")
ESCAPE_RE = re.compile(r"%[0-9A-Fa-f]{2}")
# An inline comment reads as a blank (`UNION/**/SELECT`); a fixed, linear pattern. It stays on
# one line: texts joined by new lines (engine.SEPARATOR) are normalised as each one would be.
INLINE_COMMENT_RE = re.compile(r"/\*[^*\n]*\*+(?:[^/*\n][^*\n]*\*+)*/")


def url_decoded(text: str, *, plus: bool = False) -> str:
    """`text` percent-decoded twice (`..%252f` -> `../`); `+` is a space in a query."""
    if plus and "+" in text:
        text = text.replace("+", " ")
    for _ in range(2):
        if "%" not in text or not ESCAPE_RE.search(text):
            break
        text = unquote(text, errors="replace")
    return text


def folded_char(char: str) -> str:
    """One character as it is matched: its compatibility decomposition (NFKD: full-width and
    other compatibility forms) without invisible characters, format characters and combining
    marks; decimal digits of any script as ASCII digits; Cyrillic and Greek look-alikes as
    Latin; what is left composed again (NFC). Empty for a character that is dropped."""
    kept = []
    for part in unicodedata.normalize("NFKD", char):
        if part in INVISIBLE or unicodedata.category(part) in DROPPED_CATEGORIES:
            continue
        digit = unicodedata.decimal(part, None)
        kept.append(str(digit) if digit is not None else LOOK_ALIKES.get(part, part))
    return unicodedata.normalize("NFC", "".join(kept))  # a Hangul syllable stays one


class FoldTable(dict[int, str]):
    """str.translate's table of `folded_char`, filled as characters are met (up to MAX_FOLDED)."""

    def __missing__(self, code: int) -> str:
        folded = folded_char(chr(code))
        if len(self) < MAX_FOLDED:
            self[code] = folded
        return folded


FOLD_TABLE = FoldTable()


def unicode_folded(text: str) -> str:
    """`text` with each character folded (`folded_char`); pure ASCII text as is, and only the
    runs of other characters looked up (most texts are mostly ASCII)."""
    if text.isascii():
        return text
    pieces = NON_ASCII_SPLIT.split(text)
    pieces[1::2] = [run.translate(FOLD_TABLE) for run in pieces[1::2]]
    return "".join(pieces)


class Origins:
    """Where each character of a folded text comes from in the original `text`; worked out on
    first use (most texts have nothing to map back), from the characters whose folded form is
    not one character long (dropped or widened): the others keep the offsets as they are."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.shifts: tuple[list[int], list[int], list[int]] | None = None

    def _build(self) -> tuple[list[int], list[int], list[int]]:
        folded_at, original_at, lengths = [], [], []
        delta = 0  # index in the folded text - index in the original
        for run in NON_ASCII.finditer(self.text):
            for index, char in enumerate(run.group(), run.start()):
                length = len(FOLD_TABLE[ord(char)])
                if length != 1:
                    folded_at.append(index + delta)
                    original_at.append(index)
                    lengths.append(length)
                    delta += length - 1
        return folded_at, original_at, lengths

    def index(self, folded: int) -> int:
        """The index in the original text of the character folded index `folded` comes from."""
        if self.shifts is None:
            self.shifts = self._build()
        folded_at, original_at, lengths = self.shifts
        last = bisect.bisect_right(folded_at, folded) - 1
        if last < 0:
            return folded
        if folded < folded_at[last] + lengths[last]:
            return original_at[last]
        return original_at[last] + 1 + folded - folded_at[last] - lengths[last]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters a non-empty span `start:end` of the folded text covers."""
        return self.index(start), self.index(end - 1) + 1


def folded_with_origins(text: str) -> tuple[str, Origins]:
    """`text` folded as `unicode_folded` does, and the way back from the folded text to it."""
    return unicode_folded(text), Origins(text)


def normalise(text: str, *, plus: bool = False) -> str:
    """The text a detector matches: Unicode folded (before decoding too: `%2ｅ`), URL-decoded
    twice, HTML entities decoded, inline comments read as blanks. Plain ASCII text without
    `%`, `+`, `&` or `/*` is returned as is."""
    text = url_decoded(unicode_folded(text), plus=plus)
    if "&" in text:
        text = html.unescape(text)
    if "/*" in text:
        text = INLINE_COMMENT_RE.sub(" ", text)
    return unicode_folded(text)
