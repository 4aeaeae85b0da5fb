"""Model allow-lists of gateways, rules and API keys: exact names and `*` globs, validated when
written, compiled once (linear-time engine) for the proxy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import re2
from rest_framework import serializers

MAX_PATTERNS = 200
MAX_PATTERN_LENGTH = 200


class ModelPatternsField(serializers.ListField):
    """A list of model names or `*` globs (e.g. `gpt-4o-mini`, `claude-*`); empty: every model."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Models allowed: names and * globs; empty allows all.")
        super().__init__(
            child=serializers.CharField(max_length=MAX_PATTERN_LENGTH, trim_whitespace=False),
            max_length=MAX_PATTERNS,
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> list[str]:
        patterns = super().to_internal_value(data)
        for pattern in patterns:
            if not pattern or not pattern.isprintable() or pattern != pattern.strip():
                raise serializers.ValidationError(
                    f"{pattern!r}: a model name or glob, printable, without surrounding spaces."
                )
        return list(dict.fromkeys(patterns))


@dataclass(frozen=True)
class ModelPatterns:
    """A compiled allow-list; `allows` is true for every model when it is empty."""

    patterns: tuple[str, ...]
    regex: Any = None  # re2 pattern, None when the list is empty

    def allows(self, model: str) -> bool:
        return self.regex is None or self.regex.fullmatch(model) is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)


ALL_MODELS = ModelPatterns(())


def compile_model_patterns(patterns: Iterable[str]) -> ModelPatterns:
    patterns = tuple(patterns)
    if not patterns:
        return ALL_MODELS
    return ModelPatterns(patterns, re2.compile("(?s:" + "|".join(map(_glob, patterns)) + ")"))


def _glob(pattern: str) -> str:
    return "(?:" + ".*".join(re2.escape(part) for part in pattern.split("*")) + ")"
