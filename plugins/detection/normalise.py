"""Input normalisation before matching: URL-decoded twice, HTML entities, compatibility forms,
no invisibles, format characters or combining marks, ASCII digits; mapped back when asked."""

from __future__ import annotations

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
FOLDED: dict[str, str] = {}  # a character -> its folded form, filled as characters are met
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
    Latin. Empty for a character that is dropped."""
    folded = FOLDED.get(char)
    if folded is None:
        kept = []
        for part in unicodedata.normalize("NFKD", char):
            if part in INVISIBLE or unicodedata.category(part) in DROPPED_CATEGORIES:
                continue
            digit = unicodedata.decimal(part, None)
            kept.append(str(digit) if digit is not None else LOOK_ALIKES.get(part, part))
        folded = FOLDED[char] = "".join(kept)  # bounded by the characters Unicode has
    return folded


def unicode_folded(text: str) -> str:
    """`text` with each character folded (`folded_char`); pure ASCII text as is."""
    if text.isascii():
        return text
    return "".join(map(folded_char, text))


def folded_with_origins(text: str) -> tuple[str, list[int]]:
    """`text` folded as `unicode_folded` does, and for each character of the folded text the
    index in `text` of the character it comes from (a span found in the folded text maps back
    to the original characters, whatever was dropped or widened between them)."""
    folded, origins = [], []
    for index, char in enumerate(text):
        piece = char if char.isascii() else folded_char(char)
        folded.append(piece)
        origins.extend([index] * len(piece))
    return "".join(folded), origins


def original_span(origins: list[int], start: int, end: int) -> tuple[int, int]:
    """The span of the original text a non-empty span `start:end` of the folded text covers."""
    return origins[start], origins[end - 1] + 1


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
