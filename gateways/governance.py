"""What gateways, rules and API keys share to govern LLM use: model allow-lists (exact names and
`*` globs, compiled once on a linear-time engine for the proxy) and dollar budgets (an amount
per window), validated when written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import re2
from django.core.exceptions import ValidationError
from rest_framework import serializers

from gateway_project.durations import parse_duration_ms

MAX_PATTERNS = 200
MAX_PATTERN_LENGTH = 200
MONTH = "1mo"  # a calendar month (UTC)
WEEK = "1w"  # a week from Monday 00:00 UTC


def parse_budget_duration(value: str) -> str:
    """`value` normalised: "" (never resets), "1mo" (a calendar month, UTC), "1w" (a week from
    Monday) or a duration such as "1h", "1d", "30s"; ValueError otherwise."""
    text = str(value).strip().lower()
    if text in ("", MONTH, WEEK):
        return text
    parse_duration_ms(text)
    return text


def validate_budget_duration(value: str) -> None:
    """Model validator (the Django admin's forms): a budget window parse_budget_duration takes."""
    try:
        if parse_budget_duration(value) != value:
            raise ValueError(f"write it as {parse_budget_duration(value)!r}")
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def validate_model_patterns(value: object) -> None:
    """Model validator (the Django admin's forms): what ModelPatternsField stores."""
    field = ModelPatternsField()
    try:
        if field.run_validation(value) != value:
            raise serializers.ValidationError("Remove the repeated patterns.")
    except serializers.ValidationError as exc:
        raise ValidationError(f"{exc.detail}") from exc


class BudgetDurationField(serializers.CharField):
    """A budget's window: "1h", "1d", "1w" (from Monday), "1mo" (a calendar month, UTC), any
    duration such as "30m", or "" (the budget never resets)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault(
            "help_text", 'Budget window: "1h", "1d", "1w", "1mo", a duration, or "" (never).'
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        try:
            return parse_budget_duration(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


def budget_field() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        min_value=Decimal(0),
        coerce_to_string=False,
        required=False,
        allow_null=True,
        help_text="Dollars that may be spent per budget_duration; null: no budget.",
    )


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

    def run_validation(self, data: Any = serializers.empty) -> Any:
        return super().run_validation([] if data is None else data)  # an emptied admin field

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
