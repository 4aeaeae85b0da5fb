"""The shared folding of plugins.detection.normalise: characters dropped, widened and folded,
and spans of the folded text mapped back to the original characters."""

from __future__ import annotations

import itertools

import pytest

from plugins.detection.normalise import folded_char, folded_with_origins, unicode_folded


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ja\u00adne", "jane"),  # soft hyphen
        ("ja\u180ene", "jane"),  # Mongolian vowel separator
        ("ja\u2062ne\u200b", "jane"),  # other format characters
        ("ja\u0301ne", "jane"),  # a combining mark
        ("jáné", "jane"),  # precomposed letters lose their marks
        ("４１１１", "4111"),  # full-width digits
        ("٤١١١ ۴ ४", "4111 4 4"),  # Arabic-Indic, Persian and Devanagari digits
        ("ﬁle ①", "file 1"),  # compatibility forms
        ("한국", "한국"),  # a Hangul syllable is one character still
        ("\u0455\u0435l\u0435\u0441t", "select"),  # look-alikes
        ("plain ascii", "plain ascii"),
    ],
)
def test_unicode_folded(raw, folded):
    assert unicode_folded(raw) == folded


def naive_origins(text: str) -> list[int]:
    return [index for index, char in enumerate(text) for _ in folded_char(char)]


def test_every_folded_character_maps_back_to_the_character_it_comes_from():
    alphabet = "a1\u00ad\u200bﬁ①٣Ｈé\u0301한"
    for size in range(5):
        for chars in itertools.product(alphabet, repeat=size):
            text = "".join(chars)
            folded, origins = folded_with_origins(text)
            assert [origins.index(i) for i in range(len(folded))] == naive_origins(text)


def test_a_span_covers_the_dropped_characters_inside_it_only():
    text = "\u200bja\u00adne\u0301@x.io\u200b!"
    folded, origins = folded_with_origins(text)
    start = folded.index("jane")
    begin, end = origins.span(start, start + len("jane@x.io"))
    assert text[begin:end] == "ja\u00adne\u0301@x.io"
