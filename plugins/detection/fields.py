"""Settings fields shared by the detectors: operator regexes (RE2) and places to check."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from plugins.detection.engine import check_pattern
from plugins.detection.scan import LOCATIONS

ALL = "all"
LOCATION_CHOICES = [*LOCATIONS, ALL]
MAX_PATTERNS = 200


class PatternField(serializers.CharField):
    """An operator's regular expression in RE2 syntax (no backreferences or lookaround, so
    every pattern runs in linear time); refused when RE2 cannot compile it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("help_text", "A regular expression in RE2 syntax (linear time).")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            check_pattern(text)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return text


def locations_field(**kwargs: Any) -> serializers.ListField:
    """`content_to_check`: headers, path_and_query, body, or all (all three)."""
    return serializers.ListField(
        child=serializers.ChoiceField(choices=LOCATION_CHOICES),
        min_length=1,
        max_length=len(LOCATION_CHOICES),
        help_text="Where to look: headers, path_and_query, body, or all (all three).",
        **kwargs,
    )


def expand(locations: list[str]) -> frozenset[str]:
    return frozenset(LOCATIONS) if ALL in locations else frozenset(locations)
