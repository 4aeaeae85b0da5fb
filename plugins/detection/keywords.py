"""Keyword matching by Levenshtein similarity per word (and per run of words for phrases), on
every reading of a text: as written, with digits and signs read as letters (`b0mb`, `r@nsom`),
and with letters spelled apart joined (`b o m b`, `k.i.l.l`); a keyword also matches its
letters run across words (`explo sive`, `meth-amphet-amine`) or as the end of a compound
(`pipebomb`), and a keyword of six letters or more as the start of one (`ransomwarekit`)."""

from __future__ import annotations

import bisect
import math
import re
import string
from collections.abc import Iterable

import re2
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from plugins.detection.normalise import normalise

WORD_RE = re.compile(r"\w+")
# ASCII text is split on its punctuation and blanks at C speed; other text by `\w+`.
ASCII_SEPARATORS = str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))
# Digits and signs written for letters (`b0mb`, `expl0s1ve`, `r@nsom`, `k!ll`): a text is also
# read so when a word mixes them with letters (`1` as `i`, and once more as `l`).
LEET = str.maketrans("0134579@$!|", "oieasgtasil")
LEET_ONE_AS_L = str.maketrans("0134579@$!|", "oleasgtasil")  # `ki11`
LEET_RE = re2.compile(r"(?i)[a-z][0-9@$!|]|[0-9@$!|][a-z]")
CUTOFF_TOLERANCE = 1e-4
# Three or more one-letter words in a row (`b o m b`, `k.i.l.l`, `r_a_n_s_o_m`), read joined.
SPELLED_APART_RE = re2.compile(r"\b(?:[^\W_][\W_]{1,3}){2,}[^\W_]\b")
SPELLING_GAPS_RE = re.compile(r"[\W_]+")
# Regexes: the words they spell out (four letters or more, escapes dropped) are read joined
# when split by blanks or signs in a text (`ki ll`, `hus-band`).
LITERAL_WORD_RE = re.compile(r"[a-z]{4,}")
ESCAPE_RE = re.compile(r"\\.")
MAX_GAP = 3
# A keyword starts a compound (`ransomwarekit`) only from this length: shorter ones start
# ordinary words (`bombastic`, `skillet`); any keyword may end one (`pipebomb`) after at least
# COMPOUND_REST letters.
COMPOUND_START_LENGTH = 6
COMPOUND_REST = 3


def words_of(text: str) -> list[str]:
    """The words of a normalised, lower-cased text."""
    if text.isascii():
        return text.translate(ASCII_SEPARATORS).split()
    return WORD_RE.findall(text)


def texts_of(text: str) -> list[str]:
    """The normalised text; with digits and signs read as letters when a word mixes them; with
    letters spelled apart joined when some are (what keywords and regexes are matched on)."""
    text = normalise(text)
    found = [text]
    if LEET_RE.search(text):
        found.append(text.translate(LEET))
        if "1" in text:
            found.append(text.translate(LEET_ONE_AS_L))
    for reading in list(found):
        if SPELLED_APART_RE.search(reading):
            found.append(
                SPELLED_APART_RE.sub(lambda match: SPELLING_GAPS_RE.sub("", match.group()), reading)
            )
    return found


def readings_of(text: str) -> list[list[str]]:
    """The words of each reading of `text` (texts_of), lower-cased."""
    return [words_of(reading.lower()) for reading in texts_of(text)]


class SplitWords:
    """Rejoins, in a text, the words some regexes spell out when blanks or signs split them."""

    def __init__(self, patterns: Iterable[str]) -> None:
        words = sorted(
            {
                word
                for pattern in patterns
                for word in LITERAL_WORD_RE.findall(ESCAPE_RE.sub(" ", pattern.lower()))
            }
        )
        gap = rf"[\W_]{{0,{MAX_GAP}}}"
        spelled = (gap.join(map(re.escape, word)) for word in words)
        self._re = re2.compile(rf"(?i)\b(?:{'|'.join(spelled)})\b") if words else None

    def rejoined(self, text: str) -> str | None:
        """`text` with every split word joined, or None when none is split."""
        if self._re is None:
            return None
        changed = False

        def joined(match: re2._Match) -> str:
            nonlocal changed
            letters = SPELLING_GAPS_RE.sub("", match.group())
            changed = changed or letters != match.group()
            return letters

        text = self._re.sub(joined, text)
        return text if changed else None


class KeywordMatcher:
    """Keywords (one or more words each), compiled once; `first` names the first keyword with
    a word (or a run of as many words) at least `threshold` similar to it."""

    def __init__(self, keywords: Iterable[str], threshold: float) -> None:
        self.keywords: tuple[tuple[int, str], ...] = tuple(
            (index, " ".join(words_of(normalise(keyword).lower())))
            for index, keyword in enumerate(keywords)
        )
        # Each keyword's letters without blanks, for runs across words and compounds.
        letters = sorted({keyword.replace(" ", "") for _, keyword in self.keywords if keyword})
        self.letters = {keyword.replace(" ", ""): index for index, keyword in self.keywords}
        self._letters_re = (
            re2.compile("|".join(re.escape(item) for item in letters)) if letters else None
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
        return self._across_words(readings)

    def _across_words(self, readings: list[list[str]]) -> int | None:
        """The first keyword (in keyword order) whose letters run across whole words, or make
        up the end or (six letters or more) the start of a compound, in a reading with its
        blanks and signs taken out."""
        if self._letters_re is None:
            return None
        found: list[int] = []
        for words in readings:
            starts, offset = [], 0
            for word in words:
                starts.append(offset)
                offset += len(word)
            ends = {*starts[1:], offset}
            joined = "".join(words)
            for match in self._letters_re.finditer(joined):
                start, end = match.span()
                word_start = starts[bisect.bisect_right(starts, start) - 1]
                at_end = end in ends
                if (start == word_start and (at_end or end - start >= COMPOUND_START_LENGTH)) or (
                    at_end and start - word_start >= COMPOUND_REST
                ):
                    found.append(self.letters[match.group()])
        return min(found) if found else None

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
