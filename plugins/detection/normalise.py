"""Input normalisation before matching: URL-decoded twice, HTML entities, NFKC, no invisibles."""

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
TRANSLATION = {**dict.fromkeys(map(ord, INVISIBLE)), **{ord(k): v for k, v in LOOK_ALIKES.items()}}
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


def unicode_folded(text: str) -> str:
    """NFKC (full-width and other compatibility forms), invisible characters removed, Cyrillic
    and Greek look-alikes read as Latin."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(TRANSLATION)


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
