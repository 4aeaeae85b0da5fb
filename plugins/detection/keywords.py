"""Keyword matching by Levenshtein similarity per word (and per run of words for phrases)."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from plugins.detection.normalise import normalise

WORD_RE = re.compile(r"\w+")
# ASCII text is split on its punctuation and blanks at C speed; other text by `\w+`.
ASCII_SEPARATORS = str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))
# Digits and signs written for letters (`b0mb`, `expl0s1ve`): a word is also tried read so.
LEET = str.maketrans("0134579", "oieasgt")
CUTOFF_TOLERANCE = 1e-4
DIGIT_RE = re.compile(r"[0-9]")


def words_of(text: str) -> list[str]:
    """The words of a normalised, lower-cased text."""
    if text.isascii():
        return text.translate(ASCII_SEPARATORS).split()
    return WORD_RE.findall(text)


def readings_of(text: str) -> list[list[str]]:
    """The words of `text`; and of `text` with digits read as letters when a word mixes them."""
    text = normalise(text).lower()
    words = words_of(text)
    if DIGIT_RE.search(text) and any(not w.isalpha() and not w.isdigit() for w in set(words)):
        return [words, words_of(text.translate(LEET))]
    return [words]


class KeywordMatcher:
    """Keywords (one or more words each), compiled once; `first` names the first keyword with
    a word (or a run of as many words) at least `threshold` similar to it."""

    def __init__(self, keywords: Iterable[str], threshold: float) -> None:
        self.keywords: tuple[tuple[int, str], ...] = tuple(
            (index, " ".join(words_of(normalise(keyword).lower())))
            for index, keyword in enumerate(keywords)
        )
        # rapidfuzz compares in floating point: 0.8 would refuse `bombs` for `bomb` (exactly
        # 0.8); similarity steps are at least 1/200 (keywords are at most 200 characters).
        self.cutoff = threshold - CUTOFF_TOLERANCE

    def __bool__(self) -> bool:
        return bool(self.keywords)

    def first(self, text: str) -> int | None:
        """The index of the first keyword found in `text`, else None."""
        readings = readings_of(text)
        if not readings[0] or not self.keywords:
            return None
        unique = set(readings[0]).union(*readings[1:])
        by_length: dict[int, list[str]] = {}
        for word in unique:
            by_length.setdefault(len(word), []).append(word)
        for index, keyword in self.keywords:
            if " " in keyword:
                grams: Iterable[str] = _phrases(readings, keyword, unique)
            else:
                grams = self._same_length(keyword, by_length)
            if keyword in unique or process.extractOne(
                keyword, grams, scorer=Levenshtein.normalized_similarity, score_cutoff=self.cutoff
            ):
                return index
        return None

    def _same_length(self, keyword: str, by_length: dict[int, list[str]]) -> list[str]:
        """The words long enough and short enough to be `cutoff` similar to `keyword`."""
        shortest = math.ceil(len(keyword) * self.cutoff)
        longest = math.floor(len(keyword) / self.cutoff) if self.cutoff > 0 else 10**6
        return [w for n in range(shortest, longest + 1) for w in by_length.get(n, ())]


def _phrases(readings: list[list[str]], keyword: str, unique: set[str]) -> set[str]:
    """The runs of as many words as `keyword` has that start with a word like its first one
    or end with a word like its last one (at least half similar): a phrase 80 % similar to
    the keyword has one of them."""
    parts = keyword.split(" ")
    n = len(parts)
    first = _near(parts[0], unique)
    last = _near(parts[-1], unique)
    phrases = set()
    for words in readings:
        starts = {i for i, word in enumerate(words) if word in first}
        starts.update(i - n + 1 for i, word in enumerate(words) if word in last and i >= n - 1)
        phrases.update(" ".join(words[i : i + n]) for i in starts if i + n <= len(words))
    return phrases


def _near(part: str, unique: set[str]) -> set[str]:
    found = process.extract(
        part, unique, scorer=Levenshtein.normalized_similarity, score_cutoff=0.5, limit=None
    )
    return {word for word, _, _ in found}
