"""Keyword matching by Levenshtein similarity per word (and per run of words for phrases)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from plugins.detection.normalise import normalise

WORD_RE = re.compile(r"\w+")
# Digits and signs written for letters (`b0mb`, `expl0s1ve`): a word is also tried read so.
LEET = str.maketrans("0134579", "oieasgt")
CUTOFF_TOLERANCE = 1e-4


def words_of(text: str) -> list[str]:
    return WORD_RE.findall(normalise(text).lower())


class KeywordMatcher:
    """Keywords (one or more words each), compiled once; `first` names the first keyword with
    a word (or a run of as many words) at least `threshold` similar to it."""

    def __init__(self, keywords: Iterable[str], threshold: float) -> None:
        self.keywords: tuple[tuple[int, str], ...] = tuple(
            (index, " ".join(words_of(keyword))) for index, keyword in enumerate(keywords)
        )
        # rapidfuzz compares in floating point: 0.8 would refuse `bombs` for `bomb` (exactly
        # 0.8); similarity steps are at least 1/200 (keywords are at most 200 characters).
        self.cutoff = threshold - CUTOFF_TOLERANCE
        self.lengths = sorted({keyword.count(" ") + 1 for _, keyword in self.keywords})

    def __bool__(self) -> bool:
        return bool(self.keywords)

    def first(self, text: str) -> int | None:
        """The index of the first keyword found in `text`, else None."""
        words = words_of(text)
        if not words or not self.keywords:
            return None
        candidates = {n: self._grams(words, n) for n in self.lengths}
        for index, keyword in self.keywords:
            grams = candidates[keyword.count(" ") + 1]
            if keyword in grams or process.extractOne(
                keyword, grams, scorer=Levenshtein.normalized_similarity, score_cutoff=self.cutoff
            ):
                return index
        return None

    @staticmethod
    def _grams(words: list[str], n: int) -> set[str]:
        grams = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
        return grams | {gram.translate(LEET) for gram in grams if not gram.isalpha()}
